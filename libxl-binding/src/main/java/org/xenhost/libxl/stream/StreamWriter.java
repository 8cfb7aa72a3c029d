package org.xenhost.libxl.stream;

import java.io.Flushable;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;

/**
 * Writes a migration stream record by record, framing (type, length, body, zero padding to 8 bytes) and encoding
 * both layers as libxl and libxenguest 4.17 do. The writer enforces the same order the reader checks, so a caller
 * cannot produce a stream Xen would refuse for its shape; breaking it is a programming error
 * ({@link IllegalStateException}). Nothing is buffered beyond the record being written; the caller owns (and
 * closes) the output.
 *
 * <p>Suspend, as libxenguest writes an HVM/PVH guest:
 * <pre>{@code
 * StreamWriter w = StreamWriter.libxl(out);
 * w.write(LibxlHeader.CURRENT); w.write(new LibxlRecord.LibxcContext());
 * w.write(ImageHeader.V3); w.write(DomainHeader.hvm417());
 * w.write(cpuidPolicy); w.write(msrPolicy); w.write(new LibxcRecord.StaticDataEnd());
 * PageBatch batch = new PageBatch();
 * for (long pfn : pfnsToSend) {
 *     batch.add(pfn, guestMemory, (int) (pfn << 12));
 *     if (batch.isFull()) { w.write(batch); batch.clear(); }
 * }
 * ...; w.write(tscInfo); w.write(hvmContext); w.write(hvmParams); w.write(new LibxcRecord.End());
 * w.write(new LibxlRecord.End());
 * }</pre>
 */
public final class StreamWriter implements Flushable {
    private final ByteSink sink;
    private final RecordOrder order;
    private ByteBuffer pageHeader = ByteBuffer.allocate(0);

    private StreamWriter(ByteSink sink, RecordOrder order) {
        this.sink = sink;
        this.order = order;
    }

    /** A writer of a libxl stream (libxl header first). */
    public static StreamWriter libxl(OutputStream out) {
        return new StreamWriter(new ByteSink(out), RecordOrder.libxl());
    }

    /** A writer of a libxl stream to a channel. */
    public static StreamWriter libxl(WritableByteChannel out) {
        return new StreamWriter(new ByteSink(out), RecordOrder.libxl());
    }

    /** A writer of a bare libxc stream (image header first). */
    public static StreamWriter libxc(OutputStream out) {
        return new StreamWriter(new ByteSink(out), RecordOrder.libxc());
    }

    /** A writer of a bare libxc stream to a channel. */
    public static StreamWriter libxc(WritableByteChannel out) {
        return new StreamWriter(new ByteSink(out), RecordOrder.libxc());
    }

    /** Bytes written so far (relative to the start of this stream, not of a save file). */
    public long offset() {
        return sink.offset();
    }

    /** Whether the final END has been written. */
    public boolean isDone() {
        return order.expecting() == RecordOrder.Expect.NOTHING;
    }

    /** Writes one header or record; a {@link PageBatch} is written as one PAGE_DATA record and left unchanged. */
    public void write(StreamRecord record) throws IOException {
        if (record instanceof LibxlHeader h) {
            check(order.acceptLibxlHeader(), h);
            ByteBuffer b = ByteBuffer.allocate(Wire.LIBXL_HEADER_BYTES).order(ByteOrder.BIG_ENDIAN);
            b.putLong(Wire.LIBXL_IDENT).putInt(h.version()).putInt(h.options());
            sink.write(b.array(), 0, b.capacity());
        } else if (record instanceof ImageHeader h) {
            check(order.acceptImageHeader(h.version()), h);
            ByteBuffer b = ByteBuffer.allocate(Wire.IHDR_BYTES).order(ByteOrder.BIG_ENDIAN);
            b.putLong(Wire.IHDR_MARKER).putInt(Wire.IHDR_ID).putInt(h.version()).putShort((short) 0)
                    .putShort((short) 0).putInt(0);
            sink.write(b.array(), 0, b.capacity());
        } else if (record instanceof DomainHeader h) {
            check(order.acceptDomainHeader(h.guestType()), h);
            ByteBuffer b = ByteBuffer.allocate(Wire.DHDR_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            b.putInt(h.guestType().code()).putShort((short) Wire.PAGE_SHIFT).putShort((short) 0)
                    .putInt(h.xenMajor()).putInt(h.xenMinor());
            sink.write(b.array(), 0, b.capacity());
        } else if (record instanceof PageBatch batch) {
            writePageData(batch);
        } else if (record instanceof LibxcRecord r) {
            check(order.acceptLibxc(r.type()), r);
            writeFramed(r.type().code(), BodyCodec.encode(r));
        } else if (record instanceof LibxlRecord r) {
            check(order.acceptLibxl(r.type()), r);
            writeFramed(r.type().code(), BodyCodec.encode(r));
        }
    }

    private void writePageData(PageBatch batch) throws IOException {
        if (batch.isEmpty()) {
            throw new IllegalArgumentException("an empty page batch cannot be written (PAGE_DATA needs a pfn)");
        }
        check(order.acceptLibxc(LibxcRecordType.PAGE_DATA), batch);
        int n = batch.count();
        int headerBytes = 16 + 8 * n;
        if (pageHeader.capacity() < headerBytes) {
            pageHeader = ByteBuffer.allocate(16 + 8 * batch.capacity()).order(ByteOrder.LITTLE_ENDIAN);
        }
        ByteBuffer h = pageHeader.clear();
        h.putInt(LibxcRecordType.PAGE_DATA.code()).putInt((int) batch.bodyLength()).putInt(n).putInt(0);
        long[] entries = batch.rawEntries();
        for (int i = 0; i < n; i++) {
            h.putLong(entries[i]);
        }
        sink.write(h, 0, headerBytes);
        if (!batch.isInPlace()) {
            sink.write(batch.rawData(), 0, batch.pagesWithData() * Wire.PAGE_SIZE);
            return;
        }
        // pages added in place: one write per run of pages that lie back to back in the same buffer
        ByteBuffer[] buffers = batch.rawPlaceBuffers();
        int[] indexes = batch.rawPlaceIndexes();
        int pages = batch.pagesWithData();
        for (int s = 0; s < pages; ) {
            int e = s + 1;
            while (e < pages && buffers[e] == buffers[s] && indexes[e] == indexes[e - 1] + Wire.PAGE_SIZE) {
                e++;
            }
            sink.write(buffers[s], indexes[s], (e - s) * Wire.PAGE_SIZE);
            s = e;
        }
    }

    private void writeFramed(int type, byte[] body) throws IOException {
        if (body.length > Wire.REC_LENGTH_MAX) {
            throw new IllegalArgumentException("record body of " + body.length + " bytes exceeds libxenguest's"
                    + " 128 MiB REC_LENGTH_MAX");
        }
        int pad = Wire.padding(body.length);
        ByteBuffer h = ByteBuffer.allocate(Wire.RECORD_HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        h.putInt(type).putInt(body.length);
        sink.write(h.array(), 0, Wire.RECORD_HEADER_BYTES);
        sink.write(body, 0, body.length);
        if (pad > 0) {
            sink.write(new byte[pad], 0, pad);
        }
    }

    private static void check(String problem, StreamRecord record) {
        if (problem != null) {
            throw new IllegalStateException("cannot write " + record.label() + ": " + problem);
        }
    }

    @Override
    public void flush() throws IOException {
        sink.flush();
    }
}
