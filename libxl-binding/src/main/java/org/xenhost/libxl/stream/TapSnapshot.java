package org.xenhost.libxl.stream;

/**
 * What a {@link StreamTap} has seen so far; immutable, consistent as of the end of one chunk.
 *
 * @param bytes           bytes seen, including any save-file header
 * @param records         records seen, both layers (headers not counted)
 * @param pageDataRecords PAGE_DATA records seen
 * @param pfns            pfn entries seen in PAGE_DATA records
 * @param pagesWithData   pfn entries that carried 4096 bytes of contents
 * @param verifyPages     pages with contents sent after the VERIFY record (included in pagesWithData)
 * @param phase           where the stream is
 * @param problem         why parsing stopped, or {@code null}
 */
public record TapSnapshot(long bytes, long records, long pageDataRecords, long pfns, long pagesWithData,
                          long verifyPages, long[] pfnsByTypeNibble, StreamPhase phase, String problem) {
    /** Guest memory bytes carried so far (pages with contents × 4096). */
    public long memoryBytes() {
        return pagesWithData * Wire.PAGE_SIZE;
    }

    /** How many pfn entries of this type were seen. */
    public long pfns(PageType type) {
        return pfnsByTypeNibble[type.nibble()];
    }
}
