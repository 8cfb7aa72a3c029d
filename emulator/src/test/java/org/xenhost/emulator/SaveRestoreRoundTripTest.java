package org.xenhost.emulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.xenhost.emulator.domain.EmulatedDomain;
import org.xenhost.emulator.save.Saver;
import org.xenhost.libxl.DomainState;
import org.xenhost.libxl.LibxlError;
import org.xenhost.libxl.LibxlException;
import org.xenhost.libxl.ProgressListener;
import org.xenhost.libxl.SaveProgress;
import org.xenhost.libxl.stream.LibxcRecord;
import org.xenhost.libxl.stream.PageBatch;
import org.xenhost.libxl.stream.ReaderLimits;
import org.xenhost.libxl.stream.StreamReader;
import org.xenhost.libxl.stream.StreamRecord;

/** Save to a file, restore on another emulated host: memory equals the source's at the moment it was suspended. */
class SaveRestoreRoundTripTest {
    @TempDir
    static Path tmp;
    static EmulatedLibxl source;
    static EmulatedLibxl destination;
    static int counter;

    @BeforeAll
    static void open() throws IOException {
        source = TestHosts.open(tmp.resolve("source"));
        destination = TestHosts.open(tmp.resolve("destination"));
    }

    @AfterAll
    static void close() {
        source.close();
        destination.close();
    }

    private static String digest(EmulatedLibxl host, int domid) {
        return domainOf(host, domid).memory().digest();
    }

    static EmulatedDomain domainOf(EmulatedLibxl host, int domid) {
        return host.hypervisor().domain(domid).orElseThrow();
    }

    @ParameterizedTest(name = "{5} {0} MiB, {1} B/s over {2} B, live={3}, debug={4}")
    @CsvSource({
            "1,   0,         0,        false, false, pvh",
            "16,  2000000,   0,        true,  false, pvh",
            "64,  0,         0,        true,  true,  pvh",
            "64,  80000000,  4194304,  true,  true,  pvh",
            "256, 40000000,  16777216, true,  false, pvh",
            "256, 40000000,  16777216, false, false, pvh",
            "32,  20000000,  4194304,  true,  true,  hvm",
            "32,  20000000,  4194304,  true,  false, pv",
    })
    void restoredMemoryEqualsSourceAtPause(int mib, long rate, long workingSet, boolean live, boolean debug, String type)
            throws Exception {
        String name = "rt-" + (++counter);
        String config = TestHosts.config(name, type, mib, rate, workingSet);
        int domid = source.createDomain(config, false);
        if (rate > 0) {
            TestHosts.sleep(Duration.ofMillis(300));
        }
        String before = digest(source, domid);
        Path file = tmp.resolve(name + ".stream");
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            source.suspend(domid, out, live, debug, ProgressListener.NONE);
        }
        String atPause = digest(source, domid);
        if (rate > 0 && live) {
            assertNotEquals(before, atPause, "the guest kept dirtying during the live save");
        }
        long steps = domainOf(source, domid).workloadSteps();
        int restored;
        try (FileChannel in = FileChannel.open(file)) {
            restored = destination.createRestore(source.domainConfigJson(domid), in, true);
        }
        assertEquals(atPause, digest(destination, restored), "restored memory differs from the source at pause");
        assertEquals(DomainState.PAUSED, destination.domainInfo(restored).state());
        assertEquals(steps, domainOf(destination, restored).workloadSteps(), "vCPU state (workload step) carried over");
        destination.destroy(restored);
        source.destroy(domid);
        Files.delete(file);
    }

    @Test
    void livePrecopyStopsAfterFiveIterationsWhenTheGuestDirtiesFast() throws Exception {
        // 40 MB/s of dirtying over 4 MiB, sent through a 20 MB/s link: every round finds far more than 50
        // dirty pages, so only the iteration limit stops the pre-copy (and the slow consumer just blocks the saver)
        int domid = source.createDomain(TestHosts.config("busy", "pvh", 64, 40_000_000, 4 << 20), false);
        TestHosts.sleep(Duration.ofMillis(200));
        Path file = tmp.resolve("busy.stream");
        List<SaveProgress> reports = new ArrayList<>();
        Saver.SaveReport report;
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ThrottledChannel link = new ThrottledChannel(out, 20_000_000);
            report = source.suspendReporting(domid, link, true, false, reports::add);
            assertEquals(Files.size(file), link.written());
        }
        assertEquals(6, report.liveRounds().size(), "iteration 0 (all pages) + 5 dirty iterations: " + report);
        assertTrue(report.liveRounds().subList(1, 6).stream().allMatch(n -> n >= 50), report.toString());
        List<Long> streamRounds = roundsInStream(file, 64L << 20);
        // the stream shows the same passes: all pfns, 5 live rounds, the final pass while suspended
        assertEquals(7, streamRounds.size(), "passes seen in the stream " + streamRounds + " vs " + report);
        assertEquals(16384L, streamRounds.get(0), "the first pass carries every pfn");
        for (int i = 1; i <= 5; i++) {
            assertEquals(report.liveRounds().get(i), streamRounds.get(i), "round " + i);
        }
        assertEquals(report.finalPass(), streamRounds.get(6));
        assertTrue(reports.stream().anyMatch(p -> p.doingWhat().startsWith("Frames iteration 5 of 5")), reports.toString());
        source.destroy(domid);
    }

    @Test
    void livePrecopyStopsAsSoonAsFewerThanFiftyPagesAreDirty() throws Exception {
        int domid = source.createDomain(TestHosts.config("idle", "pvh", 64, 0, 0), false);
        Path file = tmp.resolve("idle.stream");
        Saver.SaveReport report;
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            report = source.suspendReporting(domid, out, true, false, ProgressListener.NONE);
        }
        // iteration 0 sends everything; iteration 1 finds 0 dirty (< 50): stop and copy
        assertEquals(List.of(16384L, 0L), report.liveRounds());
        assertEquals(0, report.finalPass());
        assertEquals(List.of(16384L), roundsInStream(file, 64L << 20));
        source.destroy(domid);
    }

    @Test
    void verifyMismatchFailsNamingThePfnAndLeavesNoDomain() throws Exception {
        int domid = source.createDomain(TestHosts.config("dbg", "pvh", 4, 0, 0), false);
        Path file = tmp.resolve("dbg.stream");
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            source.suspend(domid, out, true, true, ProgressListener.NONE);
        }
        // corrupt one byte of pfn 5's page in the pass after VERIFY
        long offset = pageOffsetAfterVerify(file, 4L << 20, 5);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, offset + 100);
            b.put(0, (byte) (b.get(0) ^ 0xff));
            ch.write(b.rewind(), offset + 100);
        }
        int before = destination.listDomains().size();
        long free = destination.hostInfo().freeMemoryKb();
        LibxlException e;
        try (FileChannel in = FileChannel.open(file)) {
            e = assertThrows(LibxlException.class, () -> destination.createRestore(source.domainConfigJson(domid), in, true));
        }
        assertEquals(LibxlError.FAIL, e.error());
        assertTrue(e.getMessage().contains("verify pfn 0x5 failed"), e.getMessage());
        assertEquals(before, destination.listDomains().size(), "no domain left behind");
        assertEquals(free, destination.hostInfo().freeMemoryKb(), "memory given back");
        source.destroy(domid);
    }

    /** Pages per pass, inferred from pfn order: each pass sends ascending pfns and starts a new record. */
    static List<Long> roundsInStream(Path file, long guestBytes) throws IOException {
        List<Long> rounds = new ArrayList<>();
        long last = Long.MAX_VALUE;
        try (FileChannel in = FileChannel.open(file)) {
            StreamReader r = StreamReader.libxl(in, ReaderLimits.forGuestMemory(guestBytes));
            for (StreamRecord rec; (rec = r.next()) != null; ) {
                if (rec instanceof PageBatch b) {
                    if (b.pfn(0) <= last) {
                        rounds.add(0L);
                    }
                    rounds.set(rounds.size() - 1, rounds.get(rounds.size() - 1) + b.count());
                    last = b.pfn(b.count() - 1);
                }
            }
        }
        return rounds;
    }

    /** File offset of pfn {@code pfn}'s page data in the first PAGE_DATA record after VERIFY that carries it. */
    static long pageOffsetAfterVerify(Path file, long guestBytes, long pfn) throws IOException {
        boolean verify = false;
        try (FileChannel in = FileChannel.open(file)) {
            StreamReader r = StreamReader.libxl(in, ReaderLimits.forGuestMemory(guestBytes));
            for (StreamRecord rec; (rec = r.next()) != null; ) {
                if (rec instanceof LibxcRecord.Verify) {
                    verify = true;
                } else if (verify && rec instanceof PageBatch b) {
                    long end = r.offset();
                    long dataStart = end - (long) b.pagesWithData() * 4096;
                    for (int i = 0; i < b.count(); i++) {
                        if (b.pfn(i) == pfn && b.hasData(i)) {
                            return dataStart + b.dataOffset(i);
                        }
                    }
                }
            }
        }
        throw new AssertionError("pfn " + pfn + " not found after VERIFY");
    }
}
