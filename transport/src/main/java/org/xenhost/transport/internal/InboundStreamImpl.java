package org.xenhost.transport.internal;

import io.netty.buffer.ByteBuf;
import org.xenhost.transport.InboundStream;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.ArrayDeque;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Receiving end of a stream. The I/O thread queues data slices; the consumer takes them, and every
 * {@code window / 4} bytes consumed go back to the sender as a WINDOW_UPDATE. A sender that sends more than the
 * window it was given breaks the protocol and loses the connection, so the queue never exceeds one window.
 */
final class InboundStreamImpl implements InboundStream {
    private final PeerChannel conn;
    private final int id;
    private final String label;
    private final int window;
    private final int updateThreshold;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition arrived = lock.newCondition();
    private final ArrayDeque<ByteBuf> queue = new ArrayDeque<>();
    private long queued;
    private boolean ended;
    private boolean closed;
    private IOException failure;
    /** Consumer-owned: the slice being read, taken out of the queue. */
    private ByteBuf current;
    private long unacknowledged;
    private long received;
    private InputStream asStream;

    InboundStreamImpl(PeerChannel conn, int id, String label, int window) {
        this.conn = conn;
        this.id = id;
        this.label = label;
        this.window = window;
        this.updateThreshold = Math.max(1, window / 4);
    }

    @Override
    public int id() {
        return id;
    }

    @Override
    public String label() {
        return label;
    }

    /** I/O thread: a data slice arrived. {@return false when the sender overran its window} */
    boolean onData(ByteBuf data) {
        lock.lock();
        try {
            if (closed || failure != null) {
                data.release();
                return true;
            }
            if (ended) {
                data.release();
                return false;
            }
            queued += data.readableBytes();
            if (queued > window) {
                data.release();
                return false;
            }
            queue.add(data);
            arrived.signal();
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** I/O thread: the sender ended the stream cleanly. */
    void onEnd() {
        lock.lock();
        try {
            ended = true;
            arrived.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** I/O or closing thread: the stream broke; queued data is dropped. */
    void fail(IOException cause) {
        lock.lock();
        try {
            if (failure == null && !closed) {
                failure = cause;
            }
            releaseQueue();
            arrived.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Takes the next slice to read (consumer thread), or null at the clean end of stream. */
    private ByteBuf next() throws IOException {
        if (current != null && current.isReadable()) {
            return current;
        }
        if (current != null) {
            current.release();
            current = null;
        }
        lock.lock();
        try {
            while (true) {
                if (failure != null) {
                    throw new IOException(failure.getMessage(), failure);
                }
                if (closed) {
                    throw new java.nio.channels.ClosedChannelException();
                }
                ByteBuf b = queue.poll();
                if (b != null) {
                    queued -= b.readableBytes();
                    current = b;
                    return b;
                }
                if (ended) {
                    return null;
                }
                arrived.await();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while waiting for data of stream " + label);
        } finally {
            lock.unlock();
        }
    }

    private void consumed(int n) {
        received += n;
        unacknowledged += n;
        if (unacknowledged >= updateThreshold) {
            conn.writeFrame(new Frame.WindowUpdate(id, (int) unacknowledged));
            unacknowledged = 0;
        }
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        if (!dst.hasRemaining()) {
            return 0;
        }
        int total = 0;
        while (dst.hasRemaining()) {
            ByteBuf b;
            if (total == 0) {
                b = next();
                if (b == null) {
                    return -1;
                }
            } else {
                b = available();
                if (b == null) {
                    break;
                }
            }
            int n = Math.min(b.readableBytes(), dst.remaining());
            int limit = dst.limit();
            dst.limit(dst.position() + n);
            b.readBytes(dst);
            dst.limit(limit);
            total += n;
        }
        consumed(total);
        return total;
    }

    /** Like {@link #next()} but never waits: what is already here, or null. */
    private ByteBuf available() {
        if (current != null && current.isReadable()) {
            return current;
        }
        lock.lock();
        try {
            if (failure != null || closed || queue.isEmpty()) {
                return null;
            }
            if (current != null) {
                current.release();
            }
            current = queue.poll();
            queued -= current.readableBytes();
            return current;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        return read(ByteBuffer.wrap(b, off, len));
    }

    @Override
    public long transferTo(WritableByteChannel dst) throws IOException {
        long total = 0;
        for (ByteBuf b = next(); b != null; b = next()) {
            int n = b.readableBytes();
            ByteBuffer nio = b.nioBuffer();
            while (nio.hasRemaining()) {
                dst.write(nio);
            }
            b.skipBytes(n);
            consumed(n);
            total += n;
        }
        return total;
    }

    @Override
    public long transferTo(long count, WritableByteChannel dst) throws IOException {
        if (count < 0) {
            throw new IllegalArgumentException("byte count " + count + " is negative");
        }
        long total = 0;
        while (total < count) {
            ByteBuf b = next();
            if (b == null) {
                break;
            }
            int n = (int) Math.min(b.readableBytes(), count - total);
            ByteBuffer nio = b.nioBuffer(b.readerIndex(), n);
            try {
                while (nio.hasRemaining()) {
                    dst.write(nio);
                }
            } finally {
                // what dst took is consumed even when it then failed: the window stays exact
                int done = n - nio.remaining();
                b.skipBytes(done);
                consumed(done);
                total += done;
            }
        }
        return total;
    }

    @Override
    public InputStream asInputStream() {
        if (asStream == null) {
            asStream = new InputStream() {
                @Override
                public int read() throws IOException {
                    byte[] one = new byte[1];
                    int n = InboundStreamImpl.this.read(one, 0, 1);
                    return n < 0 ? -1 : one[0] & 0xFF;
                }

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    return InboundStreamImpl.this.read(b, off, len);
                }

                @Override
                public void close() {
                    InboundStreamImpl.this.close();
                }
            };
        }
        return asStream;
    }

    @Override
    public long bytesReceived() {
        return received;
    }

    @Override
    public boolean isOpen() {
        lock.lock();
        try {
            return !closed && failure == null;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void close() {
        boolean early;
        lock.lock();
        try {
            if (closed) {
                return;
            }
            early = !ended && failure == null;
            closed = true;
            releaseQueue();
            if (current != null) {
                current.release();
                current = null;
            }
            arrived.signalAll();
        } finally {
            lock.unlock();
        }
        conn.streamDone(this, early ? new Frame.StreamReset(id, "receiver closed the stream before its end") : null);
    }

    private void releaseQueue() {
        for (ByteBuf b; (b = queue.poll()) != null; ) {
            b.release();
        }
        queued = 0;
    }
}
