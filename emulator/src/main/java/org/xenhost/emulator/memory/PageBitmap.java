package org.xenhost.emulator.memory;

import java.util.Arrays;
import java.util.function.LongConsumer;

/**
 * A plain bitmap over guest frame numbers (one bit per 4 KiB page), as Xen's log-dirty bitmap.
 * Not thread-safe: the owner serialises mutation (see {@link LogDirty}).
 */
public final class PageBitmap {
    private final long[] words;
    private final long pages;

    public PageBitmap(long pages) {
        if (pages < 0 || pages > (1L << 36)) {
            throw new IllegalArgumentException("page count out of range: " + pages);
        }
        this.pages = pages;
        this.words = new long[(int) ((pages + 63) >>> 6)];
    }

    public long pages() {
        return pages;
    }

    public void set(long pfn) {
        words[(int) (pfn >>> 6)] |= 1L << (pfn & 63);
    }

    public boolean get(long pfn) {
        return (words[(int) (pfn >>> 6)] & (1L << (pfn & 63))) != 0;
    }

    public void clear() {
        Arrays.fill(words, 0L);
    }

    public long count() {
        long n = 0;
        for (long w : words) {
            n += Long.bitCount(w);
        }
        return n;
    }

    /** Calls {@code each} for every set pfn in ascending order. */
    public void forEach(LongConsumer each) {
        for (int i = 0; i < words.length; i++) {
            long w = words[i];
            while (w != 0) {
                int bit = Long.numberOfTrailingZeros(w);
                each.accept(((long) i << 6) + bit);
                w &= w - 1;
            }
        }
    }
}
