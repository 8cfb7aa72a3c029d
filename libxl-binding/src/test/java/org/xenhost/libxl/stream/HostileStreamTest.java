package org.xenhost.libxl.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeSet;

import org.junit.jupiter.api.Test;
import org.xenhost.libxl.stream.GuestStreams.Content;
import org.xenhost.libxl.stream.GuestStreams.Kind;
import org.xenhost.libxl.stream.GuestStreams.Shape;

/** Hostile and broken input: always a clean StreamFormatException naming where, never a big allocation. */
class HostileStreamTest {
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    /** Reads a whole libxl stream with the given limits, as a restore would. */
    static void readAll(byte[] stream, ReaderLimits limits) throws IOException {
        readAll(new ByteArrayInputStream(stream), limits);
    }

    static void readAll(InputStream in, ReaderLimits limits) throws IOException {
        StreamReader reader = StreamReader.libxl(in, limits);
        ByteBuffer guest = ByteBuffer.allocate(Wire.PAGE_SIZE);
        for (StreamRecord r; (r = reader.next()) != null; ) {
            if (r instanceof PageBatch b) {
                for (int i = 0; i < b.count(); i++) {
                    if (b.hasData(i)) {
                        b.copyPage(i, guest, 0);
                    }
                }
            }
        }
        reader.requireEndOfInput();
    }

    static StreamFormatException rejected(byte[] stream) {
        return assertThrows(StreamFormatException.class, () -> readAll(stream, ReaderLimits.DEFAULT));
    }

    /** Bytes this thread allocates while running {@code body} (which must throw StreamFormatException). */
    static long allocatedWhileRejecting(InputStream in) {
        long before = THREADS.getCurrentThreadAllocatedBytes();
        assertThrows(StreamFormatException.class, () -> readAll(in, ReaderLimits.DEFAULT));
        return THREADS.getCurrentThreadAllocatedBytes() - before;
    }

    @Test
    void truncatedAtEveryRecordBoundaryAndInsideEveryRecord() throws IOException {
        for (boolean saveFile : new boolean[] {false, true}) {
            Shape shape = Shape.of(Kind.HVM, 1, true, true, Content.RANDOM).withBallooned(9);
            byte[] stream = saveFile ? GuestStreams.saveFile(shape) : GuestStreams.libxl(shape).bytes();
            List<Long> bounds = GuestStreams.boundaries(stream, saveFile);
            TreeSet<Long> cuts = new TreeSet<>();
            for (int i = 0; i + 1 < bounds.size(); i++) {
                long start = bounds.get(i);
                long end = bounds.get(i + 1);
                for (long cut : new long[] {start, start + 1, start + 4, start + 7, start + 8, start + 12,
                        (start + end) / 2, end - 4097, end - 1}) {
                    if (cut >= start && cut < end) {
                        cuts.add(cut);
                    }
                }
            }
            assertTrue(cuts.size() > 100, "cuts: " + cuts.size());
            for (long cut : cuts) {
                StreamTruncatedException e = assertThrows(StreamTruncatedException.class, () -> {
                    InputStream truncated = new ByteArrayInputStream(stream, 0, (int) cut);
                    if (saveFile) {
                        StreamReader r = StreamReader.saveFile(truncated, ReaderLimits.DEFAULT);
                        while (r.next() != null) {
                            continue;
                        }
                    } else {
                        readAll(truncated, ReaderLimits.DEFAULT);
                    }
                }, "cut at " + cut);
                assertEquals(cut, e.offset(), "the error names where the input ended");
                assertTrue(e.recordOffset() <= cut && bounds.contains(e.recordOffset()), e.getMessage());
            }
        }
    }

    @Test
    void seededRandomBytesAreRejectedCleanly() {
        SplittableRandom random = new SplittableRandom(20261127);
        byte[] validHeader = ByteBuffer.allocate(16).putLong(Wire.LIBXL_IDENT).putInt(2).putInt(0).array();
        for (int i = 0; i < 3000; i++) {
            byte[] junk = GuestStreams.blob(random, random.nextInt(4096));
            if (i % 2 == 1) {
                System.arraycopy(validHeader, 0, junk, 0, Math.min(16, junk.length)); // get past the header
            }
            try {
                readAll(junk, ReaderLimits.DEFAULT);
                fail("random bytes accepted as a stream (iteration " + i + ")");
            } catch (StreamFormatException expected) {
                assertTrue(expected.offset() <= junk.length);
            } catch (IOException | RuntimeException e) {
                throw new AssertionError("iteration " + i + " failed uncleanly", e);
            }
        }
    }

    @Test
    void seededMutationsOfAValidStreamFailCleanlyOrStillParse() throws IOException {
        byte[] base = Mutations.base();
        // aim at structure (headers, record headers, counts, pfn entries), not at page contents
        List<Integer> targets = new java.util.ArrayList<>();
        for (Mutations.Item item : Mutations.items(base)) {
            for (int at = item.offset(); at < Math.min(item.offset() + 40, base.length - 4); at += 4) {
                targets.add(at);
            }
        }
        SplittableRandom random = new SplittableRandom(4242);
        int rejected = 0;
        for (int i = 0; i < 2500; i++) {
            byte[] m = base.clone();
            int edits = 1 + random.nextInt(3);
            for (int e = 0; e < edits; e++) {
                int at = targets.get(random.nextInt(targets.size()));
                int value = switch (random.nextInt(4)) {
                    case 0 -> -1;
                    case 1 -> random.nextInt(32);
                    case 2 -> 1 << random.nextInt(32);
                    default -> random.nextInt();
                };
                ByteBuffer.wrap(m).order(ByteOrder.LITTLE_ENDIAN).putInt(at, value);
            }
            long before = THREADS.getCurrentThreadAllocatedBytes();
            try {
                readAll(m, ReaderLimits.DEFAULT);
            } catch (StreamFormatException expected) {
                rejected++;
            } catch (IOException | RuntimeException e) {
                throw new AssertionError("mutation " + i + " failed uncleanly", e);
            }
            long allocated = THREADS.getCurrentThreadAllocatedBytes() - before;
            assertTrue(allocated < 16 << 20, "mutation " + i + " made the reader allocate " + allocated + " bytes");
        }
        assertTrue(rejected > 1250, "most mutations hit something checked: " + rejected);
    }

    @Test
    void lengthFieldsOfAllOnesAreRejectedWithoutAllocating() throws IOException {
        byte[] base = Mutations.base();
        for (Mutations.Item item : Mutations.items(base)) {
            if (item.label().contains("header")) {
                continue;
            }
            byte[] m = Mutations.putLe32(base, item.offset() + 4, -1);
            long allocated = allocatedWhileRejecting(new ByteArrayInputStream(m));
            assertTrue(allocated < 1 << 20, item.label() + ": allocated " + allocated);
            StreamFormatException e = rejected(m);
            assertEquals(item.offset(), e.recordOffset(), e.getMessage());
            assertTrue(e.getMessage().contains(item.label()), e.getMessage());
        }
    }

    @Test
    void aLengthNearTheLimitCostsOnlyTheBytesThatArrive() throws IOException {
        // EMULATOR_CONTEXT may legitimately be large: claim 128 MiB - 8, send 3 MiB, then stop.
        byte[] base = Mutations.base();
        int emulator = Mutations.offsetOf(base, "EMULATOR_CONTEXT", 0);
        byte[] head = Mutations.cut(Mutations.putLe32(base, emulator + 4, Wire.REC_LENGTH_MAX - 8), emulator + 16);
        InputStream in = new SequenceInputStream(new ByteArrayInputStream(head),
                new ByteArrayInputStream(new byte[3 << 20]));
        long allocated = allocatedWhileRejecting(in);
        assertTrue(allocated < 24 << 20, "allocated " + allocated + " for 3 MiB that arrived");
    }

    @Test
    void wrongMagicAndVersionsAreNamed() throws IOException {
        byte[] base = Mutations.base();
        int ihdr = Mutations.offsetOf(base, "image header", 0);
        StreamFormatException e = rejected(Mutations.putByte(base, 0, 'X'));
        assertTrue(e.getMessage().contains("not a libxl migration stream"), e.getMessage());
        assertEquals(0, e.offset());
        e = rejected(Mutations.putBe32(base, 8, 1));
        assertTrue(e.getMessage().contains("version 1"), e.getMessage());
        assertEquals(8, e.offset());
        e = rejected(Mutations.putBe32(base, 12, 1));
        assertTrue(e.getMessage().contains("big-endian"), e.getMessage());
        e = rejected(Mutations.putByte(base, ihdr, 0));
        assertTrue(e.getMessage().contains("marker"), e.getMessage());
        e = rejected(Mutations.putBe32(base, ihdr + 12, 4));
        assertTrue(e.getMessage().contains("libxc stream version 4"), e.getMessage());
        assertEquals(ihdr + 12, e.offset());
        e = assertThrows(StreamFormatException.class, () -> StreamReader.libxl(
                new ByteArrayInputStream(GuestStreams.saveFile(Shape.of(Kind.PVH, 1, false, false, Content.IDLE))),
                ReaderLimits.DEFAULT).next());
        assertTrue(e.getMessage().contains("looks like an xl save file"), e.getMessage());
    }

    @Test
    void pfnBeyondTheGuestIsRejectedAtItsEntry() throws IOException {
        Shape shape = Shape.of(Kind.PVH, 4, false, false, Content.IDLE);
        byte[] stream = GuestStreams.libxl(shape).bytes();
        readAll(stream, ReaderLimits.forGuestMemory(4 << 20));
        StreamFormatException e = assertThrows(StreamFormatException.class,
                () -> readAll(stream, ReaderLimits.forGuestMemory(1 << 20)));
        assertTrue(e.getMessage().contains("pfn[256] = 0x100 is beyond the guest's 256 pages"), e.getMessage());
        int firstPage = Mutations.offsetOf(stream, "PAGE_DATA", 0);
        assertEquals(firstPage, e.recordOffset());
        assertEquals(firstPage + 16 + 8 * 256, e.offset());
    }

    @Test
    void badPaddingNamesTheByte() throws IOException {
        byte[] base = Mutations.base();
        int hvmContext = Mutations.offsetOf(base, "HVM_CONTEXT", 0);
        StreamFormatException e = rejected(Mutations.putByte(base, hvmContext + 8 + 3 + 4, 0x80));
        assertEquals(hvmContext + 8 + 3 + 4, e.offset());
        assertTrue(e.getMessage().contains("padding must be zero"), e.getMessage());
        assertTrue(e.getMessage().contains("libxc HVM_CONTEXT record starting at byte " + hvmContext), e.getMessage());
    }

    @Test
    void unknownRecordTypesAreNamed() throws IOException {
        byte[] base = Mutations.base();
        StreamFormatException e = rejected(Mutations.putLe32(base, Mutations.offsetOf(base, "libxc END", 0), 0x77));
        assertTrue(e.getMessage().contains("unknown libxc record type 0x77"), e.getMessage());
        e = rejected(Mutations.putLe32(base, Mutations.offsetOf(base, "libxl END", 0), 0x80000005));
        assertTrue(e.getMessage().contains("unknown libxl record type 0x80000005"), e.getMessage());
    }

    @Test
    void duplicateHeadersAndRecordsOutOfOrderAreRejected() throws IOException {
        byte[] base = Mutations.base();
        byte[] libxlHeader = Mutations.cut(base, 16);
        int ihdr = Mutations.offsetOf(base, "image header", 0);
        int dhdr = Mutations.offsetOf(base, "domain header", 0);
        int cpuid = Mutations.offsetOf(base, "CPUID", 0);
        int sde = Mutations.offsetOf(base, "STATIC_DATA_END", 0);
        int firstPage = Mutations.offsetOf(base, "PAGE_DATA", 0);
        int libxcEnd = Mutations.offsetOf(base, "libxc END", 0);
        byte[] imageAndDomain = java.util.Arrays.copyOfRange(base, ihdr, cpuid);
        byte[] libxcContext = java.util.Arrays.copyOfRange(base, 16, 24);
        byte[] staticDataEnd = java.util.Arrays.copyOfRange(base, sde, firstPage);

        assertMessage(Mutations.insert(base, 16, libxlHeader), "second libxl header");
        assertMessage(Mutations.insert(base, cpuid, imageAndDomain), "second libxc image header");
        assertMessage(Mutations.insert(base, libxcEnd + 8, libxcContext), "second LIBXC_CONTEXT");
        assertMessage(Mutations.insert(base, firstPage, staticDataEnd), "second STATIC_DATA_END");
        byte[] noStaticEnd = new byte[base.length - 8];
        System.arraycopy(base, 0, noStaticEnd, 0, sde);
        System.arraycopy(base, sde + 8, noStaticEnd, sde, base.length - sde - 8);
        assertMessage(noStaticEnd, "No STATIC_DATA_END seen");
        byte[] dupDomain = Mutations.insert(base, cpuid, java.util.Arrays.copyOfRange(base, dhdr, cpuid));
        rejected(dupDomain);
        StreamFormatException e = assertThrows(StreamFormatException.class,
                () -> readAll(Mutations.insert(base, base.length, new byte[8]), ReaderLimits.DEFAULT));
        assertTrue(e.getMessage().contains("data follows the final END"), e.getMessage());
        assertEquals(base.length, e.offset());
    }

    @Test
    void oversizedBatchIsRejectedBeforeItsPfnsAreRead() throws IOException {
        byte[] base = Mutations.base();
        int page = Mutations.offsetOf(base, "PAGE_DATA", 0);
        assertMessage(Mutations.putLe32(base, page + 8, 1025), "pfn count 1025 exceeds the limit of 1024");
        assertMessage(Mutations.putLe32(base, page + 8, 3000), "exceeds the limit");
    }

    @Test
    void aFailedReaderStaysFailed() throws IOException {
        StreamReader reader = StreamReader.libxl(new ByteArrayInputStream(new byte[3]), ReaderLimits.DEFAULT);
        assertInstanceOf(StreamTruncatedException.class, assertThrows(StreamFormatException.class, reader::next));
        assertThrows(IllegalStateException.class, reader::next);
    }

    @Test
    void tapReportsInsteadOfThrowing() throws IOException {
        byte[] base = Mutations.base();
        byte[] broken = Mutations.putLe64(base, Mutations.offsetOf(base, "PAGE_DATA", 0) + 16, 6L << 60);
        StreamTap tap = new StreamTap(StreamTap.Format.LIBXL);
        tap.accept(broken, 0, broken.length);
        assertEquals(StreamPhase.UNPARSEABLE, tap.snapshot().phase());
        assertTrue(tap.snapshot().problem().contains("reserved"), tap.snapshot().problem());
        assertEquals(broken.length, tap.snapshot().bytes(), "bytes still counted");
        SplittableRandom random = new SplittableRandom(1);
        for (int i = 0; i < 2000; i++) {
            byte[] junk = GuestStreams.blob(random, random.nextInt(2048));
            StreamTap t = new StreamTap(StreamTap.Format.values()[i % 3]);
            t.accept(junk, 0, junk.length);
            assertEquals(junk.length, t.snapshot().bytes());
        }
    }

    private static void assertMessage(byte[] stream, String expected) {
        StreamFormatException e = rejected(stream);
        assertTrue(e.getMessage().contains(expected), "expected \"" + expected + "\" in: " + e.getMessage());
    }
}
