package org.xenhost.libxl.stream;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

import org.xenhost.libxl.stream.DomainHeader.GuestType;

/**
 * Watches a migration stream go by, chunk by chunk as a pump moves it, and counts what passes: bytes, records,
 * pages by type, the phase. It parses record headers (and PAGE_DATA pfn lists) in passing, skips bodies by
 * arithmetic, and never copies or holds the stream, so it costs next to nothing on the data path.
 *
 * <p>Feed it from one thread ({@link #accept}); read {@link #snapshot()} from any thread. It never throws on bad
 * input: it is an observer, and the receiver will reject a bad stream itself. When the bytes stop making sense it
 * reports {@link StreamPhase#UNPARSEABLE} with the reason and keeps counting bytes only.
 *
 * <pre>
 *  XL_FIXED(48) --> SKIP_XL_OPTIONAL --> ITEM(libxl header 16)          (Format.XL_SAVE_FILE)
 *  ITEM(libxl header 16 | image header 24 | domain header 16 | record header 8), chosen by {@link RecordOrder}
 *  record header --PAGE_DATA--> PAGE_COUNT(8) --> PFN(8) x count --> SKIP_BODY(pages) --> ITEM
 *  record header --other------> SKIP_BODY(length + padding) --> ITEM
 *  ITEM after the final END --> DONE;  any inconsistency --> FAILED
 * </pre>
 */
public final class StreamTap {
    /** What the bytes start with. */
    public enum Format {
        /** A libxl stream (what libxl_domain_suspend writes to the migration fd). */
        LIBXL,
        /** A bare libxc stream. */
        LIBXC,
        /** An xl save file or an {@code xl migrate} data stream: xl header, then a libxl stream. */
        XL_SAVE_FILE
    }

    private enum Step { XL_FIXED, SKIP_XL_OPTIONAL, ITEM, PAGE_COUNT, PFN, SKIP_BODY, DONE, FAILED }

    private static final VarHandle LONG_LE = MethodHandles.byteArrayViewVarHandle(long[].class,
            ByteOrder.LITTLE_ENDIAN);

    private final RecordOrder order;
    private final byte[] acc = new byte[XlSaveHeader.FIXED_BYTES];
    /** Where {@link #accept(ByteBuffer)} copies the parsed parts of a direct buffer (headers, pfn lists). */
    private final byte[] scratch = new byte[4096];
    private Step step;
    private int need;
    private int have;
    private long skip;
    private long itemStart;
    private long pageBodyLength;
    private long pfnsInRecord;
    private long pfnsLeft;
    private long dataPagesInRecord;
    private boolean skippingPages;

    private long bytes;
    private long records;
    private long pageDataRecords;
    private long pfns;
    private long pagesWithData;
    private long verifyPages;
    private final long[] pfnsByType = new long[16];
    private StreamPhase phase = StreamPhase.PREAMBLE;
    private String problem;
    private volatile TapSnapshot published;

    public StreamTap(Format format) {
        this.order = format == Format.LIBXC ? RecordOrder.libxc() : RecordOrder.libxl();
        if (format == Format.XL_SAVE_FILE) {
            step = Step.XL_FIXED;
            need = XlSaveHeader.FIXED_BYTES;
        } else {
            nextItem();
        }
        publish();
    }

    /** The counters as of the end of the last chunk; safe from any thread. */
    public TapSnapshot snapshot() {
        return published;
    }

    /** Shows the tap {@code src}'s remaining bytes (position..limit) without consuming them. */
    public void accept(ByteBuffer src) {
        if (src.hasArray()) {
            accept(src.array(), src.arrayOffset() + src.position(), src.remaining());
            return;
        }
        // A direct buffer (guest memory, a transport buffer): only the bytes the tap parses are copied out, in
        // small pieces; record bodies it skips (page contents: nearly all of a migration) are counted, not copied.
        int end = src.limit();
        for (int i = src.position(); i < end; ) {
            if ((step == Step.SKIP_BODY || step == Step.SKIP_XL_OPTIONAL) && skip > 0) {
                int n = (int) Math.min(skip, end - i);
                bytes += n;
                skipped(n);
                i += n;
                continue;
            }
            int n = Math.min(scratch.length, end - i);
            if (step == Step.DONE || step == Step.FAILED) {
                bytes += end - i;
                break;
            }
            src.get(i, scratch, 0, n);
            accept(scratch, 0, n);
            i += n;
        }
        publish();
    }

    /** Shows the tap the next {@code len} bytes of the stream. */
    public void accept(byte[] b, int off, int len) {
        int p = off;
        int end = off + len;
        long base = bytes - off;
        bytes += len;
        while (p < end) {
            switch (step) {
                case DONE, FAILED -> p = end;
                case SKIP_BODY, SKIP_XL_OPTIONAL -> {
                    int n = (int) Math.min(skip, end - p);
                    skipped(n);
                    p += n;
                }
                case PFN -> {
                    // fast path: whole entries straight from the chunk
                    while (have == 0 && pfnsLeft > 0 && end - p >= 8) {
                        if (!countPfn((long) LONG_LE.get(b, p), base + p)) {
                            break;
                        }
                        p += 8;
                        if (--pfnsLeft == 0) {
                            endOfPfns(base + p);
                        }
                    }
                    if (step == Step.PFN && p < end) {
                        p = gather(b, p, end, base);
                    }
                }
                default -> p = gather(b, p, end, base);
            }
        }
        publish();
    }

    /** {@code n} bytes (at most {@link #skip}) of a skipped body have passed. */
    private void skipped(int n) {
        if (skippingPages) {
            // a page counts once its last byte has passed; pages still to come = ceil(skip / 4096)
            long pages = (skip + Wire.PAGE_SIZE - 1) / Wire.PAGE_SIZE
                    - (skip - n + Wire.PAGE_SIZE - 1) / Wire.PAGE_SIZE;
            pagesWithData += pages;
            if (order.verifySeen()) {
                verifyPages += pages;
            }
        }
        skip -= n;
        if (skip == 0) {
            skippingPages = false;
            nextItem();
        }
    }

    /** Accumulates a fixed-size item; handles it once complete. Returns the new position. */
    private int gather(byte[] b, int p, int end, long base) {
        if (have == 0) {
            itemStart = base + p;
        }
        int n = Math.min(need - have, end - p);
        System.arraycopy(b, p, acc, have, n);
        have += n;
        p += n;
        if (have == need) {
            have = 0;
            handleItem(base + p);
        }
        return p;
    }

    private void handleItem(long at) {
        ByteBuffer le = ByteBuffer.wrap(acc).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer be = ByteBuffer.wrap(acc).order(ByteOrder.BIG_ENDIAN);
        switch (step) {
            case XL_FIXED -> {
                if (!Arrays.equals(acc, 0, 32, XlSaveHeader.MAGIC, 0, 32)) {
                    fail("not an xl save file or xl migration stream (wrong magic)");
                } else if ((le.getInt(36) & XlSaveHeader.FLAG_STREAM_V2) == 0) {
                    fail("xl header without the STREAMv2 flag: a legacy stream");
                } else {
                    skip = le.getInt(44) & 0xFFFFFFFFL;
                    if (skip == 0) {
                        nextItem();
                    } else {
                        step = Step.SKIP_XL_OPTIONAL;
                    }
                }
            }
            case PFN -> {
                if (countPfn(le.getLong(0), itemStart) && --pfnsLeft == 0) {
                    endOfPfns(at);
                }
            }
            case PAGE_COUNT -> {
                pfnsInRecord = le.getInt(0) & 0xFFFFFFFFL;
                if (pfnsInRecord == 0 || pageBodyLength < 8 + 8 * pfnsInRecord) {
                    fail("PAGE_DATA pfn count " + pfnsInRecord + " does not fit its body of " + pageBodyLength
                            + " bytes");
                } else {
                    pfnsLeft = pfnsInRecord;
                    dataPagesInRecord = 0;
                    step = Step.PFN;
                    need = 8;
                }
            }
            case ITEM -> handleHeaderOrRecord(le, be);
            default -> throw new AssertionError(step);
        }
    }

    private void handleHeaderOrRecord(ByteBuffer le, ByteBuffer be) {
        switch (order.expecting()) {
            case LIBXL_HEADER -> {
                if (be.getLong(0) != Wire.LIBXL_IDENT || be.getInt(8) != Wire.LIBXL_VERSION) {
                    fail("not a libxl v2 stream header");
                } else if (check(order.acceptLibxlHeader())) {
                    nextItem();
                }
            }
            case IMAGE_HEADER -> {
                int version = be.getInt(12);
                if (be.getLong(0) != Wire.IHDR_MARKER || be.getInt(8) != Wire.IHDR_ID || version < 2 || version > 3) {
                    fail("not a libxc v2/v3 image header");
                } else if (check(order.acceptImageHeader(version))) {
                    nextItem();
                }
            }
            case DOMAIN_HEADER -> {
                GuestType type = GuestType.of(le.getInt(0));
                if (type == null) {
                    fail("unknown guest type in the libxc domain header");
                } else if (check(order.acceptDomainHeader(type))) {
                    nextItem();
                }
            }
            case LIBXL_RECORD -> libxlRecord(le.getInt(0), le.getInt(4) & 0xFFFFFFFFL);
            case LIBXC_RECORD -> libxcRecord(le.getInt(0), le.getInt(4) & 0xFFFFFFFFL);
            case NOTHING -> throw new AssertionError("item after the end");
        }
    }

    private void libxlRecord(int code, long length) {
        LibxlRecordType type = LibxlRecordType.of(code);
        if (type == null) {
            fail("unknown libxl record type 0x" + Integer.toHexString(code));
            return;
        }
        if (!check(order.acceptLibxl(type)) || !check(BodyCodec.lengthProblem(type, length, ReaderLimits.DEFAULT))) {
            return;
        }
        records++;
        if ((type == LibxlRecordType.EMULATOR_CONTEXT || type == LibxlRecordType.EMULATOR_XENSTORE_DATA)
                && order.memorySeen()) {
            phase = StreamPhase.FINAL_STATE;
        }
        skipBody(length);
    }

    private void libxcRecord(int code, long length) {
        LibxcRecordType type = LibxcRecordType.of(code);
        if (type == null) {
            fail("unknown libxc record type 0x" + Integer.toHexString(code));
            return;
        }
        if (!check(order.acceptLibxc(type)) || !check(BodyCodec.lengthProblem(type, length, ReaderLimits.DEFAULT))) {
            return;
        }
        records++;
        switch (type) {
            case PAGE_DATA -> {
                pageDataRecords++;
                phase = order.verifySeen() ? StreamPhase.VERIFY : StreamPhase.MEMORY;
                pageBodyLength = length;
                step = Step.PAGE_COUNT;
                need = 8;
                return;
            }
            case VERIFY -> phase = StreamPhase.VERIFY;
            case X86_CPUID_POLICY, X86_MSR_POLICY, X86_PV_INFO, STATIC_DATA_END, X86_PV_P2M_FRAMES -> {
            }
            default -> phase = StreamPhase.FINAL_STATE;
        }
        skipBody(length);
    }

    private void skipBody(long length) {
        skip = length + Wire.padding(length);
        if (skip == 0) {
            nextItem();
        } else {
            step = Step.SKIP_BODY;
        }
    }

    /** Counts one pfn entry; false (and failed) if it is malformed. */
    private boolean countPfn(long entry, long at) {
        int nibble = (int) (entry >>> Wire.TYPE_SHIFT);
        if ((entry & Wire.PFN_RESERVED_MASK) != 0 || (nibble >= 5 && nibble <= 8)) {
            problemAt(at, "PAGE_DATA pfn entry 0x" + Long.toHexString(entry) + " has reserved bits or type");
            return false;
        }
        pfnsByType[nibble]++;
        pfns++;
        if (PageType.nibbleHasData(nibble)) {
            dataPagesInRecord++;
        }
        return true;
    }

    private void endOfPfns(long at) {
        long expected = 8 + 8 * pfnsInRecord + Wire.PAGE_SIZE * dataPagesInRecord;
        if (expected != pageBodyLength) {
            problemAt(at, "PAGE_DATA body is " + pageBodyLength + " bytes but its pfns need " + expected);
            return;
        }
        skip = Wire.PAGE_SIZE * dataPagesInRecord;
        if (skip == 0) {
            nextItem();
        } else {
            step = Step.SKIP_BODY;
            skippingPages = true;
        }
    }

    private void nextItem() {
        switch (order.expecting()) {
            case LIBXL_HEADER, DOMAIN_HEADER -> begin(16);
            case IMAGE_HEADER -> begin(Wire.IHDR_BYTES);
            case LIBXL_RECORD, LIBXC_RECORD -> begin(Wire.RECORD_HEADER_BYTES);
            case NOTHING -> {
                step = Step.DONE;
                phase = StreamPhase.COMPLETE;
            }
        }
    }

    private void begin(int size) {
        step = Step.ITEM;
        need = size;
        have = 0;
    }

    private boolean check(String orderProblem) {
        if (orderProblem != null) {
            fail(orderProblem);
            return false;
        }
        return true;
    }

    private void fail(String why) {
        problemAt(itemStart, why);
    }

    private void problemAt(long at, String why) {
        problem = "at byte " + at + ": " + why;
        phase = StreamPhase.UNPARSEABLE;
        step = Step.FAILED;
    }

    private void publish() {
        published = new TapSnapshot(bytes, records, pageDataRecords, pfns, pagesWithData, verifyPages,
                pfnsByType.clone(), phase, problem);
    }
}
