package org.xenhost.libxl.stream;

/**
 * Bounds a {@link StreamReader} enforces on top of the format, so that a hostile or corrupt stream can neither
 * make it allocate much nor write outside the guest.
 *
 * @param guestPages    every pfn must be below this (the guest's memory size in 4 KiB pages); pfns beyond it are
 *                      rejected, as libxenguest rejects pfns "outside domain maximum"
 * @param maxBatchPfns  most pfns accepted in one PAGE_DATA record (libxenguest writes at most 1024)
 * @param maxRecordBody longest record body accepted (libxenguest's REC_LENGTH_MAX is 128 MiB); opaque blobs are
 *                      read in steps, so a stream that lies about a length costs only the bytes it really sends
 */
public record ReaderLimits(long guestPages, int maxBatchPfns, int maxRecordBody) {
    /** Format limits only: any 52-bit pfn, batches of up to 1024 pfns, records up to 128 MiB. */
    public static final ReaderLimits DEFAULT = new ReaderLimits(Wire.PFN_LIMIT, Wire.MAX_BATCH_PFNS,
            Wire.REC_LENGTH_MAX);

    public ReaderLimits {
        if (guestPages < 1 || guestPages > Wire.PFN_LIMIT) {
            throw new IllegalArgumentException("guest size must be 1..2^52 pages, not " + guestPages);
        }
        if (maxBatchPfns < 1 || maxBatchPfns > Wire.REC_LENGTH_MAX / (Wire.PAGE_SIZE + 8)) {
            throw new IllegalArgumentException("max batch must be 1.." + Wire.REC_LENGTH_MAX / (Wire.PAGE_SIZE + 8)
                    + " pfns, not " + maxBatchPfns);
        }
        if (maxRecordBody < Wire.PAGE_SIZE || maxRecordBody > Wire.REC_LENGTH_MAX) {
            throw new IllegalArgumentException("max record body must be 4096..128 MiB, not " + maxRecordBody);
        }
    }

    /** Default limits for a guest of {@code memoryBytes} (rounded up to whole pages). */
    public static ReaderLimits forGuestMemory(long memoryBytes) {
        return DEFAULT.withGuestPages((memoryBytes + Wire.PAGE_SIZE - 1) >>> Wire.PAGE_SHIFT);
    }

    public ReaderLimits withGuestPages(long pages) {
        return new ReaderLimits(pages, maxBatchPfns, maxRecordBody);
    }
}
