package org.xenhost.libxl.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.Test;
import org.xenhost.libxl.stream.GuestStreams.Content;
import org.xenhost.libxl.stream.GuestStreams.Kind;
import org.xenhost.libxl.stream.GuestStreams.Shape;

/** The tap's phases and its thread-safe snapshots. */
class StreamTapTest {

    @Test
    void phasesFollowTheStream() throws IOException {
        byte[] stream = GuestStreams.libxl(Shape.of(Kind.HVM, 1, true, true, Content.IDLE)).bytes();
        List<Mutations.Item> items = new ArrayList<>();
        // record starts, read with the reader, then the tap fed item by item
        java.io.ByteArrayInputStream in = new java.io.ByteArrayInputStream(stream);
        StreamReader reader = StreamReader.libxl(in, ReaderLimits.DEFAULT);
        long at = 0;
        for (StreamRecord r; (r = reader.next()) != null; ) {
            items.add(new Mutations.Item(r.label(), (int) at));
            at = reader.offset();
        }
        StreamTap tap = new StreamTap(StreamTap.Format.LIBXL);
        List<StreamPhase> phases = new ArrayList<>();
        for (int i = 0; i < items.size(); i++) {
            int start = items.get(i).offset();
            int end = i + 1 < items.size() ? items.get(i + 1).offset() : stream.length;
            tap.accept(ByteBuffer.wrap(stream, start, end - start));
            StreamPhase p = tap.snapshot().phase();
            if (phases.isEmpty() || phases.get(phases.size() - 1) != p) {
                phases.add(p);
            }
        }
        assertEquals(List.of(StreamPhase.PREAMBLE, StreamPhase.MEMORY, StreamPhase.VERIFY, StreamPhase.FINAL_STATE,
                StreamPhase.COMPLETE), phases);
    }

    @Test
    void bareLibxcStreamAndDirectBuffers() throws IOException {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        StreamWriter w = StreamWriter.libxc(out);
        for (StreamRecord r : List.of(ImageHeader.V3, DomainHeader.hvm417(), new LibxcRecord.StaticDataEnd(),
                RecordRoundTripTest.batch(0, PageType.NOTAB, PageType.XTAB, PageType.NOTAB),
                new LibxcRecord.End())) {
            w.write(r);
        }
        ByteBuffer direct = ByteBuffer.allocateDirect(out.size()).put(out.toByteArray()).flip();
        StreamTap tap = new StreamTap(StreamTap.Format.LIBXC);
        tap.accept(direct);
        assertEquals(0, direct.position(), "the tap does not consume the caller's buffer");
        TapSnapshot s = tap.snapshot();
        assertNull(s.problem());
        assertEquals(StreamPhase.COMPLETE, s.phase());
        assertEquals(3, s.records());
        assertEquals(2, s.pagesWithData());
        assertEquals(1, s.pfns(PageType.XTAB));
        assertEquals(2, s.pfns(PageType.NOTAB));
    }

    @Test
    void directBuffersInAnyPiecesCountLikeArrays() throws IOException {
        // page contents in a direct buffer are skipped, not copied: the counts must not change for it
        byte[] stream = GuestStreams.libxl(Shape.of(Kind.HVM, 1, true, true, Content.RANDOM)).bytes();
        StreamTap heap = new StreamTap(StreamTap.Format.LIBXL);
        heap.accept(stream, 0, stream.length);
        ByteBuffer direct = ByteBuffer.allocateDirect(stream.length).put(stream).flip();
        for (int piece : new int[] {1, 7, 4096, 4104, 65536, 1 << 20}) {
            StreamTap tap = new StreamTap(StreamTap.Format.LIBXL);
            for (int at = 0; at < stream.length; at += piece) {
                tap.accept(direct.slice(at, Math.min(piece, stream.length - at)));
            }
            TapSnapshot a = heap.snapshot();
            TapSnapshot b = tap.snapshot();
            assertNull(b.problem(), "pieces of " + piece);
            assertEquals(a.bytes(), b.bytes(), "pieces of " + piece);
            assertEquals(a.records(), b.records(), "pieces of " + piece);
            assertEquals(a.pagesWithData(), b.pagesWithData(), "pieces of " + piece);
            assertEquals(a.verifyPages(), b.verifyPages(), "pieces of " + piece);
            assertEquals(a.pfns(PageType.NOTAB), b.pfns(PageType.NOTAB), "pieces of " + piece);
            assertEquals(StreamPhase.COMPLETE, b.phase(), "pieces of " + piece);
        }
    }

    @Test
    void snapshotsFromAnotherThreadNeverGoBackwards() throws Exception {
        byte[] stream = GuestStreams.libxl(Shape.of(Kind.PVH, 8, false, false, Content.IDLE)).bytes();
        StreamTap tap = new StreamTap(StreamTap.Format.LIBXL);
        AtomicBoolean done = new AtomicBoolean();
        List<String> violations = new ArrayList<>();
        Thread watcher = new Thread(() -> {
            long lastBytes = 0;
            long lastPages = 0;
            while (!done.get()) {
                TapSnapshot s = tap.snapshot();
                if (s.bytes() < lastBytes || s.pagesWithData() < lastPages
                        || s.memoryBytes() > s.bytes()) {
                    violations.add(s.toString());
                }
                lastBytes = s.bytes();
                lastPages = s.pagesWithData();
            }
        });
        watcher.start();
        for (int off = 0; off < stream.length; off += 1000) {
            tap.accept(stream, off, Math.min(1000, stream.length - off));
        }
        done.set(true);
        watcher.join();
        assertTrue(violations.isEmpty(), violations.toString());
        assertEquals(2048, tap.snapshot().pagesWithData());
    }
}
