package org.xenhost.transport.internal;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.UnpooledUnsafeDirectByteBuf;
import org.xenhost.transport.OutboundStream;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ReadableByteChannel;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Sending end of a stream. {@code credit} is what the peer still lets us send: it starts at the peer's window, each
 * frame spends it, WINDOW_UPDATE frames (on the I/O thread) give it back. A writer with no credit waits; so at most
 * one window of this stream's data exists between the producer and the peer's consumer.
 */
final class OutboundStreamImpl implements OutboundStream {
    private final PeerChannel conn;
    private final int id;
    private final String label;
    private final int maxFrame;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition creditArrived = lock.newCondition();
    private long credit;
    private IOException failure;
    private boolean closed;
    private long sent;
    private OutputStream asStream;

    OutboundStreamImpl(PeerChannel conn, int id, String label, int window, int maxFrame) {
        this.conn = conn;
        this.id = id;
        this.label = label;
        this.credit = window;
        this.maxFrame = maxFrame;
    }

    @Override
    public int id() {
        return id;
    }

    @Override
    public String label() {
        return label;
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        int total = src.remaining();
        while (src.hasRemaining()) {
            int n = acquire(src.remaining());
            ByteBuf buf = conn.alloc().directBuffer(n, n);
            int limit = src.limit();
            src.limit(src.position() + n);
            buf.writeBytes(src);
            src.limit(limit);
            send(buf);
        }
        return total;
    }

    @Override
    public int writeLent(ByteBuffer src) throws IOException {
        if (!src.isDirect() || src.isReadOnly()) {
            return write(src); // Netty wraps only writable direct memory
        }
        int total = src.remaining();
        Loans loans = new Loans();
        try {
            while (src.hasRemaining()) {
                int n = acquire(src.remaining());
                ByteBuf buf = loans.lend(conn.alloc(), src.slice(src.position(), n));
                src.position(src.position() + n);
                send(buf);
            }
        } finally {
            // Netty releases every frame's buffer once encrypted, or when the connection drops it: until then it
            // may read src, so returning earlier would let the caller unmap memory under the encryption
            loans.awaitReturned();
        }
        return total;
    }

    /** Counts this write's lent buffers that the transport still holds. */
    private static final class Loans {
        private int outstanding;

        ByteBuf lend(ByteBufAllocator alloc, ByteBuffer region) {
            synchronized (this) {
                outstanding++;
            }
            return new LentBuf(alloc, region, this);
        }

        synchronized void returned() {
            if (--outstanding == 0) {
                notifyAll();
            }
        }

        void awaitReturned() {
            boolean interrupted = false;
            synchronized (this) {
                while (outstanding > 0) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        interrupted = true; // still must not return while the transport reads the caller's memory
                    }
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** A caller's direct memory seen as a buffer the transport may read until its last release; never freed. */
    private static final class LentBuf extends UnpooledUnsafeDirectByteBuf {
        private final Loans loans;

        LentBuf(ByteBufAllocator alloc, ByteBuffer region, Loans loans) {
            super(alloc, region, region.remaining());
            this.loans = loans;
        }

        @Override
        protected void deallocate() {
            super.deallocate();
            loans.returned();
        }
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        write(ByteBuffer.wrap(b, off, len));
    }

    @Override
    public long transferFrom(ReadableByteChannel src) throws IOException {
        long total = 0;
        while (true) {
            int n = acquire(maxFrame);
            ByteBuf buf = conn.alloc().directBuffer(n, n);
            boolean eof = false;
            try {
                // fill the frame while the source keeps up; a short read means it is drained for now, so send
                // what we have rather than hold data back
                while (buf.isWritable()) {
                    int want = buf.writableBytes();
                    ByteBuffer nio = buf.nioBuffer(buf.writerIndex(), want);
                    int r = src.read(nio);
                    if (r < 0) {
                        eof = true;
                        break;
                    }
                    buf.writerIndex(buf.writerIndex() + r);
                    if (r < want) {
                        break;
                    }
                }
            } catch (IOException | RuntimeException e) {
                buf.release();
                refund(n);
                throw e;
            }
            int got = buf.readableBytes();
            refund(n - got);
            if (got > 0) {
                send(buf);
                total += got;
            } else {
                buf.release();
            }
            if (eof) {
                return total;
            }
        }
    }

    /** Waits for credit and takes up to {@code want} bytes (at most one frame) of it. */
    private int acquire(int want) throws IOException {
        lock.lock();
        try {
            while (true) {
                if (failure != null) {
                    throw new IOException(failure.getMessage(), failure);
                }
                if (closed) {
                    throw new ClosedChannelException();
                }
                if (credit > 0) {
                    int n = (int) Math.min(Math.min(credit, want), maxFrame);
                    credit -= n;
                    return n;
                }
                creditArrived.await();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while waiting for the peer to consume stream " + label);
        } finally {
            lock.unlock();
        }
    }

    private void refund(int n) {
        if (n > 0) {
            lock.lock();
            try {
                credit += n;
            } finally {
                lock.unlock();
            }
        }
    }

    private void send(ByteBuf buf) {
        sent += buf.readableBytes();
        conn.writeFrame(new Frame.Data(id, buf));
    }

    /** I/O thread: the peer consumed {@code n} bytes. */
    void credit(int n) {
        lock.lock();
        try {
            credit += n;
            creditArrived.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** I/O or closing thread: the stream can no longer carry data. */
    void fail(IOException cause) {
        lock.lock();
        try {
            if (failure == null && !closed) {
                failure = cause;
            }
            creditArrived.signalAll();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public OutputStream asOutputStream() {
        if (asStream == null) {
            asStream = new OutputStream() {
                @Override
                public void write(int b) throws IOException {
                    OutboundStreamImpl.this.write(new byte[] {(byte) b}, 0, 1);
                }

                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    OutboundStreamImpl.this.write(b, off, len);
                }

                @Override
                public void close() throws IOException {
                    OutboundStreamImpl.this.close();
                }
            };
        }
        return asStream;
    }

    @Override
    public long bytesSent() {
        return sent;
    }

    @Override
    public void abort(String reason) {
        lock.lock();
        try {
            if (closed || failure != null) {
                return;
            }
            failure = new IOException("stream " + label + " aborted locally: " + reason);
            creditArrived.signalAll();
        } finally {
            lock.unlock();
        }
        conn.streamDone(this, new Frame.StreamReset(id, reason));
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
    public void close() throws IOException {
        IOException f;
        lock.lock();
        try {
            if (closed) {
                return;
            }
            f = failure;
            closed = true;
        } finally {
            lock.unlock();
        }
        if (f != null) {
            throw new IOException(f.getMessage(), f);
        }
        conn.streamDone(this, new Frame.StreamEnd(id));
    }
}
