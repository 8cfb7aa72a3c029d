package org.xenhost.emulator.save;

/**
 * libxenguest 4.17's {@code simple_precopy_policy}, the only one libxl uses: stop and copy when fewer than
 * {@value #TARGET_DIRTY_COUNT} pages were dirtied in the last round, or after {@value #MAX_ITERATIONS}
 * iterations. The round in which the policy says stop still sends its dirty pages.
 */
final class PrecopyPolicy {
    static final int TARGET_DIRTY_COUNT = 50;
    static final int MAX_ITERATIONS = 5;

    private PrecopyPolicy() {
    }

    /**
     * @param iteration  0 for the first pass (all memory), then 1, 2, ...
     * @param dirtyCount pages to send in this iteration
     * @return true to stop and copy after sending this iteration's pages
     */
    static boolean stopAndCopy(int iteration, long dirtyCount) {
        return (dirtyCount >= 0 && dirtyCount < TARGET_DIRTY_COUNT) || iteration >= MAX_ITERATIONS;
    }
}
