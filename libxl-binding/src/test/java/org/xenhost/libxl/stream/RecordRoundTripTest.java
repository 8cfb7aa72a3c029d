package org.xenhost.libxl.stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.xenhost.libxl.stream.DomainHeader.GuestType;
import org.xenhost.libxl.stream.LibxlRecord.Emulator;

/** Every record type of both layers written, read back and written again to the same bytes. */
class RecordRoundTripTest {

    static PageBatch batch(long firstPfn, PageType... types) {
        PageBatch b = new PageBatch();
        byte[] page = new byte[Wire.PAGE_SIZE];
        for (int i = 0; i < types.length; i++) {
            if (types[i].hasData()) {
                java.util.Arrays.fill(page, (byte) (firstPfn + i));
                b.add(firstPfn + i, types[i], page, 0);
            } else {
                b.addWithoutData(firstPfn + i, types[i]);
            }
        }
        return b;
    }

    static List<StreamRecord> hvmStream() {
        return List.of(LibxlHeader.CURRENT, new LibxlRecord.LibxcContext(), ImageHeader.V3, DomainHeader.hvm417(),
                new LibxcRecord.CpuidPolicy(new byte[48]), new LibxcRecord.MsrPolicy(new byte[32]),
                new LibxcRecord.StaticDataEnd(),
                batch(0, PageType.NOTAB, PageType.XTAB, PageType.NOTAB, PageType.XALLOC, PageType.BROKEN),
                new LibxcRecord.Verify(), batch(0, PageType.NOTAB),
                new LibxcRecord.TscInfo(1, 2_000_000, 99, 7),
                new LibxcRecord.HvmContext(new byte[] {1, 2, 3}),
                new LibxcRecord.HvmParams(List.of(new LibxcRecord.HvmParam(1, 0xfeffeL),
                        new LibxcRecord.HvmParam(17, 0xfefffL))),
                new LibxcRecord.End(),
                LibxlRecord.EmulatorXenstoreData.of(Emulator.QEMU_UPSTREAM, 0,
                        Map.of("physmap/f0000000/name", "vga.vram")),
                new LibxlRecord.EmulatorContext(Emulator.QEMU_UPSTREAM, 0, new byte[] {9, 9, 9, 9, 9}),
                new LibxlRecord.CheckpointState(2),
                new LibxlRecord.End());
    }

    static List<StreamRecord> pvStream() {
        return List.of(LibxlHeader.CURRENT, new LibxlRecord.LibxcContext(), ImageHeader.V3,
                new DomainHeader(GuestType.X86_PV, 4, 17),
                new LibxcRecord.X86PvInfo(8, 4), new LibxcRecord.CpuidPolicy(new byte[24]),
                new LibxcRecord.MsrPolicy(new byte[16]), new LibxcRecord.StaticDataEnd(),
                new LibxcRecord.X86PvP2mFrames(0, 1023, new long[] {0x1234, 0x1235}),
                batch(16, PageType.L1TAB, PageType.L2TAB, PageType.L3TAB, PageType.L4TAB, PageType.L1TAB_PIN,
                        PageType.L2TAB_PIN, PageType.L3TAB_PIN, PageType.L4TAB_PIN, PageType.NOTAB),
                new LibxcRecord.TscInfo(0, 0, 0, 0), new LibxcRecord.SharedInfo(new byte[Wire.PAGE_SIZE]),
                new LibxcRecord.X86PvVcpu(LibxcRecordType.X86_PV_VCPU_BASIC, 0, new byte[5168]),
                new LibxcRecord.X86PvVcpu(LibxcRecordType.X86_PV_VCPU_EXTENDED, 0, new byte[3]),
                new LibxcRecord.X86PvVcpu(LibxcRecordType.X86_PV_VCPU_XSAVE, 0, new byte[832]),
                new LibxcRecord.X86PvVcpu(LibxcRecordType.X86_PV_VCPU_MSRS, 0, new byte[]{}),
                new LibxcRecord.End(), new LibxlRecord.End());
    }

    static List<StreamRecord> checkpointedStream() {
        return List.of(LibxlHeader.CURRENT, new LibxlRecord.LibxcContext(), ImageHeader.V2, DomainHeader.hvm417(),
                batch(0, PageType.NOTAB), new LibxcRecord.Checkpoint(),
                new LibxlRecord.EmulatorContext(Emulator.QEMU_UPSTREAM, 0, new byte[] {1}),
                new LibxlRecord.CheckpointEnd(), batch(0, PageType.NOTAB),
                new LibxcRecord.HvmContext(new byte[] {1}), new LibxcRecord.End(), new LibxlRecord.End());
    }

    static byte[] write(List<StreamRecord> records) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        StreamWriter w = StreamWriter.libxl(out);
        for (StreamRecord r : records) {
            w.write(r);
        }
        assertTrue(w.isDone());
        assertEquals(out.size(), w.offset());
        return out.toByteArray();
    }

    /** Reads every item and writes it again; returns the items' labels in order. */
    static List<String> readAndRewrite(byte[] stream, ByteArrayOutputStream again, boolean viaChannel)
            throws IOException {
        StreamReader reader = viaChannel
                ? StreamReader.libxl(Channels.newChannel(new ByteArrayInputStream(stream)), ReaderLimits.DEFAULT)
                : StreamReader.libxl(new ByteArrayInputStream(stream), ReaderLimits.DEFAULT);
        StreamWriter w = viaChannel ? StreamWriter.libxl(Channels.newChannel(again)) : StreamWriter.libxl(again);
        List<String> labels = new ArrayList<>();
        for (StreamRecord r; (r = reader.next()) != null; ) {
            labels.add(r.label());
            w.write(r);
        }
        assertTrue(reader.isDone());
        assertNull(reader.next(), "nothing after the final END");
        reader.requireEndOfInput();
        return labels;
    }

    @Test
    void everyRecordTypeSurvivesWriteReadWrite() throws IOException {
        Set<LibxcRecordType> libxcSeen = EnumSet.noneOf(LibxcRecordType.class);
        Set<LibxlRecordType> libxlSeen = EnumSet.noneOf(LibxlRecordType.class);
        for (List<StreamRecord> stream : List.of(hvmStream(), pvStream(), checkpointedStream())) {
            for (boolean channel : new boolean[] {false, true}) {
                byte[] bytes = write(stream);
                assertEquals(0, bytes.length % 8, "records keep the stream 8-byte aligned");
                ByteArrayOutputStream again = new ByteArrayOutputStream();
                List<String> labels = readAndRewrite(bytes, again, channel);
                assertArrayEquals(bytes, again.toByteArray());
                assertEquals(stream.stream().map(StreamRecord::label).toList(), labels);
            }
            for (StreamRecord r : stream) {
                if (r instanceof LibxcRecord x) {
                    libxcSeen.add(x.type());
                } else if (r instanceof LibxlRecord l) {
                    libxlSeen.add(l.type());
                }
            }
        }
        Set<LibxcRecordType> notInStreams = EnumSet.of(LibxcRecordType.TOOLSTACK,
                LibxcRecordType.CHECKPOINT_DIRTY_PFN_LIST);
        assertEquals(EnumSet.complementOf(EnumSet.copyOf(notInStreams)), libxcSeen);
        assertEquals(EnumSet.allOf(LibxlRecordType.class), libxlSeen);
    }

    @Test
    void decodedFieldsEqualWhatWasWritten() throws IOException {
        List<StreamRecord> written = hvmStream();
        StreamReader reader = StreamReader.libxl(new ByteArrayInputStream(write(written)), ReaderLimits.DEFAULT);
        List<StreamRecord> read = new ArrayList<>();
        for (StreamRecord r; (r = reader.next()) != null; ) {
            if (r instanceof PageBatch b) {
                assertTrue(b.count() == 5 || b.count() == 1, "the batch of 5 pfns or the verify batch of 1");
                assertEquals(PageType.NOTAB, b.pageType(0));
                assertEquals(0, b.pfn(0));
                byte[] page = new byte[Wire.PAGE_SIZE];
                b.copyPage(0, page, 0);
                assertEquals(0, page[4095]);
                if (b.count() == 5) {
                    assertEquals(PageType.XTAB, b.pageType(1));
                    assertFalse(b.hasData(1));
                    assertEquals(2, b.pfn(2));
                    b.copyPage(2, page, 0);
                    assertEquals(2, page[0]);
                    assertEquals(2, page[4095]);
                    ByteBuffer guest = ByteBuffer.allocateDirect(3 * Wire.PAGE_SIZE);
                    b.copyPage(2, guest, 2 * Wire.PAGE_SIZE);
                    assertEquals(2, guest.get(3 * Wire.PAGE_SIZE - 1));
                    assertTrue(b.samePage(2, guest, 2 * Wire.PAGE_SIZE));
                    guest.put(2 * Wire.PAGE_SIZE + 17, (byte) 3);
                    assertFalse(b.samePage(2, guest, 2 * Wire.PAGE_SIZE), "a changed byte is a different page");
                    assertEquals(PageType.XALLOC, b.pageType(3));
                    assertEquals(PageType.BROKEN, b.pageType(4));
                    assertEquals(2, b.pagesWithData());
                    assertEquals(2 * Wire.PAGE_SIZE, b.pageData().remaining());
                }
                continue;
            }
            read.add(r);
        }
        assertEquals(reader.imageHeader(), ImageHeader.V3);
        assertEquals(reader.domainHeader(), DomainHeader.hvm417());
        assertEquals(reader.libxlHeader(), LibxlHeader.CURRENT);
        assertTrue(read.contains(new LibxcRecord.TscInfo(1, 2_000_000, 99, 7)));
        assertTrue(read.contains(new LibxcRecord.HvmParams(List.of(new LibxcRecord.HvmParam(1, 0xfeffeL),
                new LibxcRecord.HvmParam(17, 0xfefffL)))));
        assertTrue(read.contains(new LibxlRecord.CheckpointState(2)));
        LibxlRecord.EmulatorXenstoreData xs = read.stream().filter(r -> r instanceof LibxlRecord.EmulatorXenstoreData)
                .map(r -> (LibxlRecord.EmulatorXenstoreData) r).findFirst().orElseThrow();
        assertEquals(Map.of("physmap/f0000000/name", "vga.vram"), xs.entries());
        assertEquals(Emulator.QEMU_UPSTREAM, xs.emulator());
    }

    @Test
    void pagesAddedInPlaceAreWrittenAsIfCopied() throws IOException {
        // a guest's memory as a direct buffer; pages 3..6 adjacent (one write), then 9, then 1 (separate writes)
        ByteBuffer memory = ByteBuffer.allocateDirect(16 * Wire.PAGE_SIZE);
        for (int i = 0; i < memory.capacity(); i++) {
            memory.put(i, (byte) (i * 7 + i / Wire.PAGE_SIZE));
        }
        long[] pfns = {3, 4, 5, 6, 9, 1};
        PageBatch copied = new PageBatch(8);
        PageBatch inPlace = new PageBatch(8);
        for (long pfn : pfns) {
            copied.add(pfn, PageType.NOTAB, memory, (int) pfn * Wire.PAGE_SIZE);
            inPlace.addInPlace(pfn, PageType.NOTAB, memory, (int) pfn * Wire.PAGE_SIZE);
        }
        copied.addWithoutData(12, PageType.XTAB);
        inPlace.addWithoutData(12, PageType.XTAB);
        byte[] a = writeBatch(copied);
        byte[] b = writeBatch(inPlace);
        assertArrayEquals(a, b);
        byte[] page = new byte[Wire.PAGE_SIZE];
        inPlace.copyPage(4, page, 0);
        assertTrue(inPlace.samePage(4, memory, 9 * Wire.PAGE_SIZE));
        assertEquals(memory.get(9 * Wire.PAGE_SIZE + 5), page[5]);
        assertThrows(IllegalStateException.class, inPlace::pageData, "no buffer of its own to show");
        assertThrows(IllegalStateException.class, () -> inPlace.add(13, PageType.NOTAB, memory, 0),
                "copied and in-place pages do not mix");
        inPlace.clear();
        inPlace.add(13, PageType.NOTAB, memory, 0); // cleared: either kind again
        assertFalse(inPlace.isInPlace());
    }

    private static byte[] writeBatch(PageBatch b) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        StreamWriter w = StreamWriter.libxc(Channels.newChannel(out));
        w.write(ImageHeader.V3);
        w.write(DomainHeader.hvm417());
        w.write(new LibxcRecord.StaticDataEnd());
        w.write(b);
        return out.toByteArray();
    }

    @Test
    void bareLibxcStreamRoundTrips() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        StreamWriter w = StreamWriter.libxc(out);
        for (StreamRecord r : List.of(ImageHeader.V3, DomainHeader.hvm417(), new LibxcRecord.StaticDataEnd(),
                batch(7, PageType.NOTAB), new LibxcRecord.HvmContext(new byte[8]), new LibxcRecord.End())) {
            w.write(r);
        }
        StreamReader reader = StreamReader.libxc(new ByteArrayInputStream(out.toByteArray()), ReaderLimits.DEFAULT);
        int items = 0;
        while (reader.next() != null) {
            items++;
        }
        assertEquals(6, items);
        assertEquals(out.size(), reader.offset());
    }

    @Test
    void smallestStreamsAreTheSizesXenDocuments() throws IOException {
        ByteArrayOutputStream libxc = new ByteArrayOutputStream();
        StreamWriter w = StreamWriter.libxc(libxc);
        w.write(ImageHeader.V3);
        w.write(DomainHeader.hvm417());
        w.write(new LibxcRecord.End());
        assertEquals(48, libxc.size());
    }

    @Test
    void writerRefusesWhatXenWouldRefuse() {
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        StreamWriter w = StreamWriter.libxl(sink);
        assertThrows(IllegalStateException.class, () -> w.write(new LibxlRecord.End()), "header first");
        StreamWriter hvm = StreamWriter.libxl(sink);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> {
            hvm.write(LibxlHeader.CURRENT);
            hvm.write(new LibxlRecord.LibxcContext());
            hvm.write(ImageHeader.V3);
            hvm.write(DomainHeader.hvm417());
            hvm.write(batch(0, PageType.NOTAB));
        });
        assertTrue(e.getMessage().contains("STATIC_DATA_END"), e.getMessage());
        StreamWriter pvInHvm = StreamWriter.libxc(sink);
        e = assertThrows(IllegalStateException.class, () -> {
            pvInHvm.write(ImageHeader.V3);
            pvInHvm.write(DomainHeader.hvm417());
            pvInHvm.write(new LibxcRecord.X86PvInfo(8, 4));
        });
        assertTrue(e.getMessage().contains("PV"), e.getMessage());
        StreamWriter v2 = StreamWriter.libxc(sink);
        e = assertThrows(IllegalStateException.class, () -> {
            v2.write(ImageHeader.V2);
            v2.write(DomainHeader.hvm417());
            v2.write(new LibxcRecord.StaticDataEnd());
        });
        assertTrue(e.getMessage().contains("version 2"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> StreamWriter.libxc(sink).write(new PageBatch()));
    }

    @Test
    void pageBatchChecksItsInput() {
        PageBatch b = new PageBatch(2);
        byte[] page = new byte[Wire.PAGE_SIZE];
        assertThrows(IllegalArgumentException.class, () -> b.add(1L << 52, PageType.NOTAB, page, 0));
        assertThrows(IllegalArgumentException.class, () -> b.add(1, PageType.XTAB, page, 0));
        assertThrows(IllegalArgumentException.class, () -> b.addWithoutData(1, PageType.NOTAB));
        b.add(1, PageType.NOTAB, page, 0);
        b.addWithoutData(2, PageType.XTAB);
        assertTrue(b.isFull());
        assertThrows(IllegalStateException.class, () -> b.addWithoutData(3, PageType.XTAB));
        assertThrows(IllegalArgumentException.class, () -> b.dataOffset(1));
        assertThrows(IndexOutOfBoundsException.class, () -> b.pfn(2));
        b.clear();
        assertTrue(b.isEmpty());
    }
}
