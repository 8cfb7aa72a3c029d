package org.xenhost.libxl.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.xenhost.libxl.stream.GuestStreams.Content;
import org.xenhost.libxl.stream.GuestStreams.Kind;
import org.xenhost.libxl.stream.GuestStreams.Shape;

/** Streams shaped as libxenguest 4.17 writes them: restored memory equals the source's, the tap agrees. */
class RealisticStreamTest {

    static Stream<Shape> shapes() {
        return Stream.of(
                Shape.of(Kind.HVM, 1, false, false, Content.RANDOM),
                Shape.of(Kind.PVH, 4, true, false, Content.RANDOM),
                Shape.of(Kind.HVM, 4, true, true, Content.RANDOM).withBallooned(7).withEmulatorKeys(),
                Shape.of(Kind.PVH, 8, false, true, Content.IDLE),
                Shape.of(Kind.HVM, 8, true, false, Content.IDLE).withDirty(5000));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void restoredMemoryEqualsSourceMemory(Shape shape) throws IOException {
        GuestStreams.Generated g = GuestStreams.libxl(shape);
        for (boolean channel : new boolean[] {false, true}) {
            InputStream in = new ByteArrayInputStream(g.bytes());
            StreamReader reader = channel
                    ? StreamReader.libxl(Channels.newChannel(in), ReaderLimits.forGuestMemory(shape.memoryPages() * 4096L))
                    : StreamReader.libxl(in, ReaderLimits.forGuestMemory(shape.memoryPages() * 4096L));
            ByteBuffer restored = GuestStreams.restore(reader, shape.memoryPages());
            zeroBallooned(g);
            assertEquals(g.finalMemory().clear(), restored.clear(), "restored memory differs from the source's");
            assertEquals(g.bytes().length, reader.offset());
            reader.requireEndOfInput();
        }
    }

    /**
     * Pages taken as they arrive ({@link StreamReader#next(PageSink)}) rebuild the same memory, from a stream, a plain
     * channel, and a lending channel whose pieces (3000 bytes) cut pages apart; VERIFY pages stay in the batch.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void pagesDeliveredToASinkRebuildTheSameMemory(Shape shape) throws IOException {
        GuestStreams.Generated g = GuestStreams.libxl(shape);
        zeroBallooned(g);
        ReaderLimits limits = ReaderLimits.forGuestMemory(shape.memoryPages() * 4096L);
        for (int input = 0; input < 3; input++) {
            InputStream in = new ByteArrayInputStream(g.bytes());
            StreamReader reader = switch (input) {
                case 0 -> StreamReader.libxl(in, limits);
                case 1 -> StreamReader.libxl(Channels.newChannel(in), limits);
                default -> StreamReader.libxl(new PieceLender(g.bytes(), 3000), limits);
            };
            ByteBuffer memory = ByteBuffer.allocateDirect(shape.memoryPages() * Wire.PAGE_SIZE);
            PageSink sink = (address, src) -> {
                int n = Math.min(src.remaining(), 2048); // a sink may take less than offered
                memory.put((int) address, src, src.position(), n);
                src.position(src.position() + n);
                return n;
            };
            boolean verifying = false;
            long delivered = 0;
            for (StreamRecord r; (r = verifying ? reader.next() : reader.next(sink)) != null; ) {
                if (r instanceof LibxcRecord.Verify) {
                    verifying = true;
                } else if (r instanceof PageBatch b) {
                    assertEquals(!verifying, b.pagesDelivered());
                    if (b.pagesDelivered()) {
                        delivered += b.pagesWithData();
                        assertThrows(IllegalStateException.class, b::pageData, "contents are not in a delivered batch");
                    } else {
                        for (int i = 0; i < b.count(); i++) {
                            if (b.hasData(i)) {
                                assertTrue(b.samePage(i, memory, (int) (b.pfn(i) << Wire.PAGE_SHIFT)), "VERIFY page " + b.pfn(i));
                            }
                        }
                    }
                }
            }
            assertEquals(g.finalMemory().clear(), memory.clear(), "input " + input + ": memory differs from the source's");
            assertEquals(g.pagesWithData() - g.verifyPages(), delivered);
            assertEquals(g.bytes().length, reader.offset());
            reader.requireEndOfInput();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void aStreamCutInsidePageDataIsTruncatedForTheSinkToo(Shape shape) throws IOException {
        GuestStreams.Generated g = GuestStreams.libxl(shape);
        byte[] cut = java.util.Arrays.copyOf(g.bytes(), g.bytes().length / 2);
        StreamReader reader = StreamReader.libxl(new PieceLender(cut, 3000),
                ReaderLimits.forGuestMemory(shape.memoryPages() * 4096L));
        ByteBuffer memory = ByteBuffer.allocateDirect(shape.memoryPages() * Wire.PAGE_SIZE);
        StreamTruncatedException e = assertThrows(StreamTruncatedException.class, () -> {
            for (StreamRecord r; (r = reader.next((address, src) -> {
                int n = src.remaining();
                memory.put((int) address, src, src.position(), n);
                src.position(src.position() + n);
                return n;
            })) != null; ) {
                assertTrue(reader.offset() <= cut.length);
            }
        });
        assertTrue(e.getMessage().contains("PAGE_DATA"), e.getMessage());
    }

    /** A channel that lends its bytes in pieces of at most {@code piece} bytes, as a transport lends its buffers. */
    private static final class PieceLender implements LendingChannel {
        private final ByteBuffer bytes;
        private final int piece;

        PieceLender(byte[] b, int piece) {
            this.bytes = ByteBuffer.wrap(b);
            this.piece = piece;
        }

        @Override
        public long transferTo(long count, java.nio.channels.WritableByteChannel dst) throws IOException {
            long done = 0;
            while (done < count && bytes.hasRemaining()) {
                ByteBuffer view = bytes.slice(bytes.position(), (int) Math.min(Math.min(piece, count - done), bytes.remaining()));
                while (view.hasRemaining()) {
                    dst.write(view);
                }
                bytes.position(bytes.position() + view.capacity());
                done += view.capacity();
            }
            return done;
        }

        @Override
        public int read(ByteBuffer dst) {
            if (!bytes.hasRemaining()) {
                return -1;
            }
            int n = Math.min(dst.remaining(), bytes.remaining());
            dst.put(dst.position(), bytes, bytes.position(), n);
            dst.position(dst.position() + n);
            bytes.position(bytes.position() + n);
            return n;
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }
    }

    private static void zeroBallooned(GuestStreams.Generated g) {
        // a ballooned pfn is sent as XTAB, without contents: the receiver keeps it empty
        byte[] zero = new byte[Wire.PAGE_SIZE];
        for (int pfn = g.ballooned().nextSetBit(0); pfn >= 0; pfn = g.ballooned().nextSetBit(pfn + 1)) {
            g.finalMemory().put(pfn * Wire.PAGE_SIZE, zero);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void saveFileCarriesConfigAndStream(Shape shape) throws IOException {
        byte[] file = GuestStreams.saveFile(shape);
        StreamReader reader = StreamReader.saveFile(new ByteArrayInputStream(file), ReaderLimits.DEFAULT);
        assertEquals(GuestStreams.configJson(shape), reader.saveHeader().config());
        assertTrue(reader.saveHeader().streamV2());
        ByteBuffer restored = GuestStreams.restore(reader, shape.memoryPages());
        GuestStreams.Generated g = GuestStreams.libxl(shape);
        zeroBallooned(g);
        assertEquals(g.finalMemory().clear(), restored.clear());
        assertEquals(file.length, reader.offset());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void tapCountsWhatTheWriterSent(Shape shape) throws IOException {
        GuestStreams.Generated g = GuestStreams.libxl(shape);
        SplittableRandom random = new SplittableRandom(7);
        for (int chunkMax : List.of(1, 7, 4096, 65536, Integer.MAX_VALUE)) {
            StreamTap tap = new StreamTap(StreamTap.Format.LIBXL);
            byte[] b = g.bytes();
            for (int off = 0; off < b.length; ) {
                // tiny chunks over the start (headers, static records, first pfn lists) and the end (final records)
                // of the stream, bigger ones through the bulk of the memory, so the test stays quick
                boolean edge = off < 300_000 || off > b.length - 100_000;
                int max = edge ? chunkMax : Math.max(chunkMax, 65536);
                int n = Math.min(b.length - off, 1 + random.nextInt(Math.min(max, b.length)));
                tap.accept(b, off, n);
                off += n;
            }
            TapSnapshot s = tap.snapshot();
            assertNull(s.problem());
            assertEquals(StreamPhase.COMPLETE, s.phase());
            assertEquals(b.length, s.bytes());
            assertEquals(g.records(), s.records(), "records");
            assertEquals(g.pageDataRecords(), s.pageDataRecords());
            assertEquals(g.pfns(), s.pfns());
            assertEquals(g.pagesWithData(), s.pagesWithData());
            assertEquals(g.verifyPages(), s.verifyPages());
            assertEquals(g.xtabPfns(), s.pfns(PageType.XTAB));
            assertEquals(g.pagesWithData() * 4096, s.memoryBytes());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void tapInputStreamSeesASaveFileAsTheReaderReadsIt(Shape shape) throws IOException {
        byte[] file = GuestStreams.saveFile(shape);
        StreamTap tap = new StreamTap(StreamTap.Format.XL_SAVE_FILE);
        StreamReader reader = StreamReader.saveFile(new TapInputStream(new ByteArrayInputStream(file), tap),
                ReaderLimits.DEFAULT);
        long pages = 0;
        boolean sawMemoryPhase = false;
        for (StreamRecord r; (r = reader.next()) != null; ) {
            if (r instanceof PageBatch b) {
                pages += b.pagesWithData();
                assertEquals(pages, tap.snapshot().pagesWithData(), "tap is exactly at the reader's position");
                sawMemoryPhase |= tap.snapshot().phase() == StreamPhase.MEMORY;
            }
        }
        assertEquals(StreamPhase.COMPLETE, tap.snapshot().phase());
        assertEquals(file.length, tap.snapshot().bytes());
        assertTrue(sawMemoryPhase, "the tap reported the memory phase while pages flowed");
    }
}
