package org.xenhost.emulator.memory;

/**
 * Xen-style log-dirty tracking for one domain: while enabled, every guest write sets the page's bit in the
 * active bitmap; {@link #peekAndClean()} (SHADOW_OP_CLEAN) hands the current bitmap to the saver and installs
 * a cleared one, so one round's dirty set is swapped out atomically with respect to guest writes.
 *
 * <p>All methods are called with the domain's memory write lock held (see {@link GuestMemory}), which is what
 * makes "write page + mark dirty" atomic with respect to the swap.
 */
final class LogDirty {
    private final long pages;
    private PageBitmap active;
    private PageBitmap spare;

    LogDirty(long pages) {
        this.pages = pages;
    }

    boolean enabled() {
        return active != null;
    }

    void enable() {
        if (active == null) {
            active = new PageBitmap(pages);
            spare = null;
        }
    }

    void disable() {
        active = null;
        spare = null;
    }

    void mark(long pfn) {
        if (active != null) {
            active.set(pfn);
        }
    }

    /**
     * Returns the pages dirtied since enable or the previous clean and starts a new round. The returned bitmap
     * stays valid until the next call (it becomes the spare of the round after).
     */
    PageBitmap peekAndClean() {
        if (active == null) {
            throw new IllegalStateException("log-dirty is not enabled");
        }
        PageBitmap round = active;
        PageBitmap next = spare != null ? spare : new PageBitmap(pages);
        next.clear();
        active = next;
        spare = round;
        return round;
    }
}
