package org.xenhost.daemon;

import org.xenhost.daemon.cli.Main;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * xenhostd as a real separate process (as {@code ./xenhost daemon} runs it), and the CLI in-process against
 * its socket. The child runs on this JVM's class path.
 */
final class DaemonProcess implements AutoCloseable {
    final Path stateDir;
    final Path socket;
    private final List<String> extra;
    private Process process;
    private final StringBuilder log = new StringBuilder();

    /** The result of one CLI invocation. */
    record Cli(int exit, String out, String err) {
    }

    DaemonProcess(Path stateDir, Path socket, String... extra) {
        this.stateDir = stateDir;
        this.socket = socket;
        this.extra = List.of(extra);
    }

    DaemonProcess start() throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-cp", System.getProperty("java.class.path"), Main.class.getName(), "daemon",
                "--state-dir", stateDir.toString(), "--admin-socket", socket.toString()));
        cmd.addAll(extra);
        process = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        CompletableFuture<Boolean> ready = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    synchronized (log) {
                        log.append(line).append('\n');
                    }
                    if (line.startsWith("xenhostd ready")) {
                        ready.complete(true);
                    }
                }
            } catch (IOException ignored) {
                // the process went away
            }
            ready.complete(false);
        }, "xenhostd-log");
        reader.setDaemon(true);
        reader.start();
        try {
            if (!ready.get(60, TimeUnit.SECONDS)) {
                throw new IllegalStateException("xenhostd exited before it was ready:\n" + log());
            }
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            process.destroyForcibly();
            throw new IllegalStateException("xenhostd did not become ready:\n" + log(), e);
        }
        return this;
    }

    String log() {
        synchronized (log) {
            return log.toString();
        }
    }

    long pid() {
        return process.pid();
    }

    /** kill -9: no shutdown hook runs, as after a crash. */
    void kill9() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    /** SIGTERM, and waits for the exit code. */
    int terminate() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new IllegalStateException("xenhostd ignored SIGTERM:\n" + log());
        }
        return process.exitValue();
    }

    Cli cli(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        List<String> all = new ArrayList<>(List.of("-c", socket.toString()));
        all.addAll(List.of(args));
        int exit = Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), all.toArray(String[]::new));
        return new Cli(exit, out.toString(), err.toString());
    }

    /** Runs a CLI command that must succeed and returns its output. */
    String ok(String... args) {
        Cli r = cli(args);
        if (r.exit() != 0) {
            throw new AssertionError("xenhost " + String.join(" ", args) + " exited " + r.exit() + ": " + r.err() + "\ndaemon log:\n" + log());
        }
        return r.out();
    }

    @Override
    public void close() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
    }
}
