package org.xenhost.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.xenhost.transport.pki.CertificateAuthority;
import org.xenhost.transport.pki.SubjectAltName;
import org.xenhost.transport.pki.Validity;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Migration between two xenhostd processes on the emulated hypervisor, over their TLS listeners on loopback:
 * the acceptance of the migration issue (success, faults, concurrency). Every fault must end with exactly one
 * running copy of the guest.
 */
@Timeout(300)
class MigrationProcessTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    /**
     * Two daemons, a and b, with certificates from one CA, each listening on its own loopback port, which the kernel
     * picks as the daemon binds it (a port chosen beforehand could be taken by then) and which a restart keeps.
     */
    private final class Pair implements AutoCloseable {
        final DaemonProcess a;
        final DaemonProcess b;

        Pair(String bMemoryMiB, String bCertName) throws IOException {
            Path pki = tmp.resolve("pki");
            if (!Files.exists(pki.resolve("ca-cert.pem"))) {
                CertificateAuthority ca = CertificateAuthority.init(pki, "test-ca", Validity.days(2));
                for (String h : List.of("host-a", "host-b", "host-wrong")) {
                    ca.issue(h, List.of(SubjectAltName.parse(h.equals("host-wrong") ? "192.0.2.1" : "127.0.0.1")), Validity.days(1));
                }
            }
            a = daemon("a", "host-a", null);
            b = daemon("b", bCertName, bMemoryMiB);
        }

        private DaemonProcess daemon(String name, String cert, String memory) {
            List<String> args = new ArrayList<>(List.of("--listen", "127.0.0.1:0", "--tls-dir", tmp.resolve("pki").toString(),
                    "--tls-name", cert, "--allow-peer", "CN=host-*"));
            if (memory != null) {
                args.addAll(List.of("--emulated-memory", memory));
            }
            return new DaemonProcess(tmp.resolve(name + "/state"), tmp.resolve(name + "/xenhostd.sock"), args.toArray(String[]::new));
        }

        String destB() {
            return "127.0.0.1:" + b.migrationPort();
        }

        @Override
        public void close() throws InterruptedException {
            a.close();
            b.close();
        }
    }

    private Path cfg(String name, int memoryMiB, String dirtyRate) throws IOException {
        Path f = tmp.resolve(name + ".cfg");
        Files.writeString(f, "name = \"" + name + "\"\ntype = \"pvh\"\nmemory = " + memoryMiB + "\nvcpus = 2\n"
                + (dirtyRate == null ? "" : "emulated_dirty_rate = \"" + dirtyRate + "\"\n"));
        return f;
    }



    private static BooleanSupplier stateIs(DaemonProcess d, String name, String want) {
        return () -> {
            try {
                return java.util.Objects.equals(d.domainState(name), want);
            } catch (IOException | RuntimeException | AssertionError e) {
                return false;
            }
        };
    }

    /** Bytes the source has sent so far, from domjobinfo (0 when none yet). */
    private static long sent(DaemonProcess d, String dom) {
        DaemonProcess.Cli r = d.cli("domjobinfo", dom, "--json");
        if (r.exit() != 0) {
            return 0;
        }
        try {
            return JSON.readTree(r.out()).path("migration").path("bytes").asLong(0);
        } catch (IOException e) {
            return 0;
        }
    }

    /** Exactly one copy runs: on {@code runs}, and {@code other} has no copy left at all. */
    private static void exactlyOneCopy(DaemonProcess runs, DaemonProcess other, String name) throws Exception {
        DaemonProcess.await(name + " running on one side and gone from the other", () -> {
            try {
                return "running".equals(runs.domainState(name)) && other.domainState(name) == null;
            } catch (IOException | RuntimeException | AssertionError e) {
                return false;
            }
        });
    }

    @Test
    void liveDebugMigrationOf512MiBGuestDirtying20MiBps() throws Exception {
        try (Pair p = new Pair(null, "host-b")) {
            p.a.start();
            p.b.start();
            p.a.ok("create", cfg("web", 512, "20M").toString());
            Thread.sleep(1000); // let the workload touch memory, so there is something to copy and re-copy
            String out = p.a.ok("migrate", "web", p.destB(), "--debug", "--json");
            List<JsonNode> events = new ArrayList<>();
            for (String line : out.split("\n")) {
                events.add(JSON.readTree(line));
            }
            JsonNode last = events.get(events.size() - 1);
            assertEquals("completed", last.path("event").asText(), out);
            assertTrue(last.path("downtimeMs").asLong(-1) >= 0, "downtime reported: " + last);
            assertTrue(last.path("bytes").asLong() > 0 && last.path("iteration").asInt() >= 1, last.toString());
            assertTrue(last.path("transferRateMiBps").asDouble() > 0, "a finished migration reports its average rate: " + last);
            long bytes = 0;
            long elapsed = 0;
            for (JsonNode e : events) {
                assertTrue(e.path("bytes").asLong() >= bytes, "bytes never go back: " + out);
                assertTrue(e.path("elapsedMs").asLong() >= elapsed, "time never goes back: " + out);
                bytes = e.path("bytes").asLong();
                elapsed = e.path("elapsedMs").asLong();
            }
            // the destination restored with VERIFY (every page compared) and runs the guest; the source has none
            exactlyOneCopy(p.b, p.a, "web");
            p.b.awaitLog("arrived from");
        }
    }

    @Test
    void destinationOutOfMemoryRefusesEarly() throws Exception {
        try (Pair p = new Pair("2304", "host-b")) { // 256 MiB free beside dom0's 2 GiB
            p.a.start();
            p.b.start();
            p.a.ok("create", cfg("big", 512, null).toString());
            DaemonProcess.Cli r = p.a.cli("migrate", "big", p.destB());
            assertEquals(1, r.exit(), r.err());
            assertTrue(r.err().contains("needs 512 MiB") && r.err().contains("free"), r.err());
            assertEquals("running", p.a.domainState("big"));
            assertNull(p.b.domainState("big"));
        }
    }

    @Test
    void wrongDestinationCertificateIsRefusedAndTheGuestStays() throws Exception {
        // b presents a valid certificate of the CA that does not name 127.0.0.1
        try (Pair p = new Pair(null, "host-wrong")) {
            p.a.start();
            p.b.start();
            p.a.ok("create", cfg("db", 32, null).toString());
            long[] before = p.a.fdsAndThreads();
            DaemonProcess.Cli r = p.a.cli("migrate", "db", p.destB());
            assertEquals(1, r.exit(), r.err());
            assertTrue(r.err().contains("127.0.0.1"), r.err());
            assertEquals("running", p.a.domainState("db"));
            assertNull(p.b.domainState("db"));
            long[] after = p.a.fdsAndThreads();
            assertTrue(after[0] <= before[0] + 2, "no leaked descriptors: " + before[0] + " -> " + after[0]);
        }
    }

    @Test
    void killOfTheDestinationDuringTheStreamLeavesTheSourceRunning() throws Exception {
        try (Pair p = new Pair(null, "host-b")) {
            p.a.start();
            p.b.start();
            p.a.ok("create", cfg("web", 256, "64M").toString());
            Thread.sleep(1500);
            p.a.ok("list"); // warm the admin path before counting
            long[] before = p.a.fdsAndThreads();
            CompletableFuture<DaemonProcess.Cli> m = CompletableFuture.supplyAsync(() -> p.a.cli("migrate", "web", p.destB(), "--bandwidth", "16"));
            DaemonProcess.await("the stream under way", () -> sent(p.a, "web") > (8 << 20));
            p.b.kill9();
            DaemonProcess.Cli r = m.get(60, TimeUnit.SECONDS);
            assertEquals(1, r.exit(), r.out());
            assertEquals("running", p.a.domainState("web"));
            // the restarted destination destroys the half-received copy it journaled
            p.b.start();
            exactlyOneCopy(p.a, p.b, "web");
            // admin connection threads idle out after 30 s; anything the migration leaked would stay
            DaemonProcess.await("the source's descriptors and threads back to their level before the migration", () -> {
                try {
                    long[] after = p.a.fdsAndThreads();
                    return after[0] <= before[0] + 1 && after[1] <= before[1] + 1;
                } catch (IOException e) {
                    return false;
                }
            });
        }
    }

    /**
     * {@code xenhost domjobabort} of a migration under way (the operator's abort, as Ctrl-C on {@code migrate}): the
     * migrate command ends non-zero saying it was aborted, the guest runs on at the source, the destination keeps no
     * copy, and both journals record the end (ROLLED_BACK at the source, DESTROYED at the destination).
     */
    @Test
    void domjobabortDuringTheStreamKeepsTheGuestAtTheSource() throws Exception {
        try (Pair p = new Pair(null, "host-b")) {
            p.a.start();
            p.b.start();
            p.a.ok("create", cfg("shop", 256, "64M").toString());
            CompletableFuture<DaemonProcess.Cli> m = CompletableFuture.supplyAsync(
                    () -> p.a.cli("migrate", "shop", p.destB(), "--bandwidth", "16", "--json"));
            DaemonProcess.await("the stream under way", () -> sent(p.a, "shop") > (8 << 20));
            assertEquals("Job on shop aborted", p.a.ok("domjobabort", "shop").trim());
            DaemonProcess.Cli r = m.get(60, TimeUnit.SECONDS);
            assertEquals(1, r.exit(), r.out());
            String[] lines = r.out().strip().split("\n");
            JsonNode last = JSON.readTree(lines[lines.length - 1]);
            assertEquals("failed", last.path("event").asText(), r.out());
            assertTrue(last.path("message").asText().contains("aborted"), last.toString());
            assertEquals("running", p.a.domainState("shop"));
            exactlyOneCopy(p.a, p.b, "shop");
            assertTrue(journalPhases(tmp.resolve("a/state")).contains("rolled-back"), "source journal: " + journalPhases(tmp.resolve("a/state")));
            DaemonProcess.await("the destination journals its copy destroyed", () -> journalPhases(tmp.resolve("b/state")).contains("destroyed"));
        }
    }

    /** The phases the migration journals in a daemon's state directory record, as their JSON spells them. */
    private static String journalPhases(Path state) {
        StringBuilder all = new StringBuilder();
        try (var files = Files.walk(state)) {
            for (Path f : (Iterable<Path>) files.filter(x -> x.toString().contains("migration") && x.toString().endsWith(".json"))::iterator) {
                all.append(Files.readString(f)).append('\n');
            }
        } catch (IOException e) {
            return "";
        }
        return all.toString().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }

    @Test
    void killOfTheSourceDuringTheStreamThenRestartKeepsTheGuestAtTheSource() throws Exception {
        try (Pair p = new Pair(null, "host-b")) {
            p.a.start();
            p.b.start();
            p.a.ok("create", cfg("web", 256, "64M").toString());
            Thread.sleep(1500);
            CompletableFuture.runAsync(() -> p.a.cli("migrate", "web", p.destB(), "--bandwidth", "16"));
            DaemonProcess.await("the stream under way", () -> sent(p.a, "web") > (8 << 20));
            p.a.kill9();
            p.a.start();
            exactlyOneCopy(p.a, p.b, "web");
            // settled in the background after the restart: the log line may follow the state polled above
            p.a.awaitLog("resumed on the source");
        }
    }

    /** A crash (halt, as kill -9) of either daemon right after each step of the handshake, then restart: one copy, never two. */
    @Test
    void crashAtEachHandshakeStepThenRestart() throws Exception {
        String[][] steps = {
                {"source:begin", "a"},
                {"source:prepared", "a"},
                {"source:migrated-away", "b"},
                {"source:go-sent", "b"},
                {"destination:received", "a"},
                {"destination:unpaused", "b"},
        };
        for (String[] step : steps) {
            try (Pair p = new Pair(null, "host-b")) {
                DaemonProcess crashing = step[0].startsWith("source") ? p.a : p.b;
                crashing.env("XENHOST_MIGRATION_HALT_AT", step[0]);
                p.a.start();
                p.b.start();
                String name = "g" + step[0].replaceAll("[^a-z]", "");
                p.a.ok("create", cfg(name, 32, "4M").toString());
                DaemonProcess.Cli r = p.a.cli("migrate", name, p.destB());
                assertTrue(crashing.awaitExit(30), "halted at " + step[0]);
                if (crashing == p.a) {
                    assertNotEquals(0, r.exit(), step[0]);
                }
                crashing.env("XENHOST_MIGRATION_HALT_AT", null).start();
                if (step[1].equals("a")) {
                    exactlyOneCopy(p.a, p.b, name);
                } else {
                    exactlyOneCopy(p.b, p.a, name);
                }
            }
        }
    }

    @Test
    void fourConcurrentMigrationsWhileListAnswers() throws Exception {
        try (Pair p = new Pair(null, "host-b")) {
            p.a.start();
            p.b.start();
            List<CompletableFuture<DaemonProcess.Cli>> runs = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                p.a.ok("create", cfg("vm" + i, 64, "8M").toString());
            }
            Thread.sleep(500);
            for (int i = 0; i < 4; i++) {
                String n = "vm" + i;
                runs.add(CompletableFuture.supplyAsync(() -> p.a.cli("migrate", n, p.destB(), "--bandwidth", "32")));
            }
            int lists = 0;
            while (!runs.stream().allMatch(CompletableFuture::isDone)) {
                p.a.ok("list");
                p.b.ok("list");
                lists++;
                Thread.sleep(50);
            }
            for (CompletableFuture<DaemonProcess.Cli> r : runs) {
                assertEquals(0, r.get().exit(), r.get().err());
            }
            assertTrue(lists > 0);
            for (int i = 0; i < 4; i++) {
                exactlyOneCopy(p.b, p.a, "vm" + i);
            }
        }
    }
}
