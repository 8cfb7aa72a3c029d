package org.xenhost.transport;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/**
 * The receiving end of one bulk stream. Reads <strong>block</strong> until data arrives; every byte consumed opens
 * the sender's window again, so what waits here is bounded by the window. One thread at a time may read. End of
 * stream ({@code -1}) means the sender closed cleanly; an aborted stream or a lost connection is an
 * {@link IOException}.
 */
public interface InboundStream extends ReadableByteChannel {
    /** {@return the stream's id on its connection} */
    int id();

    /** {@return the label the sender gave} */
    String label();

    /**
     * Reads into {@code dst}, blocking until at least one byte is available.
     *
     * @return bytes read, or -1 at a clean end of stream
     */
    @Override
    int read(ByteBuffer dst) throws IOException;

    /** Like {@link InputStream#read(byte[], int, int)}. */
    int read(byte[] b, int off, int len) throws IOException;

    /**
     * Writes everything until the clean end of stream into {@code dst} (e.g. a pipe), straight from transport buffers.
     *
     * @return bytes copied
     */
    long transferTo(WritableByteChannel dst) throws IOException;

    /**
     * Writes the next {@code count} bytes into {@code dst} straight from the transport's (decrypted) buffers, with no
     * caller's buffer in between: e.g. positional file writes of a stream's payload. Blocks until they arrived; a
     * {@code dst} that takes fewer bytes than offered is offered the rest again.
     *
     * @return bytes moved: {@code count}, or fewer only at a clean end of stream
     */
    long transferTo(long count, WritableByteChannel dst) throws IOException;

    /** {@return this stream as an {@link InputStream}; closing it closes this stream} */
    InputStream asInputStream();

    /** {@return bytes consumed so far} */
    long bytesReceived();

    /** Stops receiving: before the end of stream this tells the sender to stop (its writes fail). Idempotent. */
    @Override
    void close();
}
