package org.xenhost.libxl.stream;

import java.io.IOException;

/**
 * A migration stream (or xl save file) that is malformed, hostile, or not what the reader was told to expect.
 *
 * <p>Names where the problem is: {@link #offset()} is the byte (counted from the start of the input, so for a save
 * file it is the file offset) at which the offending field starts, {@link #record()} the record (or header) it belongs
 * to and {@link #recordOffset()} where that record starts. The reader that threw is finished; nothing it produced
 * after the last complete record should be trusted.
 */
public class StreamFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    private final long offset;
    private final long recordOffset;
    private final String record;
    private final String problem;

    public StreamFormatException(long offset, long recordOffset, String record, String problem) {
        super(describe(offset, recordOffset, record, problem));
        this.offset = offset;
        this.recordOffset = recordOffset;
        this.record = record;
        this.problem = problem;
    }

    private static String describe(long offset, long recordOffset, String record, String problem) {
        return "migration stream rejected at byte " + offset + " (" + record + " starting at byte " + recordOffset
                + "): " + problem;
    }

    /** Byte offset, from the start of the input, of the field that is wrong. */
    public long offset() {
        return offset;
    }

    /** Byte offset at which the enclosing record or header starts. */
    public long recordOffset() {
        return recordOffset;
    }

    /** The record or header, e.g. {@code "libxc PAGE_DATA record"} or {@code "libxl header"}. */
    public String record() {
        return record;
    }

    /** What is wrong, without the position. */
    public String problem() {
        return problem;
    }
}
