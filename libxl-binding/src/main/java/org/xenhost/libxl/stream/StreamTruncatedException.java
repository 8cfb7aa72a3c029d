package org.xenhost.libxl.stream;

/**
 * The input ended inside a header or record (or before the final END): the sender died, the connection dropped, or
 * the save file is incomplete. {@link #offset()} is where the input ended.
 */
public final class StreamTruncatedException extends StreamFormatException {
    private static final long serialVersionUID = 1L;

    public StreamTruncatedException(long offset, long recordOffset, String record, long missing) {
        super(offset, recordOffset, record, "input ends " + missing + " byte(s) short of the end of the "
                + record + "; the stream is incomplete (sender stopped, connection lost or file cut short)");
    }
}
