package org.xenhost.daemon.demo;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One xenhostd as a child process of the demo, started exactly as an operator would start it
 * ({@code xenhost daemon --hypervisor emulated ...}) from this process's own class path. Its output is kept (the
 * last lines) for error messages; its migration port is the one it picked and logged ({@code --listen
 * 127.0.0.1:0}).
 *
 * <p>Launched through {@code setpriv --pdeathsig TERM} where util-linux has it, so even a demo killed with SIGKILL
 * takes its daemons with it (the parent-death signal fires when the thread that started the child ends, here the
 * demo's main thread, which outlives its children otherwise).
 *
 * <p>States: NEW → STARTED → CLOSED; {@link #close()} from NEW means it never starts (a Ctrl-C that arrived
 * before the process was launched), so no child can outlive the demo.
 */
public final class ChildDaemon implements AutoCloseable {
    /** The daemon's log line naming the port it listens on (Xenhostd logs it once at start). */
    private static final Pattern LISTENER = Pattern.compile("migration listener on (\\S+):(\\d+)");
    private static final int KEEP_LINES = 60;
    /** util-linux's setpriv (Essential on Debian), for the parent-death signal. */
    private static final Path SETPRIV = Path.of("/usr/bin/setpriv");

    private final String name;
    private final List<String> command;
    private final Path socket;
    private final Path stateDir;
    private final Path sysfsRoot;
    private final Deque<String> tail = new ArrayDeque<>();
    private final CompletableFuture<String> endpoint = new CompletableFuture<>();
    private final CompletableFuture<Void> ready = new CompletableFuture<>();
    private Process process;
    /** Keeps {@link #tail}; ends at the end of the daemon's output, i.e. once it has exited. */
    private Thread reader;
    private boolean closed;
    private long startedNanos;
    private volatile long readyNanos;

    /**
     * @param java      the java launcher and its options, e.g. {@code [/usr/lib/jvm/.../java, -Xmx256m]}
     * @param classPath this program's class path (the shaded jar, or the test class path)
     */
    public ChildDaemon(String name, List<String> java, String classPath, Path stateDir, Path socket, Path sysfsRoot,
                       Path tlsDir, String peerPattern) {
        this.name = name;
        this.socket = socket;
        this.stateDir = stateDir;
        this.sysfsRoot = sysfsRoot;
        List<String> cmd = new ArrayList<>();
        if (Files.isExecutable(SETPRIV)) {
            // the kernel sends the daemon SIGTERM should the demo die without cleaning up (SIGKILL, crash):
            // setpriv sets the parent-death signal and execs java, which keeps it
            cmd.addAll(List.of(SETPRIV.toString(), "--pdeathsig", "TERM"));
        }
        cmd.addAll(java);
        cmd.addAll(List.of("-cp", classPath, "org.xenhost.daemon.cli.Main", "daemon",
                "--hypervisor", "emulated", "--sysfs-root", sysfsRoot.toString(), "--state-dir", stateDir.toString(),
                "--admin-socket", socket.toString(), "--listen", "127.0.0.1:0", "--tls-dir", tlsDir.toString(),
                "--tls-name", name, "--allow-peer", peerPattern));
        this.command = List.copyOf(cmd);
    }

    /** Launches the process; {@link #awaitReady} waits for it to serve. */
    public synchronized void start() throws IOException {
        if (closed) {
            throw new IllegalStateException("the demo is shutting down; " + name + " is not started");
        }
        startedNanos = System.nanoTime();
        process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        reader = new Thread(this::readOutput, "xenhostd-" + name + "-output");
        reader.setDaemon(true);
        reader.start();
    }

    private void readOutput() {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                synchronized (tail) {
                    tail.addLast(line);
                    if (tail.size() > KEEP_LINES) {
                        tail.removeFirst();
                    }
                }
                Matcher m = LISTENER.matcher(line);
                if (m.find()) {
                    endpoint.complete(m.group(1) + ":" + m.group(2));
                }
                if (line.startsWith("xenhostd ready")) {
                    readyNanos = System.nanoTime();
                    ready.complete(null);
                }
            }
        } catch (IOException gone) {
            // the process ended; below says so
        }
        IllegalStateException ended = new IllegalStateException(name + "'s xenhostd exited before it was ready:\n" + log());
        ready.completeExceptionally(ended);
        endpoint.completeExceptionally(ended);
    }

    /** Waits until the daemon answers on its admin socket and has said where it listens for migrations. */
    public void awaitReady(Duration timeout) throws InterruptedException {
        try {
            ready.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            endpoint.get(1, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw (RuntimeException) e.getCause();
        } catch (TimeoutException e) {
            throw new IllegalStateException(name + "'s xenhostd was not ready after " + timeout.toSeconds() + " s:\n" + log());
        }
    }

    public String name() {
        return name;
    }

    /** HOST:PORT of its TLS migration listener. */
    public String endpoint() {
        return endpoint.getNow(null);
    }

    /** From launch to serving, in milliseconds (JVM start included). */
    public long readyMillis() {
        return (readyNanos - startedNanos) / 1_000_000;
    }

    public Path socket() {
        return socket;
    }

    public Path stateDir() {
        return stateDir;
    }

    /** The fixture tree it was started over (it works on its own copy of it). */
    public Path sysfsRoot() {
        return sysfsRoot;
    }

    public synchronized long pid() {
        return process == null ? -1 : process.pid();
    }

    /** The last lines the daemon printed (after {@link #close()}: all of them, up to its exit). */
    public String log() {
        synchronized (tail) {
            return String.join("\n", tail);
        }
    }

    /**
     * SIGTERM (xenhostd stops cleanly and exits 0), then SIGKILL if it has not exited within 10 s; returns once the
     * process is gone and its output read to the end, so {@link #log()} has its last words (a daemon that died on
     * its own may have written them an instant before, still in the pipe).
     */
    @Override
    public synchronized void close() throws InterruptedException {
        closed = true;
        if (process == null) {
            return;
        }
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
        reader.join(TimeUnit.SECONDS.toMillis(5));
    }
}
