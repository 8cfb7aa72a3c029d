package org.xenhost.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * xenhostd as a separate process with the emulated hypervisor, driven by the CLI over its socket: the
 * acceptance of the daemon issue. Each test has its own state directory and socket.
 */
class DaemonProcessTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private DaemonProcess daemon() {
        return new DaemonProcess(tmp.resolve("state"), tmp.resolve("run/xenhostd.sock"));
    }

    private Path cfg(String name, int memoryMiB, String dirtyRate) throws Exception {
        Path f = tmp.resolve(name + ".cfg");
        Files.writeString(f, "name = \"" + name + "\"\ntype = \"pvh\"\nmemory = " + memoryMiB + "\nvcpus = 2\n"
                + (dirtyRate == null ? "" : "emulated_dirty_rate = \"" + dirtyRate + "\"\n"));
        return f;
    }

    private static JsonNode domain(DaemonProcess d, String name) throws Exception {
        for (JsonNode n : JSON.readTree(d.ok("list", "--all", "--json"))) {
            if (n.path("name").asText().equals(name)) {
                return n;
            }
        }
        return null;
    }

    private static void await(String what, BooleanSupplier cond) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(20);
        }
    }

    @Test
    void lifecycleThroughTheSocketAndSaveFilesPassXensVerifier() throws Exception {
        try (DaemonProcess d = daemon().start()) {
            assertTrue(d.ok("define", cfg("web", 64, "4M").toString()).startsWith("Domain web defined"));
            assertTrue(d.ok("create", "web").contains("started (domid "));
            assertEquals("running", domain(d, "web").path("state").asText());
            d.ok("pause", "web");
            assertEquals("paused", domain(d, "web").path("state").asText());
            d.ok("resume", "web");
            JsonNode info = JSON.readTree(d.ok("dominfo", "web", "--json"));
            assertEquals(64, info.path("summary").path("memoryMiB").asInt());
            assertTrue(d.ok("dumpconfig", "web").contains("emulated_dirty_rate = \"4M\""));

            Path save = tmp.resolve("web.save");
            JsonNode saved = JSON.readTree(d.ok("save", "web", save.toString(), "--json"));
            assertEquals(Files.size(save), saved.path("bytes").asLong());
            assertEquals("shut-off", domain(d, "web").path("state").asText());
            String verdict = XenStreamVerifier.verify("xl", save);
            assertTrue(verdict.startsWith("exit 0"), verdict);

            assertTrue(d.ok("restore", save.toString()).contains("restored"));
            assertEquals("running", domain(d, "web").path("state").asText());
            d.ok("destroy", "web");
            assertEquals("shut-off", domain(d, "web").path("state").asText());
            d.ok("undefine", "web");
            assertEquals(null, domain(d, "web"));
            assertEquals(0, d.terminate(), "SIGTERM is a clean stop");
        }
    }

    @Test
    void killNineDuringASaveAndWhileDomainsRunLosesNothing() throws Exception {
        Path state;
        try (DaemonProcess d = daemon().start()) {
            state = d.stateDir;
            d.ok("define", cfg("small", 32, null).toString());
            d.ok("create", "small");
            d.ok("define", cfg("big", 256, "64M").toString());
            d.ok("create", "big");
            // the save streams into a named pipe the test reads only 1 MiB of: the guest is then stopped mid-save,
            // exactly where a crash hurts most
            Path fifo = mkfifo("big.pipe");
            CompletableFuture<DaemonProcess.Cli> save = CompletableFuture.supplyAsync(() -> d.cli("save", "big", fifo.toString()));
            try (java.io.InputStream in = Files.newInputStream(fifo)) {
                assertEquals(1 << 20, in.readNBytes(1 << 20).length);
                assertEquals("save", domainQuiet(d, "big", "job"));
                d.kill9();
            }
            DaemonProcess.Cli cut = save.get(60, TimeUnit.SECONDS);
            assertNotEquals(0, cut.exit(), "the client sees the save fail");
        }
        try (DaemonProcess again = new DaemonProcess(state, tmp.resolve("run/xenhostd.sock")).start()) {
            JsonNode big = domain(again, "big");
            JsonNode small = domain(again, "small");
            assertEquals("running", small.path("state").asText(), again.log());
            assertEquals("running", big.path("state").asText(), "the interrupted save gave the guest back: " + again.log());
            JsonNode job = JSON.readTree(again.ok("domjobinfo", "big", "--json"));
            assertEquals("interrupted", job.path("state").asText());
            assertTrue(job.path("phase").asText().startsWith("save"), job.toString());
            long named = 0;
            for (JsonNode n : JSON.readTree(again.ok("list", "--all", "--json"))) {
                named += n.path("name").asText().equals("big") ? 1 : 0;
            }
            assertEquals(1, named, "no duplicate");
            // the guest still works: it can be saved now
            again.ok("destroy", "small");
            assertTrue(again.log().contains("interrupted"), again.log());
        }
    }

    private static String domainQuiet(DaemonProcess d, String name, String field) {
        try {
            JsonNode n = domain(d, name);
            return n == null ? null : n.path(field).asText(null);
        } catch (Exception | AssertionError e) {
            return null;
        }
    }

    @Test
    void jobsOnDifferentDomainsOverlapQueriesAnswerAndTheSameDomainIsBusy() throws Exception {
        try (DaemonProcess d = daemon().start()) {
            d.ok("define", cfg("a", 64, "4M").toString());
            d.ok("define", cfg("b", 64, "4M").toString());
            d.ok("create", "a");
            d.ok("create", "b");
            // each save streams into a named pipe that nobody reads yet: both jobs stay in flight until the test
            // drains them, so what follows does not depend on how fast a save is
            Path fifoA = mkfifo("a.pipe");
            Path fifoB = mkfifo("b.pipe");
            CompletableFuture<DaemonProcess.Cli> saveA = CompletableFuture.supplyAsync(() -> d.cli("save", "a", fifoA.toString()));
            CompletableFuture<DaemonProcess.Cli> saveB = CompletableFuture.supplyAsync(() -> d.cli("save", "b", fifoB.toString()));
            await("both saves to be running at the same moment", () -> "save".equals(domainQuiet(d, "a", "job"))
                    && "save".equals(domainQuiet(d, "b", "job")));
            // a query answers while both jobs run (it would hang behind a driver-wide lock)
            assertEquals(2, countJobs(d, "save"));
            DaemonProcess.Cli busy = d.cli("pause", "a");
            assertEquals(1, busy.exit());
            assertTrue(busy.err().contains("busy: domain 'a' is running save since"), busy.err());

            CompletableFuture<Long> drainA = CompletableFuture.supplyAsync(() -> drain(fifoA));
            CompletableFuture<Long> drainB = CompletableFuture.supplyAsync(() -> drain(fifoB));
            assertEquals(0, saveA.get(120, TimeUnit.SECONDS).exit(), saveA.get().err());
            assertEquals(0, saveB.get(120, TimeUnit.SECONDS).exit(), saveB.get().err());
            assertTrue(drainA.get(60, TimeUnit.SECONDS) > 0 && drainB.get(60, TimeUnit.SECONDS) > 0);
            assertEquals("shut-off", domain(d, "a").path("state").asText());
            assertEquals(0, countJobs(d, "save"));
        }
    }

    private Path mkfifo(String name) throws Exception {
        Path p = tmp.resolve(name);
        Process mk = new ProcessBuilder("mkfifo", p.toString()).inheritIO().start();
        assertEquals(0, mk.waitFor());
        return p;
    }

    private static long drain(Path fifo) {
        try (java.io.InputStream in = Files.newInputStream(fifo)) {
            return in.transferTo(java.io.OutputStream.nullOutputStream());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static int countJobs(DaemonProcess d, String kind) throws Exception {
        int n = 0;
        for (JsonNode x : JSON.readTree(d.ok("list", "--all", "--json"))) {
            n += kind.equals(x.path("job").asText(null)) ? 1 : 0;
        }
        return n;
    }

    /**
     * Ctrl-C at a terminal signals the whole foreground process group: a daemon the demo started gets SIGINT from the
     * terminal and SIGTERM from the demo's cleanup at the same moment. It stops once, cleanly.
     */
    @Test
    void sigintAndSigtermTogetherStopTheDaemonOnce() throws Exception {
        try (DaemonProcess d = daemon().start()) {
            d.ok("create", cfg("web", 32, "4M").toString());
            Process kill = new ProcessBuilder("sh", "-c", "kill -INT " + d.pid() + "; kill -TERM " + d.pid()).inheritIO().start();
            assertEquals(0, kill.waitFor());
            assertTrue(d.awaitExit(60), "xenhostd did not stop:\n" + d.log());
            String log = d.log();
            assertEquals(0, d.exitValue(), log);
            assertEquals(1, log.split("xenhostd stopped", -1).length - 1, "stopped exactly once:\n" + log);
            assertTrue(!log.contains("Exception") && !log.contains("\tat "), log);
        }
        try (DaemonProcess again = daemon().start()) {
            assertEquals("running", domain(again, "web").path("state").asText(), again.log());
        }
    }

    @Test
    void badInputIsRefusedWithAClearMessageAndTheRightExitCode() throws Exception {
        try (DaemonProcess d = daemon().start()) {
            Path broken = tmp.resolve("broken.cfg");
            Files.writeString(broken, "name = \"x\"\nmemory = 64\nvcpus = two\n");
            DaemonProcess.Cli r = d.cli("define", broken.toString());
            assertEquals(2, r.exit());
            assertTrue(r.err().contains(broken + ":3:"), r.err());

            r = d.cli("dominfo", "nosuch");
            assertEquals(2, r.exit());
            assertTrue(r.err().contains("no domain 'nosuch'"), r.err());

            d.ok("define", cfg("dup", 32, null).toString());
            r = d.cli("define", cfg("dup", 32, null).toString().replace("dup.cfg", "dup.cfg"));
            assertEquals(2, r.exit());
            Path sameName = tmp.resolve("other.cfg");
            Files.writeString(sameName, "name = \"dup\"\nmemory = 32\n");
            r = d.cli("define", sameName.toString());
            assertEquals(2, r.exit());
            assertTrue(r.err().contains("a domain named 'dup' already exists"), r.err());
            Path sameUuid = tmp.resolve("uuid.cfg");
            String uuid = domain(d, "dup").path("uuid").asText();
            Files.writeString(sameUuid, "name = \"dup2\"\nuuid = \"" + uuid + "\"\nmemory = 32\n");
            // redefining the same uuid under a new name is a rename of a shut-off domain: allowed
            assertEquals(0, d.cli("define", sameUuid.toString()).exit());

            d.ok("define", cfg("huge", 1 << 20, null).toString());
            r = d.cli("create", "huge");
            assertEquals(1, r.exit());
            assertTrue(r.err().matches("(?s).*needs 1048576 MiB but the host has only \\d+ MiB free.*"), r.err());

            r = d.cli("create", tmp.resolve("missing.cfg").toString());
            assertEquals(2, r.exit());
            assertTrue(r.err().contains("does not exist"), r.err());
        }
    }
}
