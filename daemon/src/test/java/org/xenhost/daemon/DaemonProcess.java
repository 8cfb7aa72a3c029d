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
    private final java.util.Map<String, String> env = new java.util.HashMap<>();
    private final List<String> prefix = new ArrayList<>();
    private Process process;
    /** Copies the process's output into {@link #log}; ends at end of file, i.e. once the process has exited. */
    private Thread reader;
    private final StringBuilder log = new StringBuilder();
    /** The migration port a {@code --listen HOST:0} got at the first start; 0 before. */
    private int boundPort;

    /** The result of one CLI invocation. */
    record Cli(int exit, String out, String err) {
    }

    DaemonProcess(Path stateDir, Path socket, String... extra) {
        this.stateDir = stateDir;
        this.socket = socket;
        this.extra = List.of(extra);
    }

    DaemonProcess start() throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-cp", System.getProperty("java.class.path"), Main.class.getName(), "daemon",
                "--state-dir", stateDir.toString(), "--admin-socket", socket.toString()));
        cmd.addAll(listenAgainOnTheSamePort(extra));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().putAll(env);
        process = pb.start();
        CompletableFuture<Boolean> ready = new CompletableFuture<>();
        reader = new Thread(() -> {
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
        if (boundPort == 0 && listensOnAnyPort()) {
            boundPort = migrationPort();
        }
        return this;
    }

    private boolean listensOnAnyPort() {
        int i = extra.indexOf("--listen");
        return i >= 0 && extra.get(i + 1).endsWith(":0");
    }

    /**
     * A restarted daemon keeps the port the kernel gave it at its first start, as a real host keeps its address:
     * its peers' journals name it.
     */
    private List<String> listenAgainOnTheSamePort(List<String> args) {
        if (boundPort == 0 || !listensOnAnyPort()) {
            return args;
        }
        List<String> again = new ArrayList<>(args);
        int i = again.indexOf("--listen");
        String any = again.get(i + 1);
        again.set(i + 1, any.substring(0, any.length() - 1) + boundPort);
        return again;
    }

    /** Runs the daemon inside a network namespace ({@code ip netns exec NS}, which execs: the pid stays the daemon's). */
    DaemonProcess inNetns(String ns) {
        prefix.clear();
        prefix.addAll(List.of("ip", "netns", "exec", ns));
        return this;
    }

    /** Sets an environment variable for the next {@link #start()} (e.g. a crash point). */
    DaemonProcess env(String key, String value) {
        if (value == null) {
            env.remove(key);
        } else {
            env.put(key, value);
        }
        return this;
    }

    boolean alive() {
        return process != null && process.isAlive();
    }

    /**
     * Waits for the process to exit on its own (e.g. at a crash point); false if it is still running. Once it has
     * exited, {@link #log()} holds all it wrote: its last words may still be in the pipe when waitFor returns.
     */
    boolean awaitExit(long seconds) throws InterruptedException {
        if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
            return false;
        }
        drainLog();
        return true;
    }

    /** After the exit: lets the reader copy what is left in the pipe, up to its end of file. */
    private void drainLog() throws InterruptedException {
        reader.join(TimeUnit.SECONDS.toMillis(30));
        if (reader.isAlive()) {
            throw new IllegalStateException("xenhostd exited but its output did not end (a child holding it?):\n" + log());
        }
    }

    /**
     * Waits until the daemon has logged {@code text}: what a daemon logs in the background (a migration settled
     * after a restart) may come a moment after the state a test polls for, and reaches this JVM through a pipe.
     */
    void awaitLog(String text) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!log().contains(text)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("xenhostd did not log '" + text + "' within 60 s:\n" + log());
            }
            Thread.sleep(20);
        }
    }

    /** Open file descriptors and threads of the daemon, from /proc. */
    long[] fdsAndThreads() throws IOException {
        long fds;
        try (var s = java.nio.file.Files.list(Path.of("/proc", String.valueOf(process.pid()), "fd"))) {
            fds = s.count();
        }
        long threads = java.nio.file.Files.readAllLines(Path.of("/proc", String.valueOf(process.pid()), "status")).stream()
                .filter(l -> l.startsWith("Threads:")).mapToLong(l -> Long.parseLong(l.substring(8).trim())).findFirst().orElse(-1);
        return new long[] {fds, threads};
    }

    String log() {
        synchronized (log) {
            return log.toString();
        }
    }

    /**
     * The port of its TLS migration listener, as it logged it at start (pass {@code --listen 127.0.0.1:0} and the
     * kernel picks a free one while binding: no port chosen beforehand that someone else could take meanwhile).
     */
    int migrationPort() {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("migration listener on \\S+?:(\\d+) ").matcher(log());
        if (!m.find()) {
            throw new IllegalStateException("xenhostd logged no migration listener:\n" + log());
        }
        return Integer.parseInt(m.group(1));
    }

    /** The exit status, once it has exited. */
    int exitValue() {
        return process.exitValue();
    }

    long pid() {
        return process.pid();
    }

    /** kill -9: no shutdown hook runs, as after a crash. */
    void kill9() throws InterruptedException {
        process.destroyForcibly();
        if (process.waitFor(30, TimeUnit.SECONDS)) {
            drainLog();
        }
    }

    /** SIGTERM, and waits for the exit code. */
    int terminate() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new IllegalStateException("xenhostd ignored SIGTERM:\n" + log());
        }
        drainLog();
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

    /**
     * The domain's state on this daemon ("running", "paused", ...); for a migration's copy ("NAME--incoming") its
     * name and state ("NAME--incoming:paused"); null if this daemon does not have it.
     */
    String domainState(String name) throws IOException {
        for (com.fasterxml.jackson.databind.JsonNode n : JSON.readTree(ok("list", "--all", "--json"))) {
            String listed = n.path("name").asText();
            if (listed.equals(name)) {
                return n.path("state").asText();
            }
            if (listed.startsWith(name + "--")) {
                return listed + ":" + n.path("state").asText();
            }
        }
        return null;
    }

    /** Polls {@code cond} every 50 ms until it holds; fails after 90 s naming {@code what}. */
    static void await(String what, java.util.function.BooleanSupplier cond) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(50);
        }
    }

    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

    @Override
    public void close() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
    }
}
