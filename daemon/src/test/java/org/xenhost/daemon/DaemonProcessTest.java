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
            // a guest that has touched a lot of memory, so its save takes a while
            d.ok("define", cfg("big", 768, "1G").toString());
            d.ok("create", "big");
            Thread.sleep(1500);
            CompletableFuture<DaemonProcess.Cli> save = CompletableFuture.supplyAsync(
                    () -> d.cli("save", "big", tmp.resolve("big.save").toString()));
            await("the save job to start", () -> "save".equals(domainQuiet(d, "big", "job")));
            d.kill9();
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
            // a's save outlasts the daemon's 2 s wait for a busy domain, so the busy refusal is certain to show
            d.ok("define", cfg("a", 1536, "2G").toString());
            d.ok("define", cfg("b", 384, "1G").toString());
            d.ok("create", "a");
            d.ok("create", "b");
            Thread.sleep(1500);
            CompletableFuture<DaemonProcess.Cli> saveA = CompletableFuture.supplyAsync(() -> d.cli("save", "a", tmp.resolve("a.save").toString()));
            CompletableFuture<DaemonProcess.Cli> saveB = CompletableFuture.supplyAsync(() -> d.cli("save", "b", tmp.resolve("b.save").toString()));
            boolean[] overlapped = {false};
            boolean[] busySeen = {false};
            while (!(saveA.isDone() && saveB.isDone())) {
                // a query during the saves answers (it would hang behind a driver-wide lock)
                JsonNode list = JSON.readTree(d.ok("list", "--all", "--json"));
                int saving = 0;
                for (JsonNode n : list) {
                    saving += "save".equals(n.path("job").asText(null)) ? 1 : 0;
                }
                overlapped[0] |= saving == 2;
                if (saving > 0 && !busySeen[0]) {
                    String target = "a";
                    DaemonProcess.Cli busy = d.cli("pause", target);
                    // the save may have ended between the two calls ("not running"); then try again next round
                    assertTrue(busy.exit() != 0, "pause of a saving domain must not succeed");
                    if (busy.err().contains("busy: domain '" + target + "' is running save since")) {
                        busySeen[0] = true;
                    } else {
                        assertTrue(busy.err().contains("is not running"), busy.err());
                    }
                }
                Thread.sleep(10);
            }
            assertEquals(0, saveA.get().exit(), saveA.get().err());
            assertEquals(0, saveB.get().exit(), saveB.get().err());
            assertTrue(overlapped[0], "both saves were running at the same moment");
            assertTrue(busySeen[0], "a second modify job on a saving domain was refused as busy");
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
