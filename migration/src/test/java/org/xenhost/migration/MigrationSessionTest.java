package org.xenhost.migration;

import org.junit.jupiter.api.Test;
import org.xenhost.emulator.HostSettings;
import org.xenhost.libxl.DomainInfo;
import org.xenhost.libxl.DomainState;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Both ends in one JVM over a real TLS transport and two emulated hypervisors. */
@org.junit.jupiter.api.Timeout(90)
class MigrationSessionTest {

    private static MigrationOptions live(boolean debug, int bandwidth) {
        return new MigrationOptions(true, false, false, false, false, bandwidth, debug, null, 0,
                MigrationOptions.HostdevPolicy.REFUSE, Map.of());
    }

    @Test
    void liveDebugMigrationMovesTheGuestAndReportsProgress() throws Exception {
        try (TwoHosts h = new TwoHosts()) {
            String uuid = TwoHosts.start(h.a, "web", 64, 4L << 20);
            SourceSession s = h.a.service.outgoing(TwoHosts.guest(h.a, uuid), h.b.endpoint(), live(true, 0));
            List<MigrationStats> seen = new ArrayList<>();
            CompletableFuture<MigrationStats> done = CompletableFuture.supplyAsync(s::run);
            while (!done.isDone()) {
                seen.add(s.stats());
                Thread.sleep(5);
            }
            MigrationStats end = done.get(60, TimeUnit.SECONDS);
            assertEquals("completed", end.outcome());
            assertTrue(end.downtimeMs() >= 0, "downtime reported: " + end);
            assertTrue(end.pages() > 0 && end.iteration() >= 1, "pre-copy passes were counted: " + end);
            for (int i = 1; i < seen.size(); i++) {
                assertTrue(seen.get(i).bytes() >= seen.get(i - 1).bytes(), "bytes never go back");
                assertTrue(seen.get(i).elapsedMs() >= seen.get(i - 1).elapsedMs(), "time never goes back");
            }
            assertTrue(h.a.domain(uuid).isEmpty(), "the source copy is gone");
            DomainInfo there = h.b.domain(uuid).orElseThrow();
            assertEquals("web", there.name());
            assertEquals(DomainState.RUNNING, there.state());
            assertEquals(Phase.COMMITTED, h.a.journal.read(end.id()).orElseThrow().phase());
            assertEquals(Phase.UNPAUSED, h.b.journal.read(end.id()).orElseThrow().phase());
            assertEquals(List.of("out:" + uuid), h.a.host.events);
            assertEquals(List.of("in:web:" + there.domid()), h.b.host.events);
        }
    }

    @Test
    void destinationWithoutMemoryRefusesBeforeAnythingIsSent() throws Exception {
        // 2 GiB of the 2.25 GiB host belong to dom0: 256 MiB free
        try (TwoHosts h = new TwoHosts(HostSettings.DEFAULT.dom0MemoryBytes() + (256L << 20))) {
            String uuid = TwoHosts.start(h.a, "big", 512, 0);
            SourceSession s = h.a.service.outgoing(TwoHosts.guest(h.a, uuid), h.b.endpoint(), live(false, 0));
            MigrationException e = assertThrows(MigrationException.class, s::run);
            assertEquals(MigrationException.Kind.REFUSED, e.kind());
            assertTrue(e.getMessage().contains("needs 512 MiB") && e.getMessage().contains("256 MiB free"), e.getMessage());
            assertEquals(DomainState.RUNNING, h.a.domain(uuid).orElseThrow().state());
            assertEquals(0, s.stats().bytes(), "nothing was streamed");
            assertTrue(h.b.domain(uuid).isEmpty());
        }
    }

    @Test
    void missingCpuFeaturesAndNameClashesAreRefused() throws Exception {
        try (TwoHosts h = new TwoHosts()) {
            String uuid = TwoHosts.start(h.a, "db", 16, 0);
            h.a.host.flags = List.of("fpu", "sse2", "avx512f");
            MigrationException e = assertThrows(MigrationException.class,
                    () -> h.a.service.outgoing(TwoHosts.guest(h.a, uuid), h.b.endpoint(), live(false, 0)).run());
            assertTrue(e.getMessage().contains("avx512f"), e.getMessage());
            h.a.host.flags = List.of("fpu");
            TwoHosts.start(h.b, "db", 16, 0);
            e = assertThrows(MigrationException.class,
                    () -> h.a.service.outgoing(TwoHosts.guest(h.a, uuid), h.b.endpoint(), live(false, 0)).run());
            assertTrue(e.getMessage().contains("named 'db'"), e.getMessage());
            assertEquals(DomainState.RUNNING, h.a.domain(uuid).orElseThrow().state());
        }
    }

    @Test
    void guestWithHostDevicesIsRefusedWithTheLogDirtyReason() throws Exception {
        try (TwoHosts h = new TwoHosts()) {
            String uuid = TwoHosts.start(h.a, "nic", 16, 0);
            OutgoingGuest g = TwoHosts.guest(h.a, uuid);
            OutgoingGuest withNic = new OutgoingGuest(g.domid(), g.name(), g.uuid(), g.configJson(), g.memoryMiB(), g.vcpus(),
                    List.of(new PassedDevice("0000:03:00.0", "8086:10d3", null,
                            org.xenhost.libxl.LibxlDevicePci.of(0, 3, 0, 0), false)));
            MigrationException e = assertThrows(MigrationException.class,
                    () -> h.a.service.outgoing(withNic, h.b.endpoint(), live(false, 0)).run());
            assertEquals(MigrationException.Kind.REFUSED, e.kind());
            assertTrue(e.getMessage().contains("0000:03:00.0") && e.getMessage().contains("log-dirty")
                    && e.getMessage().contains("--hostdev-policy=replug"), e.getMessage());
            assertEquals(DomainState.RUNNING, h.a.domain(uuid).orElseThrow().state());
            assertTrue(h.a.journal.all().isEmpty(), "refused before anything was journaled or sent");
        }
    }

    private static OutgoingGuest withVf(OutgoingGuest g) {
        return new OutgoingGuest(g.domid(), g.name(), g.uuid(), g.configJson(), g.memoryMiB(), g.vcpus(),
                List.of(new PassedDevice("0000:02:10.0", "8086:10ca", "8086:10c9",
                        org.xenhost.libxl.LibxlDevicePci.of(0, 2, 0x10, 0), true)));
    }

    private static MigrationOptions replug() {
        return new MigrationOptions(true, false, false, false, false, 0, false, null, 0,
                MigrationOptions.HostdevPolicy.REPLUG, java.util.Map.of());
    }

    @Test
    void replugDetachesBeforeTheStreamAndAttachesBeforeTheUnpause() throws Exception {
        try (TwoHosts h = new TwoHosts()) {
            String uuid = TwoHosts.start(h.a, "nic", 16, 0);
            MigrationStats st = h.a.service.outgoing(withVf(TwoHosts.guest(h.a, uuid)), h.b.endpoint(), replug()).run();
            assertEquals(java.util.Map.of("0000:02:10.0", "0000:05:00.0"), st.replugged());
            // source: detached while the guest still ran (before the stream), released after the commit
            assertEquals(List.of("unplug:RUNNING", "release", "out:" + uuid), h.a.host.events);
            // destination: mapped in prepare, attached while the copy was still paused
            assertEquals("plan", h.b.host.events.get(0));
            assertEquals("plug:PAUSED", h.b.host.events.get(1));
            assertTrue(h.b.host.events.get(2).startsWith("in:nic:"), h.b.host.events.toString());
            assertEquals(DomainState.RUNNING, h.b.domain(uuid).orElseThrow().state());
            // both journals keep the mapping, for recovery
            String id = st.id();
            assertEquals("0000:05:00.0", h.a.journal.read(id).orElseThrow().cookie().replug().get("0000:02:10.0"));
            assertEquals("0000:05:00.0", h.b.journal.read(id).orElseThrow().cookie().replug().get("0000:02:10.0"));
        }
    }

    @Test
    void aDestinationWithoutAMatchRefusesBeforeTheSourceDetachesAnything() throws Exception {
        try (TwoHosts h = new TwoHosts()) {
            String uuid = TwoHosts.start(h.a, "nic", 16, 0);
            h.b.host.planTo = null;
            MigrationException e = assertThrows(MigrationException.class,
                    () -> h.a.service.outgoing(withVf(TwoHosts.guest(h.a, uuid)), h.b.endpoint(), replug()).run());
            assertEquals(MigrationException.Kind.REFUSED, e.kind());
            assertTrue(e.getMessage().contains("no device like 8086:10ca (VF of 8086:10c9)"), e.getMessage());
            assertEquals(List.of("back:" + uuid), h.a.host.events, "nothing was detached");
            assertEquals(DomainState.RUNNING, h.a.domain(uuid).orElseThrow().state());
            assertTrue(h.b.domain(uuid).isEmpty());
        }
    }

    @Test
    void aFailedAttachAtTheDestinationDestroysItsCopyAndTheSourceGetsItsDeviceBack() throws Exception {
        try (TwoHosts h = new TwoHosts()) {
            String uuid = TwoHosts.start(h.a, "nic", 16, 0);
            h.b.host.failPlug = true;
            MigrationException e = assertThrows(MigrationException.class,
                    () -> h.a.service.outgoing(withVf(TwoHosts.guest(h.a, uuid)), h.b.endpoint(), replug()).run());
            assertTrue(e.getMessage().contains("the mapped device vanished") && e.getMessage().contains("keeps running here"),
                    e.getMessage());
            // the source had handed over (go) and the destination answered "not ok": resume, then re-attach
            assertEquals(List.of("unplug:RUNNING", "replug:RUNNING", "back:" + uuid), h.a.host.events);
            assertEquals(DomainState.RUNNING, h.a.domain(uuid).orElseThrow().state());
            assertEquals("nic", h.a.domain(uuid).orElseThrow().name());
            assertEquals(List.of("plan", "plug:PAUSED", "unplugIncoming"), h.b.host.events);
            assertTrue(h.b.domain(uuid).isEmpty(), "the destination destroyed its copy");
        }
    }

    @Test
    void abortMidStreamResumesTheSourceAndDestroysTheCopy() throws Exception {
        try (TwoHosts h = new TwoHosts()) {
            // guest memory is sparse: let the workload touch ~32 MiB so the paced stream lasts seconds
            String uuid = TwoHosts.start(h.a, "slow", 64, 32L << 20);
            Thread.sleep(1000);
            SourceSession s = h.a.service.outgoing(TwoHosts.guest(h.a, uuid), h.b.endpoint(), live(false, 4));
            CompletableFuture<MigrationStats> done = CompletableFuture.supplyAsync(s::run);
            while (!done.isDone() && s.stats().bytes() < (2 << 20)) {
                Thread.sleep(10);
            }
            assertFalse(done.isDone(), "still streaming when aborted");
            assertTrue(s.abort("operator"));
            var e = assertThrows(java.util.concurrent.ExecutionException.class, () -> done.get(30, TimeUnit.SECONDS));
            MigrationException me = (MigrationException) e.getCause();
            assertEquals(MigrationException.Kind.ABORTED, me.kind());
            assertEquals(DomainState.RUNNING, h.a.domain(uuid).orElseThrow().state());
            assertEquals("slow", h.a.domain(uuid).orElseThrow().name());
            assertEquals(Phase.ROLLED_BACK, h.a.journal.read(s.id()).orElseThrow().phase());
            waitUntil(() -> h.b.journal.read(s.id()).map(j -> j.phase() == Phase.DESTROYED).orElse(false));
            assertTrue(h.b.domain(uuid).isEmpty(), "no copy left on the destination");
            assertEquals("aborted", s.stats().outcome());
        }
    }

    @Test
    void bandwidthLimitHoldsTheStreamBack() throws Exception {
        try (TwoHosts h = new TwoHosts()) {
            String uuid = TwoHosts.start(h.a, "paced", 32, 32L << 20);
            Thread.sleep(500);
            h.a.libxl.pause(h.a.domain(uuid).orElseThrow().domid());
            long t0 = System.nanoTime();
            MigrationStats end = h.a.service.outgoing(TwoHosts.guest(h.a, uuid), h.b.endpoint(), live(false, 8)).run();
            double secs = (System.nanoTime() - t0) / 1e9;
            double floor = end.bytes() / (8.0 * (1 << 20));
            // the pacing is a lower bound on time, whatever the machine
            assertTrue(end.bytes() > 4 << 20, "enough memory was touched to measure: " + end.bytes());
            assertTrue(secs >= floor * 0.95, "paced to 8 MiB/s: " + secs + " s for " + end.bytes() + " bytes");
        }
    }

    @Test
    void undecidedDestinationCopyIsSettledByTheSourceJournal() throws Exception {
        try (TwoHosts h = new TwoHosts()) {
            String uuid = TwoHosts.start(h.b, "orphan", 16, 0);
            // the destination holds a paused received copy; the source's journal says it handed the guest over
            int domid = h.b.domain(uuid).orElseThrow().domid();
            h.b.libxl.pause(domid);
            h.b.libxl.rename(domid, "orphan", "orphan--incoming");
            MigrationCookie c = new MigrationCookie("m-1", "orphan", uuid, "a", null, null, 2, 16, 2, List.of(),
                    "{}", live(false, 0), List.of(), null);
            h.b.journal.write(new JournalEntry("m-1", JournalEntry.DESTINATION, Phase.RECEIVED, "orphan", uuid, domid,
                    null, c, null, java.time.Instant.now()));
            h.a.journal.write(new JournalEntry("m-1", JournalEntry.SOURCE, Phase.MIGRATED_AWAY, "orphan", uuid, 99,
                    h.b.endpoint(), c, null, java.time.Instant.now()));
            // the source asks: the destination commits (it holds a complete copy), the source records COMMITTED
            h.a.service.recoverAll();
            waitUntil(() -> h.a.journal.read("m-1").orElseThrow().phase() == Phase.COMMITTED);
            assertEquals(Phase.UNPAUSED, h.b.journal.read("m-1").orElseThrow().phase());
            DomainInfo d = h.b.domain(uuid).orElseThrow();
            assertEquals("orphan", d.name());
            assertEquals(DomainState.RUNNING, d.state());
            // the settling thread records COMMITTED before it drops the entry from its unsettled list
            waitUntil(() -> h.a.service.unsettled().stream().noneMatch(j -> j.id().equals("m-1")));
        }
    }

    static void waitUntil(java.util.function.BooleanSupplier c) throws InterruptedException {
        long end = System.nanoTime() + 30_000_000_000L;
        while (!c.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("condition not reached in 30 s");
            }
            Thread.sleep(20);
        }
    }

    @Test
    void resolutionNeverLetsBothRun() {
        for (Phase s : new Phase[] {null, Phase.BEGIN, Phase.PREPARED, Phase.STREAMING, Phase.MIGRATED_AWAY, Phase.COMMITTED, Phase.ROLLED_BACK}) {
            for (Phase d : new Phase[] {null, Phase.INCOMING, Phase.RECEIVED, Phase.UNPAUSED, Phase.DESTROYED}) {
                Resolution.Outcome o = Resolution.decide(s, d);
                if (o == Resolution.Outcome.COMMIT) {
                    assertTrue(s != null && s.pastPointOfNoReturn(), "commit needs the source's hand-over: " + s + "/" + d);
                    assertTrue(s == Phase.COMMITTED || d == Phase.RECEIVED || d == Phase.UNPAUSED, "commit needs a complete copy");
                }
                if (d == Phase.UNPAUSED) {
                    assertTrue(o != Resolution.Outcome.ROLLBACK || s == null || !s.pastPointOfNoReturn(), s + "/" + d);
                }
            }
        }
        assertEquals(Resolution.Outcome.UNDECIDED, Resolution.decide(Phase.MIGRATED_AWAY, null));
        assertEquals(Resolution.Outcome.ROLLBACK, Resolution.decide(Phase.STREAMING, Phase.RECEIVED));
        assertEquals(Resolution.Outcome.COMMIT, Resolution.decide(Phase.MIGRATED_AWAY, Phase.RECEIVED));
    }
}
