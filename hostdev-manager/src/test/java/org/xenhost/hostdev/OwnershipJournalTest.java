package org.xenhost.hostdev;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenhost.pci.PciAddress;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OwnershipJournalTest {
    private static final PciAddress A = PciAddress.parse("0000:03:00.0");
    private static final PciAddress B = PciAddress.parse("0000:04:00.1");
    private static final Owner GUEST = new Owner(UUID.fromString("11111111-2222-3333-4444-555555555555"),
            "guest one", 7);

    @TempDir
    Path state;

    @Test
    void entriesSurviveReopenWithEveryField() {
        Ownership attached = new Ownership(A, DeviceState.ATTACHED, Pending.DETACH, GUEST, "e1000e", "nic=0%",
                true, true);
        try (OwnershipJournal j = new OwnershipJournal(state)) {
            j.put(Ownership.assignable(B, "snd_hda_intel", null));
            j.put(attached);
        }
        try (OwnershipJournal j = new OwnershipJournal(state)) {
            assertEquals(attached, j.get(A).orElseThrow());
            assertEquals(Ownership.assignable(B, "snd_hda_intel", null), j.get(B).orElseThrow());
            assertTrue(j.replayWarnings().isEmpty());
        }
    }

    @Test
    void aRecordBecomesVisibleOnlyOnceSyncedAndAFailedSyncStopsTheJournal() throws Exception {
        java.util.concurrent.atomic.AtomicBoolean syncFails = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.atomic.AtomicReference<java.util.Optional<Ownership>> seenDuringSync =
                new java.util.concurrent.atomic.AtomicReference<>();
        OwnershipJournal[] self = new OwnershipJournal[1];
        try (OwnershipJournal j = new OwnershipJournal(state, ch -> {
            seenDuringSync.set(self[0].get(A)); // what a reader sees while the line is not yet durable
            if (syncFails.get()) {
                throw new java.io.IOException("Input/output error");
            }
            ch.force(false);
        })) {
            self[0] = j;
            j.put(Ownership.assignable(A, "e1000e", null));
            assertFalse(seenDuringSync.get().isPresent(), "visible before its fsync");
            assertEquals(DeviceState.ASSIGNABLE, j.get(A).orElseThrow().state());

            syncFails.set(true);
            Ownership attached = new Ownership(A, DeviceState.ATTACHED, Pending.NONE, GUEST, "e1000e", null,
                    false, false);
            java.io.UncheckedIOException e = assertThrows(java.io.UncheckedIOException.class, () -> j.put(attached));
            assertTrue(e.getMessage().contains("Input/output error"), e.getMessage());
            assertEquals(DeviceState.ASSIGNABLE, j.get(A).orElseThrow().state(), "a failed record stays invisible");

            syncFails.set(false);
            java.io.UncheckedIOException refused = assertThrows(java.io.UncheckedIOException.class,
                    () -> j.put(Ownership.assignable(B, null, null)));
            assertTrue(refused.getMessage().contains("restart xenhost"), refused.getMessage());
            assertFalse(j.get(B).isPresent());
        }
        try (OwnershipJournal j = new OwnershipJournal(state)) {
            // the file may hold the failed line (here it does, the page was never lost); restart replays it and
            // the manager's reconciliation then checks it against sysfs and libxl
            assertTrue(j.get(A).isPresent());
            assertFalse(j.get(B).isPresent());
        }
    }

    @Test
    void laterRecordsWinAndDropForgets() {
        try (OwnershipJournal j = new OwnershipJournal(state)) {
            j.put(new Ownership(A, DeviceState.HOST, Pending.ADD, null, "e1000e", null, false, false));
            j.put(Ownership.assignable(A, "e1000e", null));
            j.put(Ownership.assignable(B, null, null));
            j.drop(B);
        }
        try (OwnershipJournal j = new OwnershipJournal(state)) {
            assertEquals(DeviceState.ASSIGNABLE, j.get(A).orElseThrow().state());
            assertEquals(Pending.NONE, j.get(A).orElseThrow().pending());
            assertFalse(j.get(B).isPresent());
        }
    }

    @Test
    void aLineTornByACrashIsIgnoredAndReported() throws Exception {
        try (OwnershipJournal j = new OwnershipJournal(state)) {
            j.put(Ownership.assignable(A, "e1000e", null));
        }
        String good = JournalCodec.put(new Ownership(B, DeviceState.HOST, Pending.ADD, null, null, null, false, false));
        Files.writeString(state.resolve("hostdev/journal"), good.substring(0, good.length() / 2),
                StandardCharsets.UTF_8, StandardOpenOption.APPEND);
        try (OwnershipJournal j = new OwnershipJournal(state)) {
            assertTrue(j.get(A).isPresent());
            assertFalse(j.get(B).isPresent());
            assertEquals(1, j.replayWarnings().size());
            assertTrue(j.replayWarnings().get(0).contains("torn"), j.replayWarnings().toString());
            // appending after a torn line still yields a readable journal
            j.put(Ownership.assignable(B, null, "x"));
        }
        try (OwnershipJournal j = new OwnershipJournal(state)) {
            assertEquals("x", j.get(B).orElseThrow().name());
        }
    }

    /**
     * A daemon compacts between a reader's snapshot read and its journal read: the reader got the old snapshot, and
     * the journal is now emptied and refilled, so the records the new snapshot absorbed were in neither. A device
     * owned by a guest looked free to {@code pci list}.
     */
    @Test
    void aReaderRacingACompactionStillSeesEveryOwner() throws Exception {
        try (OwnershipJournal writer = new OwnershipJournal(state)) {
            writer.put(Ownership.assignable(A, "e1000e", null)); // in the snapshot the reader will read first
            writer.compact();
            writer.put(new Ownership(B, DeviceState.ATTACHED, Pending.NONE, GUEST, "igb", null, false, false)); // journal only
            int[] raced = {0};
            OwnershipJournal reader = OwnershipJournal.readOnly(state, () -> {
                if (raced[0]++ == 0) {
                    try {
                        writer.compact(); // B moves into a new snapshot; the journal is emptied
                        writer.put(Ownership.assignable(A, "e1000e", "later")); // and refilled
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                }
            });
            assertTrue(reader.get(B).isPresent(), "the owner compacted into the new snapshot meanwhile is seen");
            assertEquals(GUEST, reader.get(B).get().owner());
            assertEquals(2, raced[0], "the reader read the pair again after the snapshot was replaced");
            assertEquals("later", reader.get(A).orElseThrow().name());
            assertTrue(reader.replayWarnings().isEmpty(), reader.replayWarnings().toString());
        }
    }

    @Test
    void aReaderThatNeverGetsAStablePairSaysSoAndKeepsItsLastRead() throws Exception {
        try (OwnershipJournal writer = new OwnershipJournal(state)) {
            writer.put(new Ownership(B, DeviceState.ATTACHED, Pending.NONE, GUEST, "igb", null, false, false));
            int[] reads = {0};
            OwnershipJournal reader = OwnershipJournal.readOnly(state, () -> {
                reads[0]++;
                try {
                    writer.compact();
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            assertEquals(OwnershipJournal.READ_ATTEMPTS, reads[0]);
            assertEquals(GUEST, reader.get(B).orElseThrow().owner());
            assertEquals(1, reader.replayWarnings().size(), reader.replayWarnings().toString());
            assertTrue(reader.replayWarnings().get(0).contains("compacting"), reader.replayWarnings().toString());
        }
    }

    /** A line without its newline in a live daemon's journal is an append in progress, not a crash's torn line. */
    @Test
    void aReaderIgnoresALineBeingAppendedWithoutCallingItTorn() throws Exception {
        try (OwnershipJournal j = new OwnershipJournal(state)) {
            j.put(Ownership.assignable(A, "e1000e", null));
        }
        String next = JournalCodec.put(new Ownership(B, DeviceState.ATTACHED, Pending.NONE, GUEST, "igb", null, false, false));
        Files.writeString(state.resolve("hostdev/journal"), next,
                StandardCharsets.UTF_8, StandardOpenOption.APPEND); // the whole record, its newline not yet written
        OwnershipJournal reader = OwnershipJournal.readOnly(state);
        assertTrue(reader.get(A).isPresent());
        assertFalse(reader.get(B).isPresent(), "not durable until the writer's fsync returns");
        assertTrue(reader.replayWarnings().isEmpty(), reader.replayWarnings().toString());
    }

    @Test
    void aFlippedByteIsCaughtByTheChecksum() {
        String line = JournalCodec.put(Ownership.assignable(A, "e1000e", null));
        String damaged = line.replace("e1000e", "e1000f");
        assertThrows(IllegalArgumentException.class, () -> JournalCodec.decode(damaged));
        assertEquals(A, JournalCodec.decode(line).bdf());
    }

    @Test
    void compactionMovesEverythingIntoTheSnapshot() throws Exception {
        try (OwnershipJournal j = new OwnershipJournal(state)) {
            for (int i = 0; i < 50; i++) {
                j.put(Ownership.assignable(A, "e1000e", "n" + i));
            }
            j.put(Ownership.assignable(B, null, null));
            j.compact();
            assertEquals(0, Files.size(state.resolve("hostdev/journal")));
            assertEquals(2, Files.readAllLines(state.resolve("hostdev/snapshot")).size());
            j.drop(B);
        }
        try (OwnershipJournal j = new OwnershipJournal(state)) {
            assertEquals("n49", j.get(A).orElseThrow().name());
            assertFalse(j.get(B).isPresent());
        }
    }

    @Test
    void theRecordThatTriggersAutomaticCompactionIsKept() throws Exception {
        try (OwnershipJournal j = new OwnershipJournal(state)) {
            for (int i = 0; i < OwnershipJournal.COMPACT_AFTER - 1; i++) {
                j.put(Ownership.assignable(A, "e1000e", "n" + i));
            }
            j.put(Ownership.assignable(B, null, "last")); // the COMPACT_AFTER-th record: compaction runs inside it
            assertEquals(0, j.journalRecords(), "compacted");
        }
        try (OwnershipJournal j = new OwnershipJournal(state)) {
            assertEquals("last", j.get(B).orElseThrow().name(), "the record that triggered compaction survived");
            assertEquals("n" + (OwnershipJournal.COMPACT_AFTER - 2), j.get(A).orElseThrow().name());
        }
    }

    @Test
    void concurrentPutsAreAllDurable() throws Exception {
        java.util.List<PciAddress> devices = new java.util.ArrayList<>();
        for (int d = 0; d < 32; d++) {
            devices.add(new PciAddress(0, 0x10, d, 0));
        }
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(8);
        try (OwnershipJournal j = new OwnershipJournal(state)) {
            java.util.List<java.util.concurrent.Future<?>> all = new java.util.ArrayList<>();
            for (PciAddress a : devices) {
                all.add(pool.submit(() -> {
                    for (int i = 0; i < 20; i++) {
                        j.put(Ownership.assignable(a, "igbvf", "v" + i));
                    }
                    return null;
                }));
            }
            for (var f : all) {
                f.get(120, java.util.concurrent.TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        try (OwnershipJournal j = new OwnershipJournal(state)) {
            assertEquals(32, j.entries().size());
            for (PciAddress a : devices) {
                assertEquals("v19", j.get(a).orElseThrow().name(), a.toString());
            }
            assertTrue(j.replayWarnings().isEmpty(), j.replayWarnings().toString());
        }
    }

    @Test
    void aCrashBetweenSnapshotAndTruncationReplaysToTheSameState() throws Exception {
        try (OwnershipJournal j = new OwnershipJournal(state)) {
            j.put(Ownership.assignable(A, "e1000e", null));
            j.put(new Ownership(B, DeviceState.ATTACHED, Pending.NONE, GUEST, null, null, false, false));
            j.drop(A);
        }
        Path journal = state.resolve("hostdev/journal");
        byte[] before = Files.readAllBytes(journal);
        try (OwnershipJournal j = new OwnershipJournal(state)) {
            j.compact();
        }
        Files.write(journal, before); // as if the process died after the rename, before truncating
        try (OwnershipJournal j = new OwnershipJournal(state)) {
            assertFalse(j.get(A).isPresent());
            assertEquals(GUEST, j.get(B).orElseThrow().owner());
            assertEquals(1, j.entries().size());
        }
    }

    @Test
    void anUnwritableStateDirectoryIsNamed() throws Exception {
        Path file = state.resolve("not-a-dir");
        Files.writeString(file, "x");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new OwnershipJournal(file));
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    }
}
