package org.xenhost.emulator.save;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import org.xenhost.emulator.memory.GuestMemory;
import org.xenhost.libxl.DomainType;
import org.xenhost.libxl.LibxlError;
import org.xenhost.libxl.LibxlException;
import org.xenhost.libxl.ProgressListener;
import org.xenhost.libxl.SaveProgress;
import org.xenhost.libxl.stream.DomainHeader;
import org.xenhost.libxl.stream.LibxcRecord;
import org.xenhost.libxl.stream.LibxcRecordType;
import org.xenhost.libxl.stream.PageBatch;
import org.xenhost.libxl.stream.PageSink;
import org.xenhost.libxl.stream.ReaderLimits;
import org.xenhost.libxl.stream.StreamReader;
import org.xenhost.libxl.stream.StreamRecord;

/**
 * Reads a libxl stream v2 into a fresh domain's memory, as libxenguest's restorer does: the stream reader checks
 * framing, order and bounds (every pfn below the guest's size, bounded record lengths), pages with data are
 * written into guest memory, XTAB/XALLOC/BROKEN pfns stay unpopulated; after VERIFY each page is compared instead
 * of written and the first difference fails the restore naming the pfn. The stream's guest type must match the
 * configuration, and an HVM/PVH stream must carry its HVM context.
 *
 * <p>It does not clean up: on any exception the caller discards the domain.
 */
public final class Restorer {
    private Restorer() {
    }

    /** Restores into {@code guest}; returns the pages written. */
    public static long restore(RestoredGuest guest, ReadableByteChannel source, ProgressListener progress)
            throws LibxlException {
        GuestMemory memory = guest.memory();
        StreamReader reader = StreamReader.libxl(source, ReaderLimits.forGuestMemory(memory.bytes()));
        boolean verify = false;
        boolean hvmContext = false;
        long written = 0;
        long compared = 0;
        PageSink toMemory = (address, src) -> {
            try (GuestMemory.Pin pin = memory.pin()) {
                memory.lock().lock();
                try {
                    return memory.writeBytes(address, src);
                } finally {
                    memory.lock().unlock();
                }
            }
        };
        try {
            // pages go into guest memory as they arrive (from the input's own buffers when it lends them);
            // after VERIFY they are compared, so the batch keeps them
            for (StreamRecord r; (r = verify ? reader.next() : reader.next(toMemory)) != null; ) {
                if (r instanceof DomainHeader h) {
                    boolean streamPv = h.guestType() == DomainHeader.GuestType.X86_PV;
                    if (streamPv != (guest.type() == DomainType.PV)) {
                        throw new LibxlException(LibxlError.FAIL, "restoring domain " + guest.domid() + ": the stream"
                                + " holds an " + h.guestType() + " guest but the configuration says " + guest.type());
                    }
                } else if (r instanceof PageBatch b) {
                    if (b.pagesDelivered()) {
                        written += markWritten(memory, b);
                    } else {
                        compared += compare(guest, memory, b, reader.offset());
                    }
                    progress.progress(new SaveProgress(verify ? "Frames verify" : "Frames", 0,
                            verify ? compared : written, memory.pages()));
                } else if (r instanceof LibxcRecord.Verify) {
                    verify = true;
                } else if (r instanceof LibxcRecord.HvmContext c) {
                    hvmContext = true;
                    long step = GuestStateBlobs.workloadStep(c.blob());
                    if (step >= 0) {
                        guest.setWorkloadStep(step);
                    }
                } else if (r instanceof LibxcRecord.X86PvVcpu v && v.kind() == LibxcRecordType.X86_PV_VCPU_BASIC
                        && v.vcpuId() == 0 && v.context().length >= 8) {
                    guest.setWorkloadStep(ByteBuffer.wrap(v.context()).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(0));
                }
            }
        } catch (IOException e) {
            throw new LibxlException(LibxlError.FAIL, "restoring domain " + guest.domid() + ": " + e.getMessage(), e);
        }
        if (guest.type() != DomainType.PV && !hvmContext) {
            throw new LibxlException(LibxlError.FAIL, "restoring domain " + guest.domid()
                    + ": the stream ended without an HVM_CONTEXT record (incomplete save)");
        }
        return written;
    }

    /** The batch's pages are all in guest memory now: they count as populated (and dirty, for a later save). */
    private static long markWritten(GuestMemory memory, PageBatch b) {
        long n = 0;
        try (GuestMemory.Pin pin = memory.pin()) {
            memory.lock().lock();
            try {
                int i = 0;
                while (i < b.count()) {
                    if (!b.hasData(i)) {
                        i++;
                        continue;
                    }
                    int j = i + 1;
                    while (j < b.count() && b.hasData(j) && b.pfn(j) == b.pfn(j - 1) + 1) {
                        j++;
                    }
                    memory.markWritten(b.pfn(i), j - i);
                    n += j - i;
                    i = j;
                }
            } finally {
                memory.lock().unlock();
            }
        }
        return n;
    }

    private static long compare(RestoredGuest guest, GuestMemory memory, PageBatch b, long offset)
            throws LibxlException {
        ByteBuffer data = b.pageData();
        long n = 0;
        try (GuestMemory.Pin pin = memory.pin()) {
            for (int i = 0; i < b.count(); i++) {
                if (!b.hasData(i)) {
                    continue;
                }
                long pfn = b.pfn(i);
                ByteBuffer mine = memory.segmentOf(pfn).slice(memory.indexInSegment(pfn), GuestMemory.PAGE_SIZE);
                ByteBuffer sent = data.slice(b.dataOffset(i), GuestMemory.PAGE_SIZE);
                if (mine.mismatch(sent) >= 0) {
                    throw new LibxlException(LibxlError.FAIL, "restoring domain " + guest.domid()
                            + ": verify pfn 0x" + Long.toHexString(pfn) + " failed: the page sent after VERIFY differs"
                            + " from the one restored (record ending at stream offset " + offset + ")");
                }
                n++;
            }
        }
        return n;
    }
}
