package org.xenhost.libxl.stream;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.xenhost.libxl.stream.LibxlRecord.Emulator;

/**
 * Test generator of streams shaped as libxl + libxenguest 4.17 write them for an HVM or PVH guest: libxl header,
 * LIBXC_CONTEXT, image header v3, domain header, CPUID and MSR policies, STATIC_DATA_END, PAGE_DATA batches of
 * up to 1024 pfns (live: a full pass then up to 5 rounds of dirty pages until fewer than 50 are dirty, then the
 * final dirty set while paused), optionally VERIFY and every page again, TSC_INFO, HVM_CONTEXT, HVM_PARAMS, libxc
 * END, then (HVM only) the emulator records, and libxl END.
 *
 * <p>The guest's memory is a real buffer the generator mutates between rounds (a seeded workload), so a reader can
 * be checked to rebuild exactly {@link Generated#finalMemory()}.
 */
final class GuestStreams {
    private GuestStreams() {
    }

    enum Kind { HVM, PVH }

    enum Content { IDLE, RANDOM }

    /**
     * What to generate.
     *
     * @param dirtyPagesPerRound pages the workload dirties between live rounds (0 = idle guest)
     * @param balloonedPfns      every n-th pfn is sent as XTAB (no data), 0 for none
     * @param emulatorKeys       HVM: xenstore keys in EMULATOR_XENSTORE_DATA (Xen 4.17's verifier chokes on any)
     */
    record Shape(Kind kind, int memoryPages, boolean live, boolean debug, Content content, int dirtyPagesPerRound,
                 int balloonedPfns, boolean emulatorKeys, long seed) {
        static Shape of(Kind kind, int memoryMiB, boolean live, boolean debug, Content content) {
            return new Shape(kind, memoryMiB * 256, live, debug, content, live ? 300 : 0, 0, false, 42);
        }

        Shape withBallooned(int every) {
            return new Shape(kind, memoryPages, live, debug, content, dirtyPagesPerRound, every, emulatorKeys, seed);
        }

        Shape withEmulatorKeys() {
            return new Shape(kind, memoryPages, live, debug, content, dirtyPagesPerRound, balloonedPfns, true, seed);
        }

        Shape withDirty(int pages) {
            return new Shape(kind, memoryPages, live, debug, content, pages, balloonedPfns, emulatorKeys, seed);
        }

        @Override
        public String toString() {
            return kind + " " + memoryPages / 256 + "MiB " + (live ? "live" : "non-live") + (debug ? " debug" : "")
                    + " " + content + (dirtyPagesPerRound > 0 ? " dirty" + dirtyPagesPerRound : "");
        }
    }

    /** A generated stream and what it should restore to. */
    record Generated(byte[] bytes, ByteBuffer finalMemory, BitSet ballooned, long pageDataRecords, long pfns,
                     long pagesWithData, long verifyPages, long xtabPfns, int records) {
    }

    static Generated libxl(Shape shape) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Generated g = write(shape, out);
        return new Generated(out.toByteArray(), g.finalMemory, g.ballooned, g.pageDataRecords, g.pfns,
                g.pagesWithData, g.verifyPages, g.xtabPfns, g.records);
    }

    /** The same stream behind an xl save-file header. */
    static byte[] saveFile(Shape shape) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        XlSaveHeader.forConfig(configJson(shape)).write(out);
        write(shape, out);
        return out.toByteArray();
    }

    static String configJson(Shape shape) {
        return "{\"c_info\":{\"type\":\"" + shape.kind().name().toLowerCase() + "\",\"name\":\"guest\"},"
                + "\"b_info\":{\"max_memkb\":" + shape.memoryPages() * 4 + "}}";
    }

    /** Writes the libxl stream; returns the expectations (bytes field empty). */
    static Generated write(Shape s, OutputStream out) throws IOException {
        SplittableRandom random = new SplittableRandom(s.seed());
        ByteBuffer memory = ByteBuffer.allocateDirect(s.memoryPages() * Wire.PAGE_SIZE);
        if (s.content() == Content.RANDOM) {
            byte[] page = new byte[Wire.PAGE_SIZE];
            for (int pfn = 0; pfn < s.memoryPages(); pfn++) {
                random.nextBytes(page);
                memory.put(pfn * Wire.PAGE_SIZE, page);
            }
        }
        BitSet ballooned = new BitSet();
        if (s.balloonedPfns() > 0) {
            for (int pfn = s.balloonedPfns() - 1; pfn < s.memoryPages(); pfn += s.balloonedPfns()) {
                ballooned.set(pfn);
            }
        }
        Counting counting = new Counting(StreamWriter.libxl(out), ballooned, memory);
        StreamWriter w = counting.writer;
        w.write(LibxlHeader.CURRENT);
        w.write(new LibxlRecord.LibxcContext());
        w.write(ImageHeader.V3);
        w.write(DomainHeader.hvm417());
        w.write(new LibxcRecord.CpuidPolicy(blob(random, 24 * 40)));
        w.write(new LibxcRecord.MsrPolicy(blob(random, 16 * 3)));
        w.write(new LibxcRecord.StaticDataEnd());
        counting.records += 4; // LIBXC_CONTEXT, CPUID, MSR, STATIC_DATA_END

        BitSet all = new BitSet();
        all.set(0, s.memoryPages());
        if (!s.live()) {
            counting.sendPages(all, false);
        } else {
            // 1. first pass: everything; 2. up to 4 more live rounds of what the workload dirtied meanwhile;
            // 3. the policy stops when fewer than 50 pages are dirty or after round 5; 4. paused: last dirty set.
            counting.sendPages(all, false);
            BitSet dirty = dirty(s, random, memory, 1);
            for (int round = 2; round <= 5 && dirty.cardinality() >= 50; round++) {
                counting.sendPages(dirty, false);
                dirty = dirty(s, random, memory, round);
            }
            counting.sendPages(dirty, false);
        }
        if (s.debug()) {
            w.write(new LibxcRecord.Verify());
            counting.records++;
            counting.sendPages(all, true);
        }
        w.write(new LibxcRecord.TscInfo(0, 2_400_000, 123_456_789_000L, 1));
        w.write(new LibxcRecord.HvmContext(blob(random, 1024 + 8 * 64)));
        w.write(new LibxcRecord.HvmParams(List.of(
                new LibxcRecord.HvmParam(1, s.memoryPages() - 2), // STORE_PFN
                new LibxcRecord.HvmParam(17, s.memoryPages() - 1), // CONSOLE_PFN
                new LibxcRecord.HvmParam(5, 1), // PAE_ENABLED
                new LibxcRecord.HvmParam(32, 0)))); // IOREQ_SERVER_PFN
        w.write(new LibxcRecord.End());
        counting.records += 4;
        if (s.kind() == Kind.HVM) {
            Map<String, String> keys = new LinkedHashMap<>();
            if (s.emulatorKeys()) {
                keys.put("physmap/f0000000/start_addr", "f0000000");
                keys.put("physmap/f0000000/size", "800000");
                keys.put("physmap/f0000000/name", "vga.vram");
            }
            w.write(LibxlRecord.EmulatorXenstoreData.of(Emulator.QEMU_UPSTREAM, 0, keys));
            w.write(new LibxlRecord.EmulatorContext(Emulator.QEMU_UPSTREAM, 0, blob(random, 5000)));
            counting.records += 2;
        }
        w.write(new LibxlRecord.End());
        counting.records += 1;
        w.flush();
        return new Generated(new byte[0], memory, ballooned, counting.pageDataRecords, counting.pfns,
                counting.pagesWithData, counting.verifyPages, counting.xtab, counting.records);
    }

    /** The workload: dirties pages with a seeded pattern and returns which. */
    private static BitSet dirty(Shape s, SplittableRandom random, ByteBuffer memory, int round) {
        BitSet dirty = new BitSet();
        // rounds get shorter, so fewer pages are dirtied in each: the dirty set converges as on a real guest
        for (int i = 0; i < s.dirtyPagesPerRound() / round; i++) {
            int pfn = random.nextInt(s.memoryPages());
            dirty.set(pfn);
            memory.putLong(pfn * Wire.PAGE_SIZE + 8 * random.nextInt(512), random.nextLong());
        }
        return dirty;
    }

    static byte[] blob(SplittableRandom random, int length) {
        byte[] b = new byte[length];
        random.nextBytes(b);
        return b;
    }

    /** Sends pages through the writer in batches of up to 1024 and counts what went out. */
    private static final class Counting {
        final StreamWriter writer;
        final BitSet ballooned;
        final ByteBuffer memory;
        final PageBatch batch = new PageBatch();
        long pageDataRecords;
        long pfns;
        long pagesWithData;
        long verifyPages;
        long xtab;
        int records;

        Counting(StreamWriter writer, BitSet ballooned, ByteBuffer memory) {
            this.writer = writer;
            this.ballooned = ballooned;
            this.memory = memory;
        }

        void sendPages(BitSet pages, boolean verify) throws IOException {
            for (int pfn = pages.nextSetBit(0); pfn >= 0; pfn = pages.nextSetBit(pfn + 1)) {
                if (ballooned.get(pfn)) {
                    batch.addWithoutData(pfn, PageType.XTAB);
                    xtab++;
                } else {
                    batch.add(pfn, memory, pfn * Wire.PAGE_SIZE);
                    pagesWithData++;
                    if (verify) {
                        verifyPages++;
                    }
                }
                pfns++;
                if (batch.isFull()) {
                    flush();
                }
            }
            if (!batch.isEmpty()) {
                flush();
            }
        }

        private void flush() throws IOException {
            writer.write(batch);
            batch.clear();
            pageDataRecords++;
            records++;
        }
    }

    /** Reads a libxl stream, rebuilding memory; returns the restored memory. */
    static ByteBuffer restore(StreamReader reader, int memoryPages) throws IOException {
        ByteBuffer memory = ByteBuffer.allocateDirect(memoryPages * Wire.PAGE_SIZE);
        for (StreamRecord r; (r = reader.next()) != null; ) {
            if (r instanceof PageBatch batch) {
                for (int i = 0; i < batch.count(); i++) {
                    if (batch.hasData(i)) {
                        batch.copyPage(i, memory, (int) (batch.pfn(i) << Wire.PAGE_SHIFT));
                    }
                }
            }
        }
        return memory;
    }

    /** Offsets at which each header or record starts, plus the total length, found by reading the stream. */
    static List<Long> boundaries(byte[] stream, boolean saveFile) throws IOException {
        List<Long> offsets = new ArrayList<>();
        java.io.ByteArrayInputStream in = new java.io.ByteArrayInputStream(stream);
        StreamReader reader = saveFile ? StreamReader.saveFile(in, ReaderLimits.DEFAULT)
                : StreamReader.libxl(in, ReaderLimits.DEFAULT);
        if (saveFile) {
            offsets.add(0L);
        }
        offsets.add(reader.offset());
        while (reader.next() != null) {
            offsets.add(reader.offset());
        }
        return offsets;
    }

    static ByteBuffer le(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }
}
