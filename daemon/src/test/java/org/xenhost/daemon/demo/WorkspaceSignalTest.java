package org.xenhost.daemon.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.xenhost.daemon.JvmShutdown;
import org.junit.jupiter.api.io.TempDir;

/**
 * Ctrl-C while the demo's own thread is failing because of it. CI once saw the demo's thread, refused a shutdown hook
 * ("Shutdown in progress") by the stopping JVM, reach {@link Workspace#close()} before the hook thread ran: the demo
 * then took the failure for its own, dumped the daemons' logs and never said it was interrupted. Here a child JVM does
 * exactly that on purpose, at once, every time.
 */
class WorkspaceSignalTest {

    /** The child: a workspace, then a thread that fails on the shutdown the moment it starts and closes at once. */
    public static final class Child {
        public static void main(String[] args) throws Exception {
            Workspace ws = Workspace.create(msg -> System.err.println("hook: " + msg));
            Files.writeString(ws.dir().resolve("state"), "something the demo made\n");
            System.out.println("dir " + ws.dir());
            System.out.flush();
            while (!JvmShutdown.inProgress()) {
                Thread.sleep(1);
            }
            System.out.println("interrupted " + ws.interrupted());
            System.out.flush();
            ws.close();
            Thread.sleep(Long.MAX_VALUE); // as Main's System.exit would: the JVM halts when the hooks are done
        }
    }


    /**
     * Runs {@code work} on a thread of its own once the JVM is stopping, as the demo's thread runs on after Ctrl-C; a
     * hook of the child's own keeps the JVM up until it is done, as the demo's thread would be mid-step. Prints
     * "ready" first.
     */
    static void afterTheSignal(java.util.concurrent.Callable<?> work) throws InterruptedException {
        Thread demo = new Thread(() -> {
            try {
                while (!JvmShutdown.inProgress()) {
                    Thread.sleep(1);
                }
                work.call();
            } catch (Exception e) {
                System.out.println("failed " + e.getMessage());
                System.out.flush();
            }
        }, "demo");
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                demo.join(TimeUnit.SECONDS.toMillis(60));
            } catch (InterruptedException ignored) {
                // the JVM halts anyway
            }
        }));
        demo.start();
        System.out.println("ready");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }

    /** The child for a Ctrl-C before the workspace exists: the demo's thread creates it only after the signal. */
    public static final class CreateAfterTheSignal {
        public static void main(String[] args) throws Exception {
            afterTheSignal(() -> {
                Workspace ws = Workspace.create(msg -> System.err.println("hook: " + msg));
                System.out.println("created " + ws.dir());
                System.out.flush();
                return null;
            });
        }
    }

    /**
     * The child for a demo thread that is slow to notice: after the signal it still writes its CA into the workspace
     * (as CertificateAuthority.init does, creating the directories) a second later, then reaches close().
     */
    public static final class SlowDemoThread {
        public static void main(String[] args) throws Exception {
            Workspace ws = Workspace.create(msg -> System.err.println("hook: " + msg));
            System.out.println("dir " + ws.dir());
            afterTheSignal(() -> {
                Thread.sleep(1000);
                Files.createDirectories(ws.dir().resolve("pki"));
                Files.writeString(ws.dir().resolve("pki/ca-key.pem"), "a CA key that must not stay behind\n");
                ws.close();
                return null;
            });
        }
    }

    private static Process child(Class<?> main, Path tmpdir) throws IOException {
        return new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Djava.io.tmpdir=" + tmpdir, "-cp", System.getProperty("java.class.path"), main.getName()).start();
    }

    private static void sigint(Process p) throws Exception {
        Process kill = new ProcessBuilder("sh", "-c", "kill -INT " + p.pid()).inheritIO().start();
        assertEquals(0, kill.waitFor());
    }

    @TempDir
    Path tmp;

    /** Ctrl-C before the workspace exists: it refuses to start, says so, and leaves no directory behind. */
    @Test
    void aCtrlCBeforeTheWorkspaceExistsMakesNothingAndSaysSo() throws Exception {
        Process p = child(CreateAfterTheSignal.class, tmp);
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> readAll(p));
            assertEquals("ready", out.readLine(), err.getNow(""));
            sigint(p);
            assertEquals("failed interrupted before the demo started: nothing was made", out.readLine(), err.getNow(""));
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child did not exit");
            try (var left = Files.list(tmp)) {
                assertEquals(List.of(), left.toList(), "left in the temp directory");
            }
        } finally {
            p.destroyForcibly();
        }
    }

    /** The hook deletes the workspace only once the demo's thread is done with it (or after a long bound). */
    @Test
    void whatTheDemoThreadWritesAfterTheSignalIsRemovedToo() throws Exception {
        Process p = child(SlowDemoThread.class, tmp);
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> readAll(p));
            String first = out.readLine();
            assertTrue(first != null && first.startsWith("dir "), "child's first line: " + first + "\n" + err.getNow(""));
            Path dir = Path.of(first.substring(4));
            assertEquals("ready", out.readLine(), err.getNow(""));
            sigint(p);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child did not exit");
            assertEquals(130, p.exitValue());
            String said = err.get(10, TimeUnit.SECONDS);
            assertTrue(said.contains("hook: interrupted: stopping the demo's daemons and removing " + dir), said);
            assertFalse(Files.exists(dir), "left behind: " + dir + (Files.exists(dir.resolve("pki/ca-key.pem")) ? " with a CA key" : ""));
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void aFailureCausedByCtrlCIsSeenAsTheInterruptionAndTheHookStillSaysSo() throws Exception {
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Child.class.getName()).start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> readAll(p));
            String first = out.readLine();
            assertTrue(first != null && first.startsWith("dir "), "child's first line: " + first + "\n" + err.getNow(""));
            Path dir = Path.of(first.substring(4));
            assertTrue(Files.isDirectory(dir));
            Process kill = new ProcessBuilder("sh", "-c", "kill -INT " + p.pid()).inheritIO().start();
            assertEquals(0, kill.waitFor());
            assertEquals("interrupted true", out.readLine(), "the failing thread knows the shutdown is the cause");
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child did not exit");
            assertEquals(130, p.exitValue());
            String said = err.get(10, TimeUnit.SECONDS);
            assertTrue(said.contains("hook: interrupted: stopping the demo's daemons and removing " + dir), said);
            assertFalse(Files.exists(dir), "workspace left behind: " + dir);
        } finally {
            p.destroyForcibly();
        }
    }

    private static String readAll(Process p) {
        try {
            return new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(stderr unreadable: " + e.getMessage() + ")";
        }
    }
}
