package org.xenhost.realxen;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Scenario 4 on real Xen, not yet part of the default run (an {@code IT}: Surefire runs it only when named, e.g.
 * {@code mvn -pl realxen -am verify -Dtest=SameHostMigrationRealXenIT -Dsurefire.failIfNoSpecifiedTests=false}):
 * its long-lived PVH guest under live-migration load died of the TCG fault (realxen/README.md) in most attempts,
 * so in CI it would fail often for a reason that is not xenhost's. It boots its own QEMU with xlmigrate first, so
 * the two migrations' times come from one boot.
 */
class SameHostMigrationRealXenIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final List<String> SCENARIOS = List.of("xlmigrate", "xhmigrate");
    private static Harness.Boot boot;

    @BeforeAll
    static void buildAndBoot() throws Exception {
        Harness.build();
        boot = Harness.boot(SCENARIOS, RealXenTest.BOOT_TIMEOUT_SECONDS);
    }

    /**
     * Scenario 4 (and xenhost's half of 5) proves, on the real libxl with two xenhostd in one dom0 (separate state,
     * sockets, ports and certificates, as xl's own localhost tests): a PVH guest live-migrates over xenhost's TLS
     * channel with monotonic progress events and a reported downtime, its heartbeat continues on the destination
     * and exactly one copy remains, owned by the destination daemon; a migration aborted mid-stream, and one whose
     * destination daemon is killed mid-stream, both leave the guest running at the source, and the restarted
     * destination removes the copy the killed one left.
     */
    @Test
    void xenhostMigratesBetweenTwoDaemonsOnOneXen() throws Exception {
        Harness.Run run = boot.scenario("xhmigrate");

        // 1. aborted mid-stream
        assertTrue(!run.text("abort.rc").trim().equals("0"), "an aborted migrate exits non-zero:\n" + run.text("abort.jsonl"));
        JsonNode jobMidStream = JSON.readTree(run.text("abort-jobinfo.json"));
        assertEquals("migrate-out", jobMidStream.get("kind").asText(), "domjobinfo mid-stream: " + jobMidStream);
        assertTrue(jobMidStream.get("migration").get("bytes").asLong() > 1 << 20, "domjobinfo mid-stream: " + jobMidStream);
        List<JsonNode> aborted = events(run.text("abort.jsonl"));
        assertEquals("failed", aborted.get(aborted.size() - 1).get("event").asText(), "last event: " + aborted);
        assertTrue(aborted.get(aborted.size() - 1).get("message").asText().contains("abort"), "says it was aborted: " + aborted);
        assertGuestRanOn(run, "abort-heartbeat-before", "abort-heartbeats-after", "after the abort");
        assertOneCopy(run.text("abort-xl-list.txt"), "after the abort");

        // 2. destination daemon killed mid-stream, then restarted
        assertTrue(!run.text("kill.rc").trim().equals("0"), "a migrate whose destination died exits non-zero");
        assertGuestRanOn(run, "kill-heartbeat-before", "kill-heartbeats-after", "after the destination daemon was killed");
        assertTrue(run.text("kill-xl-list.txt").lines().anyMatch(l -> l.startsWith("rxguest ")),
                "the source guest runs on:\n" + run.text("kill-xl-list.txt"));
        assertOneCopy(run.text("kill-xl-list-restarted.txt"), "after the destination daemon's restart");

        // 3. the live migration
        List<JsonNode> events = events(run.text("migrate.jsonl"));
        JsonNode done = events.get(events.size() - 1);
        assertEquals("completed", done.get("event").asText(), "last event: " + done);
        assertEquals("completed", done.get("outcome").asText(), "outcome: " + done);
        assertTrue(done.get("downtimeMs").asLong() > 0, "a live migration reports its downtime: " + done);
        assertTrue(done.get("bytes").asLong() > 100L << 20, "the stream carried the 128 MiB guest: " + done);
        List<JsonNode> progress = events.stream().filter(e -> e.get("event").asText().equals("progress")).toList();
        assertFalse(progress.isEmpty(), "progress events while it ran: " + events);
        long last = -1;
        for (JsonNode e : progress) {
            long bytes = e.get("bytes").asLong();
            assertTrue(bytes >= last, "progress is monotonic: " + progress);
            last = bytes;
        }
        assertGuestRanOn(run, "heartbeat-before", "heartbeats-after", "on the destination");
        assertOneCopy(run.text("xl-list-after.txt"), "after the migration");
        JsonNode onDst = RealXenTest.byName(JSON.readTree(run.text("list-dst.json")), "rxguest");
        assertNotNull(onDst, "the destination daemon lists the guest");
        assertEquals("running", onDst.get("state").asText(), "destination: " + onDst);
        JsonNode onSrc = RealXenTest.byName(JSON.readTree(run.text("list-src.json")), "rxguest");
        assertTrue(onSrc == null || onSrc.get("state").asText().equals("foreign"), "the source no longer owns it: " + onSrc);
        assertEquals(onDst.get("domid").asInt(), onSrc == null ? onDst.get("domid").asInt() : onSrc.get("domid").asInt(),
                "both daemons see the one copy");

        // scenario 5, parity (recorded, not asserted): same guest, same boot, localhost
        System.out.println("parity (PVH, 128 MiB, localhost, TCG): xl migrate " + boot.scenario("xlmigrate").text("time-xl-migrate").trim()
                + " s; xenhost migrate " + run.text("time-xh-migrate").trim() + " s (migration " + done.get("elapsedMs").asLong()
                + " ms, downtime " + done.get("downtimeMs").asLong() + " ms)");
    }

    private static List<JsonNode> events(String jsonLines) throws IOException {
        List<JsonNode> out = new java.util.ArrayList<>();
        for (String line : jsonLines.split("\n")) {
            if (!line.isBlank()) {
                out.add(JSON.readTree(line));
            }
        }
        assertFalse(out.isEmpty(), "no events");
        return out;
    }

    /** The guest printed heartbeats after the step, counting on from before it (it was not restarted). */
    private static void assertGuestRanOn(Harness.Run run, String beforeFile, String afterFile, String when) throws IOException {
        long before = Long.parseLong(run.text(beforeFile).trim());
        List<Long> after = run.numbers(afterFile);
        assertTrue(after.size() >= 2 && after.get(0) >= before,
                "heartbeat continues " + when + ": before " + before + ", after " + after);
    }

    /** Exactly one rxguest in {@code xl list}, and no migration copy left. */
    private static void assertOneCopy(String xlList, String when) {
        assertEquals(1, xlList.lines().filter(l -> l.startsWith("rxguest")).count(), "one copy " + when + ":\n" + xlList);
        assertFalse(xlList.contains("--incoming") || xlList.contains("--migratedaway"), when + ":\n" + xlList);
    }

}
