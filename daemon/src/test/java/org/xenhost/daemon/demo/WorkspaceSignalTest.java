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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

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
            while (true) {
                try {
                    Thread t = new Thread(() -> { });
                    Runtime.getRuntime().addShutdownHook(t);
                    Runtime.getRuntime().removeShutdownHook(t);
                } catch (IllegalStateException shuttingDown) {
                    System.out.println("interrupted " + ws.interrupted());
                    System.out.flush();
                    ws.close();
                    Thread.sleep(Long.MAX_VALUE); // as Main's System.exit would: the JVM halts when the hooks are done
                }
                Thread.sleep(1);
            }
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
