package org.xenhost.libxl.stream;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Where a {@link StreamReader} puts PAGE_DATA contents when the consumer takes them as they arrive instead of in the
 * {@link PageBatch} ({@link StreamReader#next(PageSink)}): a restorer writing guest memory straight from the input's
 * buffers. The reader calls it only after the record's pfn list passed every check, with pieces in stream order;
 * a piece may end inside a page (the input's buffers do not follow page boundaries) but never spans two runs of
 * adjacent pfns.
 */
@FunctionalInterface
public interface PageSink {
    /**
     * Takes bytes of guest memory from {@code src} (position to limit) for guest physical address {@code address}
     * ({@code pfn << 12} plus the offset within the page).
     *
     * @return bytes taken from {@code src} (its position advanced by as many); the reader offers the rest again
     */
    int write(long address, ByteBuffer src) throws IOException;
}
