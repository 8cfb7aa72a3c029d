package org.xenhost.emulator.save;

import java.io.IOException;
import java.nio.channels.WritableByteChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongConsumer;
import org.xenhost.emulator.memory.GuestMemory;
import org.xenhost.emulator.memory.PageBitmap;
import org.xenhost.libxl.DomainType;
import org.xenhost.libxl.LibxlError;
import org.xenhost.libxl.LibxlException;
import org.xenhost.libxl.ProgressListener;
import org.xenhost.libxl.SaveProgress;
import org.xenhost.libxl.stream.DomainHeader;
import org.xenhost.libxl.stream.ImageHeader;
import org.xenhost.libxl.stream.LibxcRecord;
import org.xenhost.libxl.stream.LibxcRecordType;
import org.xenhost.libxl.stream.LibxlHeader;
import org.xenhost.libxl.stream.LibxlRecord;
import org.xenhost.libxl.stream.PageBatch;
import org.xenhost.libxl.stream.PageType;
import org.xenhost.libxl.stream.StreamWriter;

/**
 * Writes a domain's libxl migration stream v2 the way libxl + libxenguest 4.17 do ({@code xg_sr_save.c}):
 *
 * <ol>
 *   <li>libxl header, LIBXC_CONTEXT; libxc image header (v3), domain header (HVM for HVM/PVH), [PV_INFO],
 *       CPUID and MSR policies, STATIC_DATA_END, [PV: P2M_FRAMES].</li>
 *   <li>Live: enable log-dirty (refused with -EINVAL when PCI devices are assigned), iteration 0 sends every pfn,
 *       then each iteration fetches-and-clears the dirty bitmap and sends it, until
 *       {@link PrecopyPolicy} says stop (fewer than 50 dirty, or iteration 5; the stopping round still sends);
 *       then the guest is suspended and the last dirty set is sent while it is paused. Debug: VERIFY, then every
 *       pfn again. Non-live: suspend first, send every pfn once (libxenguest has no VERIFY pass there).</li>
 *   <li>TSC_INFO, HVM_CONTEXT, HVM_PARAMS (PV: TSC_INFO, SHARED_INFO, per-vCPU BASIC), libxc END;
 *       HVM only: EMULATOR_CONTEXT (the device model's state); libxl END. Log-dirty is switched off.</li>
 * </ol>
 *
 * "Every pfn" means pfn 0..maxpfn: a populated page goes with its 4096 bytes (NOTAB), a never-touched pfn as XTAB
 * (no data), as libxenguest sends pfns without a backing frame. PAGE_DATA batches hold at most 1024 pfns and never
 * span two rounds. Writes block when the consumer is slow (backpressure is the target's blocking write).
 */
public final class Saver {
    /** libxenguest's MAX_BATCH_SIZE. */
    static final int BATCH = 1024;

    private final SavedGuest guest;
    private final GuestMemory memory;
    private final StreamWriter out;
    private final ProgressListener progress;
    private final PageBatch batch = new PageBatch(BATCH);
    private final List<Long> rounds = new ArrayList<>();
    private long pagesSent;
    private long roundTotal;
    private long roundDone;
    private String doing = "";

    private Saver(SavedGuest guest, WritableByteChannel target, ProgressListener progress) {
        this.guest = guest;
        this.memory = guest.memory();
        this.out = StreamWriter.libxl(target);
        this.progress = progress;
    }

    /**
     * Saves {@code guest} into {@code target}. On return the guest is suspended. On failure it may or may not be
     * suspended (as with libxl: the caller resumes it).
     *
     * @return what was sent, round by round
     */
    public static SaveReport save(SavedGuest guest, WritableByteChannel target, boolean live, boolean debug,
                                  ProgressListener progress) throws LibxlException {
        Saver s = new Saver(guest, target, progress);
        try {
            return s.run(live, debug);
        } catch (IOException e) {
            throw new LibxlException(LibxlError.FAIL, "saving domain " + guest.domid() + ": writing the stream failed at byte "
                    + s.out.offset() + ": " + e.getMessage(), e);
        } catch (IllegalStateException e) {
            if (!guest.memory().closing()) {
                throw e;
            }
            // memory released under us: destroyed during the save
            throw new LibxlException(LibxlError.DOMAIN_DESTROYED, "saving domain " + guest.domid()
                    + ": the domain was destroyed during the save", e);
        } finally {
            guest.memory().disableLogDirty();
        }
    }

    private SaveReport run(boolean live, boolean debug) throws IOException, LibxlException {
        boolean pv = guest.type() == DomainType.PV;
        // 1. headers and static data
        out.write(LibxlHeader.CURRENT);
        out.write(new LibxlRecord.LibxcContext());
        out.write(ImageHeader.V3);
        out.write(new DomainHeader(pv ? DomainHeader.GuestType.X86_PV : DomainHeader.GuestType.X86_HVM, 4, 17));
        if (pv) {
            out.write(new LibxcRecord.X86PvInfo(8, 4));
        }
        out.write(GuestStateBlobs.cpuidPolicy());
        out.write(GuestStateBlobs.msrPolicy());
        out.write(new LibxcRecord.StaticDataEnd());
        if (pv) {
            long frames = (memory.pages() + 511) / 512;
            long[] p2m = new long[(int) frames];
            for (int i = 0; i < p2m.length; i++) {
                p2m[i] = i;
            }
            out.write(new LibxcRecord.X86PvP2mFrames(0, (int) (memory.pages() - 1), p2m));
        }
        // 2. memory
        long finalPass;
        boolean verify = false;
        if (live) {
            int rc = guest.enableLogDirty();
            if (rc < 0) {
                throw new LibxlException(LibxlError.FAIL, "Failed to enable logdirty: " + (-rc)
                        + ", Invalid argument (domain " + guest.domid() + " has PCI devices assigned; "
                        + "detach them before a live migration)");
            }
            int iteration = 0;
            long dirtyCount = memory.pages();
            PageBitmap dirty = null;
            while (true) {
                boolean stop = PrecopyPolicy.stopAndCopy(iteration, dirtyCount);
                if (dirtyCount > 0) {
                    begin("Frames iteration " + iteration + " of " + PrecopyPolicy.MAX_ITERATIONS
                            + " (" + dirtyCount + " dirty)", dirtyCount);
                    if (iteration == 0) {
                        sendAll();
                    } else {
                        sendBitmap(dirty);
                    }
                }
                rounds.add(iteration == 0 ? memory.pages() : dirtyCount);
                if (stop) {
                    break;
                }
                iteration++;
                dirty = memory.peekAndCleanDirty();
                dirtyCount = dirty.count();
            }
            guest.suspend();
            PageBitmap last = memory.peekAndCleanDirty();
            finalPass = last.count();
            begin("Frames final pass, guest suspended (" + finalPass + " dirty)", finalPass);
            sendBitmap(last);
            if (debug) {
                out.write(new LibxcRecord.Verify());
                verify = true;
                begin("Frames verify", memory.pages());
                sendAll();
            }
        } else {
            guest.suspend();
            begin("Frames", memory.pages());
            sendAll();
            finalPass = memory.pages();
        }
        // 3. CPU and device state, ends
        out.write(GuestStateBlobs.tscInfo(guest.uptimeNs()));
        if (pv) {
            out.write(new LibxcRecord.SharedInfo(new byte[GuestMemory.PAGE_SIZE]));
            for (int v = 0; v < guest.vcpus(); v++) {
                out.write(new LibxcRecord.X86PvVcpu(LibxcRecordType.X86_PV_VCPU_BASIC, v,
                        GuestStateBlobs.pvVcpuContext(v == 0 ? guest.workloadStep() : 0)));
            }
        } else {
            out.write(GuestStateBlobs.hvmContext(guest.vcpus(), guest.workloadStep()));
            out.write(GuestStateBlobs.hvmParams());
        }
        out.write(new LibxcRecord.End());
        if (guest.type() == DomainType.HVM) {
            out.write(new LibxlRecord.EmulatorContext(LibxlRecord.Emulator.QEMU_UPSTREAM, 0,
                    "QEVM emulated device model state\0".getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
        }
        out.write(new LibxlRecord.End());
        out.flush();
        return new SaveReport(List.copyOf(rounds), finalPass, verify, pagesSent, out.offset());
    }

    /**
     * Every pfn of the guest: populated ones with data, the rest as XTAB. The pin is held from adding a batch to
     * the end of its write, because the pages go out straight from the mapping; it is let go between batches so
     * a destroy waits for one batch at most.
     */
    private void sendAll() throws IOException {
        long pages = memory.pages();
        long pfn = 0;
        while (pfn < pages) {
            try (GuestMemory.Pin pin = memory.pin()) {
                while (pfn < pages && !batch.isFull()) {
                    add(pfn++);
                }
                flushBatch();
            }
        }
    }

    private void sendBitmap(PageBitmap dirty) throws IOException {
        IOException[] failure = new IOException[1];
        GuestMemory.Pin[] pin = {memory.pin()};
        try {
            dirty.forEach((LongConsumer) pfn -> {
                if (failure[0] != null) {
                    return;
                }
                add(pfn);
                if (batch.isFull()) {
                    try {
                        flushBatch();
                    } catch (IOException e) {
                        failure[0] = e;
                        return;
                    }
                    pin[0].close();
                    pin[0] = null; // if pinning again fails (destroyed meanwhile), finally has nothing to close
                    pin[0] = memory.pin();
                }
            });
            if (failure[0] != null) {
                throw failure[0];
            }
            flushBatch();
        } finally {
            if (pin[0] != null) {
                pin[0].close();
            }
        }
    }

    /**
     * A populated page goes into the batch in place: libxenguest too writes its batches straight from its mapping
     * of the guest's frames, so a page the guest changes meanwhile goes out as it is at the write (the dirty log
     * sends it again).
     */
    private void add(long pfn) {
        if (memory.isPopulated(pfn)) {
            batch.addInPlace(pfn, PageType.NOTAB, memory.segmentOf(pfn), memory.indexInSegment(pfn));
        } else {
            batch.addWithoutData(pfn, PageType.XTAB);
        }
    }

    private void flushBatch() throws IOException {
        if (batch.isEmpty()) {
            return;
        }
        out.write(batch);
        pagesSent += batch.pagesWithData();
        roundDone += batch.count();
        batch.clear();
        int percent = roundTotal == 0 ? 100 : (int) Math.min(100, roundDone * 100 / roundTotal);
        progress.progress(new SaveProgress(doing, percent, roundDone, roundTotal));
    }

    private void begin(String what, long total) {
        doing = what;
        roundTotal = total;
        roundDone = 0;
        progress.progress(new SaveProgress(doing, 0, 0, total));
    }

    /**
     * What a save sent.
     *
     * @param liveRounds  pfns sent per live iteration (iteration 0 = every pfn); empty for a non-live save
     * @param finalPass   pages sent while the guest was suspended
     * @param verify      whether a VERIFY pass followed
     * @param pagesSent   pages sent with data, all passes
     * @param streamBytes bytes written
     */
    public record SaveReport(List<Long> liveRounds, long finalPass, boolean verify, long pagesSent, long streamBytes) {
    }
}
