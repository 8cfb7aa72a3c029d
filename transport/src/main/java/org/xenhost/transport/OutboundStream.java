package org.xenhost.transport;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/**
 * The sending end of one bulk stream. Writes <strong>block</strong> while the peer's receive window is full, so a
 * producer never gets ahead of the consumer by more than the window, whatever the stream length. One thread at a
 * time may write. {@link #close()} marks a clean end of stream after the data written so far; {@link #abort(String)}
 * tells the receiver the stream is incomplete.
 */
public interface OutboundStream extends WritableByteChannel {
    /** {@return the stream's id on its connection} */
    int id();

    /** {@return the label given at {@link PeerConnection#openStream(String)}} */
    String label();

    /**
     * Sends all remaining bytes of {@code src}, blocking while the peer's window is full.
     *
     * @return the number of bytes sent (all that remained)
     * @throws IOException when the connection fails or the peer aborts the stream
     */
    @Override
    int write(ByteBuffer src) throws IOException;

    /**
     * Like {@link #write(ByteBuffer)}, but a direct {@code src} is not copied: the transport encrypts straight from
     * it (e.g. from a mapping of guest memory). Returns only once the transport no longer reads {@code src} (its
     * bytes are encrypted, or the connection failed and dropped them), so the caller may change or unmap it then.
     * Bytes the caller changes during the call go out as they are when encrypted. A heap or read-only buffer is
     * copied as by {@link #write(ByteBuffer)}.
     *
     * @return the number of bytes sent (all that remained)
     */
    int writeLent(ByteBuffer src) throws IOException;

    /** Sends {@code len} bytes of {@code b} from {@code off}, blocking while the peer's window is full. */
    void write(byte[] b, int off, int len) throws IOException;

    /**
     * Copies {@code src} into the stream until it reports end of file, reading straight into transport buffers
     * (one copy, e.g. from a pipe). Does not close this stream.
     *
     * @return bytes copied
     */
    long transferFrom(ReadableByteChannel src) throws IOException;

    /** {@return this stream as an {@link OutputStream}; closing it closes this stream} */
    OutputStream asOutputStream();

    /** {@return bytes handed to the transport so far} */
    long bytesSent();

    /** Tells the receiver this stream ends incomplete; later writes fail. Idempotent. */
    void abort(String reason);

    /** Ends the stream cleanly after all data written so far. Idempotent. */
    @Override
    void close() throws IOException;
}
