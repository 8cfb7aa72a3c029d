package org.xenhost.daemon;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.xenhost.daemon.cli.Main;
import org.xenhost.transport.pki.CertificateAuthority;
import org.xenhost.transport.pki.SubjectAltName;
import org.xenhost.transport.pki.Validity;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Ctrl-C on {@code xenhost migrate} as an operator presses it: SIGINT to a separate JVM running the CLI against real
 * daemons. Whenever the signal comes, the operator is told what it did: before the migration was asked for, nothing
 * is sent; during the stream, the abort is asked for and its outcome reported.
 */
@Timeout(300)
class MigrateCtrlCTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    /**
     * The child for the early signal: a thread that waits until the JVM is stopping (SIGINT came) and only then runs
     * {@code xenhost migrate}, i.e. the signal arrives before the command could arm its hook, every time. A hook of
     * the child's own keeps the JVM up until the command has returned, as a command mid-call would be.
     */
    public static final class EarlySignal {
        public static void main(String[] args) throws Exception {
            Thread command = new Thread(() -> {
                while (!JvmShutdown.inProgress()) {
                    try {
                        Thread.sleep(1);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                int rc = Main.execute(new PrintWriter(System.out, true), new PrintWriter(System.err, true),
                        "-c", args[0], "migrate", args[1], args[2]);
                System.out.println("exit " + rc);
                System.out.flush();
            }, "xenhost-migrate");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    command.join(TimeUnit.SECONDS.toMillis(60));
                } catch (InterruptedException ignored) {
                    // the JVM halts anyway
                }
            }));
            command.start();
            System.out.println("ready");
            System.out.flush();
            Thread.sleep(Long.MAX_VALUE);
        }

    }

    private Path pki() throws IOException {
        Path pki = tmp.resolve("pki");
        CertificateAuthority ca = CertificateAuthority.init(pki, "test-ca", Validity.days(2));
        for (String h : List.of("host-a", "host-b")) {
            ca.issue(h, List.of(SubjectAltName.parse("127.0.0.1")), Validity.days(1));
        }
        return pki;
    }

    private DaemonProcess daemon(String name, Path pki) {
        return new DaemonProcess(tmp.resolve(name + "/state"), tmp.resolve(name + "/xenhostd.sock"), "--listen", "127.0.0.1:0",
                "--tls-dir", pki.toString(), "--tls-name", "host-" + name, "--allow-peer", "CN=host-*");
    }

    private Path cfg(String name, int memoryMiB, String dirtyRate) throws IOException {
        Path f = tmp.resolve(name + ".cfg");
        Files.writeString(f, "name = \"" + name + "\"\ntype = \"pvh\"\nmemory = " + memoryMiB + "\nvcpus = 2\n"
                + "emulated_dirty_rate = \"" + dirtyRate + "\"\n");
        return f;
    }

    private static Process java(String... mainAndArgs) throws IOException {
        List<String> cmd = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx128m", "-cp", System.getProperty("java.class.path")));
        cmd.addAll(List.of(mainAndArgs));
        return new ProcessBuilder(cmd).start();
    }

    private static String readAll(java.io.InputStream in) {
        try {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(unreadable: " + e.getMessage() + ")";
        }
    }

    /** Ctrl-C as at a terminal: SIGINT, from the shell's builtin kill. */
    private static void sigint(Process p) throws Exception {
        Process kill = new ProcessBuilder("sh", "-c", "kill -INT " + p.pid()).inheritIO().start();
        assertEquals(0, kill.waitFor());
    }



    /**
     * CI's case: SIGINT a moment before {@code migrate} arms its hook. The JVM refused the hook ("Shutdown in
     * progress"), which is all the operator saw, while the migration had already been asked of the daemon and ran
     * on, un-aborted. Now nothing is asked, and the operator is told so.
     */
    @Test
    void ctrlCBeforeTheMigrationStartsAsksNothingOfTheDaemonAndSaysSo() throws Exception {
        try (DaemonProcess a = daemon("a", pki()).start()) {
            a.ok("create", cfg("web", 32, "4M").toString());
            // a destination nobody listens on: nothing may reach it anyway
            Process p = java(EarlySignal.class.getName(), a.socket.toString(), "web", "127.0.0.1:9");
            try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()));
                assertEquals("ready", out.readLine(), err.getNow(""));
                sigint(p);
                assertEquals("exit " + Main.EXIT_FAILURE, out.readLine(), err.getNow(""));
                assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the child did not exit");
                assertEquals(130, p.exitValue(), "the JVM's exit status after SIGINT");
                String said = err.get(10, TimeUnit.SECONDS);
                assertTrue(said.contains("xenhost: interrupted before the migration of web started: nothing was asked of xenhostd; "
                        + "web keeps running here"), said);
                assertFalse(said.contains("Shutdown in progress"), said);
            } finally {
                p.destroyForcibly();
            }
            assertEquals("running", a.domainState("web"));
            assertEquals("none", JSON.readTree(a.ok("domjobinfo", "web", "--json")).path("state").asText());
            Path journals = a.stateDir.resolve("migrations");
            try (var files = Files.exists(journals) ? Files.list(journals) : java.util.stream.Stream.<Path>empty()) {
                assertEquals(List.of(), files.toList(), "no migration was begun\n" + a.log());
            }
        }
    }

    /** SIGINT while the stream runs: the abort is asked for and the outcome reported; the guest stays at the source. */
    @Test
    void ctrlCDuringTheStreamAbortsTheMigrationAndSaysSo() throws Exception {
        Path pki = pki();
        try (DaemonProcess a = daemon("a", pki).start(); DaemonProcess b = daemon("b", pki).start()) {
            a.ok("create", cfg("shop", 256, "64M").toString());
            String dest = "127.0.0.1:" + b.migrationPort();
            Process p = java(Main.class.getName(), "-c", a.socket.toString(), "migrate", "shop", dest, "--bandwidth", "16");
            try {
                CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> readAll(p.getInputStream()));
                CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()));
                DaemonProcess.await("the stream under way", () -> {
                    DaemonProcess.Cli r = a.cli("domjobinfo", "shop", "--json");
                    try {
                        return r.exit() == 0 && JSON.readTree(r.out()).path("migration").path("bytes").asLong() > (8 << 20);
                    } catch (IOException e) {
                        return false;
                    }
                });
                sigint(p);
                assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the child did not exit");
                String said = err.get(10, TimeUnit.SECONDS);
                assertEquals(130, p.exitValue(), said + out.getNow(""));
                assertTrue(said.contains("xenhost: interrupted: asking xenhostd to abort the migration of shop to " + dest), said);
                assertTrue(said.contains("xenhost: abort requested; the migration of shop ended: ") && said.contains("aborted"), said);
            } finally {
                p.destroyForcibly();
            }
            assertEquals("running", a.domainState("shop"));
            DaemonProcess.await("no copy of shop left on b", () -> {
                try {
                    return b.domainState("shop") == null;
                } catch (IOException | RuntimeException | AssertionError e) {
                    return false;
                }
            });
        }
    }
}
