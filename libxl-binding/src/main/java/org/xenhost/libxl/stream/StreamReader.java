package org.xenhost.libxl.stream;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

import org.xenhost.libxl.stream.DomainHeader.GuestType;

/**
 * Reads a migration stream item by item ({@link #next()}), checking everything libxl and libxenguest check before
 * they act on it, plus record order and the guest's size. It never reads past the final END and never holds more
 * than one record: PAGE_DATA comes back in one reusable {@link PageBatch}.
 *
 * <p>Every problem is a {@link StreamFormatException} naming the byte offset and the record; once one is thrown the
 * reader is finished. Lengths are checked against per-type and {@link ReaderLimits} bounds before anything is
 * allocated, and opaque blobs grow only as their bytes arrive, so a hostile stream costs little memory.
 *
 * <p>Typical restore loop:
 * <pre>{@code
 * StreamReader reader = StreamReader.libxl(in, ReaderLimits.forGuestMemory(memBytes));
 * for (StreamRecord r; (r = reader.next()) != null; ) {
 *     if (r instanceof PageBatch batch) {
 *         for (int i = 0; i < batch.count(); i++)
 *             if (batch.hasData(i)) batch.copyPage(i, guestMemory, (int) (batch.pfn(i) << 12));
 *     } else { ... }
 * }
 * }</pre>
 */
public final class StreamReader {
    private static final int BODY_STEP = 1 << 20;

    private final ByteSource src;
    private final ReaderLimits limits;
    private final RecordOrder order;
    private final XlSaveHeader saveHeader;
    private final PageBatch batch;
    private final ByteBuffer pfnBytes;
    private LibxlHeader libxlHeader;
    private ImageHeader imageHeader;
    private DomainHeader domainHeader;
    private boolean failed;
    private long recordStart;
    private String recordLabel = "record header";
    /** Where the current {@link #next(PageSink)} call puts page contents; null for {@link #next()}. */
    private final SinkChannel sinkChannel = new SinkChannel();

    private StreamReader(ByteSource src, ReaderLimits limits, RecordOrder order, XlSaveHeader saveHeader) {
        this.src = src;
        this.limits = limits;
        this.order = order;
        this.saveHeader = saveHeader;
        // from a channel, pages land in a direct buffer: no JDK bounce copy on the way in or on to a file
        this.batch = new PageBatch(limits.maxBatchPfns(), src.isChannel());
        this.pfnBytes = ByteBuffer.allocate(8 * limits.maxBatchPfns()).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** A reader of a libxl stream (what {@code libxl_domain_suspend} writes and {@code create_restore} reads). */
    public static StreamReader libxl(InputStream in, ReaderLimits limits) {
        return new StreamReader(new ByteSource(in, 0), limits, RecordOrder.libxl(), null);
    }

    /** A reader of a libxl stream from a channel. */
    public static StreamReader libxl(ReadableByteChannel in, ReaderLimits limits) {
        return new StreamReader(new ByteSource(in, 0), limits, RecordOrder.libxl(), null);
    }

    /** A reader of a bare libxc stream (image header to END). */
    public static StreamReader libxc(InputStream in, ReaderLimits limits) {
        return new StreamReader(new ByteSource(in, 0), limits, RecordOrder.libxc(), null);
    }

    /** A reader of a bare libxc stream from a channel. */
    public static StreamReader libxc(ReadableByteChannel in, ReaderLimits limits) {
        return new StreamReader(new ByteSource(in, 0), limits, RecordOrder.libxc(), null);
    }

    /**
     * A reader of an xl save file: reads and checks the {@link XlSaveHeader} now (see {@link #saveHeader()}), then
     * the libxl stream after it; error offsets are file offsets.
     */
    public static StreamReader saveFile(InputStream in, ReaderLimits limits) throws IOException {
        ByteSource src = new ByteSource(in, 0);
        XlSaveHeader header = XlSaveHeader.read(src);
        return new StreamReader(src, limits, RecordOrder.libxl(), header);
    }

    /** The save-file header, or {@code null} when not reading a save file. */
    public XlSaveHeader saveHeader() {
        return saveHeader;
    }

    /** The libxl header once read, else {@code null}. */
    public LibxlHeader libxlHeader() {
        return libxlHeader;
    }

    /** The libxc image header once read, else {@code null}. */
    public ImageHeader imageHeader() {
        return imageHeader;
    }

    /** The libxc domain header once read, else {@code null}. */
    public DomainHeader domainHeader() {
        return domainHeader;
    }

    /** Bytes consumed so far (including a save-file header). */
    public long offset() {
        return src.offset();
    }

    /** Whether the final END has been read. */
    public boolean isDone() {
        return order.expecting() == RecordOrder.Expect.NOTHING;
    }

    /**
     * The next header or record, or {@code null} after the final END. A returned {@link PageBatch} is this reader's
     * buffer and is overwritten by the next call.
     */
    public StreamRecord next() throws IOException {
        if (failed) {
            throw new IllegalStateException("the stream was rejected earlier; this reader is finished");
        }
        try {
            recordStart = src.offset();
            return switch (order.expecting()) {
                case LIBXL_HEADER -> readLibxlHeader();
                case IMAGE_HEADER -> readImageHeader();
                case DOMAIN_HEADER -> readDomainHeader();
                case LIBXL_RECORD -> readLibxlRecord();
                case LIBXC_RECORD -> readLibxcRecord();
                case NOTHING -> null;
            };
        } catch (IOException | RuntimeException e) {
            failed = true;
            throw e;
        }
    }

    /**
     * Like {@link #next()}, but the contents of a PAGE_DATA record go to {@code pages} as they are read, straight from
     * the input's buffers when it is a {@link LendingChannel} (no copy through the batch); the returned
     * {@link PageBatch} then holds the pfn entries only ({@link PageBatch#pagesDelivered()}). Every check runs before
     * the first page is delivered. If this throws after delivering, the pages of that record may be partly written.
     */
    public StreamRecord next(PageSink pages) throws IOException {
        sinkChannel.sink = java.util.Objects.requireNonNull(pages, "pages");
        try {
            return next();
        } finally {
            sinkChannel.sink = null;
        }
    }

    /**
     * For inputs that must end with the stream (a save file, a pipe the sender closes): fails if any byte follows
     * the final END.
     */
    public void requireEndOfInput() throws IOException {
        if (!isDone()) {
            throw new IllegalStateException("the stream has not been read to its final END yet");
        }
        long at = src.offset();
        if (!src.atEnd()) {
            throw new StreamFormatException(at, at, "trailing data", "data follows the final END record;"
                    + " the input holds more than one stream or is corrupt");
        }
    }

    // ---- headers ----

    private StreamRecord readLibxlHeader() throws IOException {
        recordLabel = "libxl header";
        ByteBuffer b = readSmall(Wire.LIBXL_HEADER_BYTES).order(ByteOrder.BIG_ENDIAN);
        long ident = b.getLong(0);
        if (ident != Wire.LIBXL_IDENT) {
            throw fail(recordStart, "not a libxl migration stream: ident is 0x" + Long.toHexString(ident)
                    + ", expected 0x4c6962786c466d74 (\"LibxlFmt\")" + identHint(ident));
        }
        int version = b.getInt(8);
        if (version != Wire.LIBXL_VERSION) {
            throw fail(recordStart + 8, "libxl stream version " + Integer.toUnsignedString(version)
                    + " is not supported (only version 2 exists)");
        }
        int options = b.getInt(12);
        if ((options & Wire.LIBXL_OPT_BIG_ENDIAN) != 0) {
            throw fail(recordStart + 12, "big-endian stream; only little-endian (x86) streams are supported");
        }
        if ((options & ~(Wire.LIBXL_OPT_BIG_ENDIAN | Wire.LIBXL_OPT_LEGACY)) != 0) {
            throw fail(recordStart + 12, "reserved option bits set: 0x" + Integer.toHexString(options));
        }
        checkOrder(order.acceptLibxlHeader(), recordStart);
        libxlHeader = new LibxlHeader(version, options);
        return libxlHeader;
    }

    private static String identHint(long ident) {
        if (ident == Wire.IHDR_MARKER) {
            return "; this looks like a bare libxc stream";
        }
        if (ident == 0x58656e2073617665L) { // "Xen save"
            return "; this looks like an xl save file, read it as one";
        }
        return "";
    }

    private StreamRecord readImageHeader() throws IOException {
        recordLabel = "libxc image header";
        ByteBuffer b = readSmall(Wire.IHDR_BYTES).order(ByteOrder.BIG_ENDIAN);
        long marker = b.getLong(0);
        if (marker != Wire.IHDR_MARKER) {
            throw fail(recordStart, "image marker is 0x" + Long.toHexString(marker)
                    + ", expected 0xffffffffffffffff (a legacy pre-4.6 image or not a libxc stream)");
        }
        int id = b.getInt(8);
        if (id != Wire.IHDR_ID) {
            throw fail(recordStart + 8, "image id is 0x" + Integer.toHexString(id) + ", expected 0x58454e46 (\"XENF\")");
        }
        int version = b.getInt(12);
        if (version < 2 || version > 3) {
            throw fail(recordStart + 12, "libxc stream version " + Integer.toUnsignedString(version)
                    + " is not supported (2 and 3 are)");
        }
        int options = b.getShort(16) & 0xFFFF;
        if ((options & Wire.IHDR_OPT_BIG_ENDIAN) != 0) {
            throw fail(recordStart + 16, "big-endian libxc stream; only little-endian (x86) streams are supported");
        }
        if (options != 0) {
            throw fail(recordStart + 16, "reserved option bits set: 0x" + Integer.toHexString(options));
        }
        if (b.getShort(18) != 0 || b.getInt(20) != 0) {
            throw fail(recordStart + 18, "reserved fields of the image header are not zero");
        }
        checkOrder(order.acceptImageHeader(version), recordStart);
        imageHeader = new ImageHeader(version);
        return imageHeader;
    }

    private StreamRecord readDomainHeader() throws IOException {
        recordLabel = "libxc domain header";
        ByteBuffer b = readSmall(Wire.DHDR_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        int typeCode = b.getInt(0);
        GuestType type = GuestType.of(typeCode);
        if (type == null) {
            throw fail(recordStart, "unknown guest type " + Integer.toUnsignedString(typeCode)
                    + " (1 x86 PV, 2 x86 HVM/PVH)");
        }
        int pageShift = b.getShort(4) & 0xFFFF;
        if (pageShift != Wire.PAGE_SHIFT) {
            throw fail(recordStart + 4, "page shift is " + pageShift + ", only 12 (4 KiB pages) is supported");
        }
        if (b.getShort(6) != 0) {
            throw fail(recordStart + 6, "reserved field of the domain header is not zero");
        }
        checkOrder(order.acceptDomainHeader(type), recordStart);
        domainHeader = new DomainHeader(type, b.getInt(8), b.getInt(12));
        return domainHeader;
    }

    // ---- records ----

    private StreamRecord readLibxlRecord() throws IOException {
        recordLabel = "libxl record header";
        ByteBuffer h = readSmall(Wire.RECORD_HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        int code = h.getInt(0);
        long length = h.getInt(4) & 0xFFFFFFFFL;
        LibxlRecordType type = LibxlRecordType.of(code);
        if (type == null) {
            recordLabel = "libxl record of type 0x" + Integer.toHexString(code);
            throw fail(recordStart, "unknown libxl record type 0x" + Integer.toHexString(code)
                    + (code == 0x7862694c ? " (looks like a second libxl header)" : "")
                    + "; libxl rejects unknown records, optional or not");
        }
        recordLabel = type.label();
        checkOrder(order.acceptLibxl(type), recordStart);
        checkLength(BodyCodec.lengthProblem(type, length, limits));
        byte[] body = readBody((int) length);
        try {
            return BodyCodec.decode(type, body);
        } catch (BodyCodec.BodyProblem p) {
            throw fail(recordStart + Wire.RECORD_HEADER_BYTES + p.at, p.getMessage());
        }
    }

    private StreamRecord readLibxcRecord() throws IOException {
        recordLabel = "libxc record header";
        ByteBuffer h = readSmall(Wire.RECORD_HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        int code = h.getInt(0);
        long length = h.getInt(4) & 0xFFFFFFFFL;
        LibxcRecordType type = LibxcRecordType.of(code);
        if (type == null) {
            recordLabel = "libxc record of type 0x" + Integer.toHexString(code);
            String hint = code == -1 ? " (looks like a second libxc image header)"
                    : (code & 0x80000000) != 0 ? " (an optional record libxenguest would skip; Xen's verifier and"
                    + " this reader refuse unknown records)" : "";
            throw fail(recordStart, "unknown libxc record type 0x" + Integer.toHexString(code) + hint);
        }
        recordLabel = type.label();
        checkOrder(order.acceptLibxc(type), recordStart);
        checkLength(BodyCodec.lengthProblem(type, length, limits));
        if (type == LibxcRecordType.PAGE_DATA) {
            return readPageData(length);
        }
        byte[] body = readBody((int) length);
        try {
            return BodyCodec.decode(type, body);
        } catch (BodyCodec.BodyProblem p) {
            throw fail(recordStart + Wire.RECORD_HEADER_BYTES + p.at, p.getMessage());
        }
    }

    private PageBatch readPageData(long length) throws IOException {
        long bodyStart = recordStart + Wire.RECORD_HEADER_BYTES;
        ByteBuffer head = readSmall(8).order(ByteOrder.LITTLE_ENDIAN);
        long count = head.getInt(0) & 0xFFFFFFFFL;
        if (count == 0) {
            throw fail(bodyStart, "pfn count is 0; a PAGE_DATA record carries at least one pfn");
        }
        if (count > limits.maxBatchPfns()) {
            throw fail(bodyStart, "pfn count " + count + " exceeds the limit of " + limits.maxBatchPfns()
                    + " per record (libxenguest writes at most 1024)");
        }
        if (head.getInt(4) != 0) {
            throw fail(bodyStart + 4, "reserved field is 0x" + Integer.toHexString(head.getInt(4)) + ", must be 0");
        }
        if (length < 8 + 8 * count || length > 8 + (8 + Wire.PAGE_SIZE) * count) {
            throw fail(recordStart + 4, "body length " + length + " cannot hold " + count + " pfns and their pages"
                    + " (must be " + (8 + 8 * count) + ".." + (8 + (8 + Wire.PAGE_SIZE) * count) + ")");
        }
        int n = (int) count;
        pfnBytes.clear();
        int got = src.read(pfnBytes, 0, 8 * n);
        if (got < 8 * n) {
            throw truncated(8L * n - got + (length - 8 - 8L * n));
        }
        long[] entries = batch.rawEntries();
        long withData = 0;
        long pfnLimit = limits.guestPages();
        for (int i = 0; i < n; i++) {
            long entry = pfnBytes.getLong(8 * i);
            long pfn = entry & Wire.PFN_MASK;
            int nibble = (int) (entry >>> Wire.TYPE_SHIFT);
            long at = bodyStart + 8 + 8L * i;
            if ((entry & Wire.PFN_RESERVED_MASK) != 0) {
                throw fail(at, "pfn[" + i + "] = 0x" + Long.toHexString(entry) + " has reserved bits 52..59 set");
            }
            if (nibble >= 5 && nibble <= 8) {
                throw fail(at, "pfn[" + i + "] = 0x" + Long.toHexString(entry) + " has reserved page type " + nibble);
            }
            if (pfn >= pfnLimit) {
                throw fail(at, "pfn[" + i + "] = 0x" + Long.toHexString(pfn) + " is beyond the guest's " + pfnLimit
                        + " pages (" + (pfnLimit >> 8) + " MiB); the stream is for a larger guest or corrupt");
            }
            if (PageType.nibbleHasData(nibble)) {
                withData++;
            }
            entries[i] = entry;
        }
        long expected = 8 + 8L * n + (long) Wire.PAGE_SIZE * withData;
        if (length != expected) {
            throw fail(recordStart + 4, "body length " + length + " does not match " + n + " pfns of which "
                    + withData + " carry a page: expected 8 + " + 8 * n + " + " + Wire.PAGE_SIZE * withData
                    + " = " + expected);
        }
        int pages = batch.acceptRawEntries(n, sinkChannel.sink != null);
        int bytes = pages * Wire.PAGE_SIZE;
        if (sinkChannel.sink != null) {
            deliverPages(n, bytes);
            return batch;
        }
        int read = src.read(batch.rawData(), 0, bytes);
        if (read < bytes) {
            batch.clear();
            throw truncated(bytes - read);
        }
        return batch; // a PAGE_DATA body is a multiple of 8: no padding
    }

    /** Hands the record's page contents to the sink, one transfer per run of adjacent pfns (pages in entry order). */
    private void deliverPages(int n, int bytes) throws IOException {
        long[] entries = batch.rawEntries();
        long moved = 0;
        int i = 0;
        while (i < n) {
            if (!PageType.nibbleHasData((int) (entries[i] >>> Wire.TYPE_SHIFT))) {
                i++;
                continue;
            }
            long first = entries[i] & Wire.PFN_MASK;
            int j = i + 1;
            while (j < n && PageType.nibbleHasData((int) (entries[j] >>> Wire.TYPE_SHIFT))
                    && (entries[j] & Wire.PFN_MASK) == first + (j - i)) {
                j++;
            }
            long run = (long) (j - i) * Wire.PAGE_SIZE;
            sinkChannel.address = first << Wire.PAGE_SHIFT;
            long got = src.transfer(run, sinkChannel);
            moved += got;
            if (got < run) {
                batch.clear();
                throw truncated(bytes - moved);
            }
            i = j;
        }
    }

    /** The sink seen as a channel, so an input can write into it from its own buffers. */
    private static final class SinkChannel implements WritableByteChannel {
        PageSink sink;
        long address;

        @Override
        public int write(ByteBuffer src) throws IOException {
            int n = sink.write(address, src);
            address += n;
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

    // ---- helpers ----

    private ByteBuffer readSmall(int len) throws IOException {
        int n = src.readSmall(len);
        if (n < len) {
            throw truncated(len - n);
        }
        return ByteBuffer.wrap(src.scratch(), 0, len);
    }

    /** Reads a body and its padding; allocation grows with the bytes that actually arrive. */
    private byte[] readBody(int length) throws IOException {
        long end = src.offset() + length + Wire.padding(length);
        byte[] body;
        if (length <= BODY_STEP) {
            body = new byte[length];
            if (src.read(body, 0, length) < length) {
                throw truncated(end - src.offset());
            }
        } else {
            try {
                body = XlSaveHeader.readGrowing(src, length, recordStart, recordLabel);
            } catch (StreamTruncatedException e) {
                throw truncated(end - src.offset());
            }
        }
        int pad = Wire.padding(length);
        if (pad > 0) {
            long padStart = src.offset();
            byte[] p = src.scratch();
            int n = src.readSmall(pad);
            if (n < pad) {
                throw truncated(pad - n);
            }
            for (int i = 0; i < pad; i++) {
                if (p[i] != 0) {
                    throw fail(padStart + i, "padding byte is 0x" + Integer.toHexString(p[i] & 0xFF)
                            + ", padding must be zero");
                }
            }
        }
        return body;
    }

    private void checkOrder(String problem, long at) throws StreamFormatException {
        if (problem != null) {
            throw fail(at, problem);
        }
    }

    private void checkLength(String problem) throws StreamFormatException {
        if (problem != null) {
            throw fail(recordStart + 4, problem);
        }
    }

    private StreamFormatException fail(long at, String problem) {
        return new StreamFormatException(at, recordStart, recordLabel, problem);
    }

    private StreamTruncatedException truncated(long missing) {
        return new StreamTruncatedException(src.offset(), recordStart, recordLabel, missing);
    }
}
