package org.xenhost.libxl.stream;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.xenhost.libxl.stream.LibxlRecord.Emulator;

/** A small valid HVM stream with the offsets of its items, and ways to break it. */
final class Mutations {
    /** Item labels and start offsets of {@link #base()}, in stream order. */
    record Item(String label, int offset) {
    }

    private Mutations() {
    }

    /** libxl header, LIBXC_CONTEXT, libxc v3 HVM stream with two PAGE_DATA records, EMULATOR_CONTEXT, END. */
    static byte[] base() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        StreamWriter w = StreamWriter.libxl(out);
        PageBatch pages = new PageBatch();
        byte[] page = new byte[Wire.PAGE_SIZE];
        Arrays.fill(page, (byte) 0x5a);
        pages.add(0, PageType.NOTAB, page, 0);
        pages.addWithoutData(1, PageType.XTAB);
        pages.add(2, PageType.NOTAB, page, 0);
        for (StreamRecord r : List.of(LibxlHeader.CURRENT, new LibxlRecord.LibxcContext(), ImageHeader.V3,
                DomainHeader.hvm417(), new LibxcRecord.CpuidPolicy(new byte[24]),
                new LibxcRecord.MsrPolicy(new byte[16]), new LibxcRecord.StaticDataEnd(), pages, pages,
                new LibxcRecord.TscInfo(0, 1000, 5, 1), new LibxcRecord.HvmContext(new byte[] {1, 2, 3}),
                new LibxcRecord.HvmParams(List.of(new LibxcRecord.HvmParam(1, 3))), new LibxcRecord.End(),
                new LibxlRecord.EmulatorXenstoreData(Emulator.QEMU_UPSTREAM, 0, new byte[0]),
                new LibxlRecord.EmulatorContext(Emulator.QEMU_UPSTREAM, 0, new byte[] {7, 7, 7, 7, 7}),
                new LibxlRecord.End())) {
            w.write(r);
        }
        return out.toByteArray();
    }

    static List<Item> items(byte[] stream) throws IOException {
        StreamReader reader = StreamReader.libxl(new ByteArrayInputStream(stream), ReaderLimits.DEFAULT);
        List<Item> items = new ArrayList<>();
        long at = 0;
        for (StreamRecord r; (r = reader.next()) != null; ) {
            items.add(new Item(r.label(), (int) at));
            at = reader.offset();
        }
        return items;
    }

    /** Offset of the n-th (0-based) item whose label contains {@code name}. */
    static int offsetOf(byte[] stream, String name, int nth) throws IOException {
        int seen = 0;
        for (Item i : items(stream)) {
            if (i.label().contains(name) && seen++ == nth) {
                return i.offset();
            }
        }
        throw new IllegalArgumentException("no item " + name + " #" + nth);
    }

    static byte[] putLe32(byte[] stream, int at, int value) {
        byte[] b = stream.clone();
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(at, value);
        return b;
    }

    static byte[] putLe64(byte[] stream, int at, long value) {
        byte[] b = stream.clone();
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(at, value);
        return b;
    }

    static byte[] putBe32(byte[] stream, int at, int value) {
        byte[] b = stream.clone();
        ByteBuffer.wrap(b).order(ByteOrder.BIG_ENDIAN).putInt(at, value);
        return b;
    }

    static byte[] putLe16(byte[] stream, int at, int value) {
        byte[] b = stream.clone();
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putShort(at, (short) value);
        return b;
    }

    static byte[] putByte(byte[] stream, int at, int value) {
        byte[] b = stream.clone();
        b[at] = (byte) value;
        return b;
    }

    /** Inserts {@code extra} at {@code at}. */
    static byte[] insert(byte[] stream, int at, byte[] extra) {
        byte[] b = new byte[stream.length + extra.length];
        System.arraycopy(stream, 0, b, 0, at);
        System.arraycopy(extra, 0, b, at, extra.length);
        System.arraycopy(stream, at, b, at + extra.length, stream.length - at);
        return b;
    }

    static byte[] cut(byte[] stream, int length) {
        return Arrays.copyOf(stream, length);
    }
}
