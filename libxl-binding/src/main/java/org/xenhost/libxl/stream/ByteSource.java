package org.xenhost.libxl.stream;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/** Where a reader's bytes come from (a stream or a channel), with the running byte offset. Never reads ahead. */
final class ByteSource {
    private final InputStream in;
    private final ReadableByteChannel channel;
    private final byte[] scratch = new byte[64];
    /** For {@link #transfer} from an input that cannot lend its buffers; allocated on first use. */
    private ByteBuffer bounce;
    private long offset;

    ByteSource(InputStream in, long startOffset) {
        this.in = in;
        this.channel = null;
        this.offset = startOffset;
    }

    ByteSource(ReadableByteChannel channel, long startOffset) {
        this.in = null;
        this.channel = channel;
        this.offset = startOffset;
    }

    boolean isChannel() {
        return channel != null;
    }

    long offset() {
        return offset;
    }

    /** Reads up to {@code len} bytes into {@code b}; returns how many were read (fewer only at end of input). */
    int read(byte[] b, int off, int len) throws IOException {
        if (channel != null) {
            return read(ByteBuffer.wrap(b), off, len);
        }
        int n = in.readNBytes(b, off, len);
        offset += n;
        return n;
    }

    /** Reads up to {@code len} bytes into {@code dst} at absolute index {@code index}; fewer only at end of input. */
    int read(ByteBuffer dst, int index, int len) throws IOException {
        int done = 0;
        if (channel != null) {
            ByteBuffer view = dst.duplicate().limit(index + len).position(index);
            while (view.hasRemaining()) {
                int n = channel.read(view);
                if (n < 0) {
                    break;
                }
                done += n;
            }
        } else if (dst.hasArray()) {
            done = in.readNBytes(dst.array(), dst.arrayOffset() + index, len);
        } else {
            byte[] chunk = new byte[Math.min(len, 64 << 10)];
            while (done < len) {
                int want = Math.min(chunk.length, len - done);
                int n = in.readNBytes(chunk, 0, want);
                dst.put(index + done, chunk, 0, n);
                done += n;
                if (n < want) {
                    break;
                }
            }
        }
        offset += done;
        return done;
    }

    /**
     * Moves the next {@code len} bytes into {@code dst}: straight from the input's own buffers when it is a
     * {@link LendingChannel}, else through one reused buffer. {@code dst} may take fewer bytes than offered; it is
     * offered the rest again.
     *
     * @return bytes moved; fewer than {@code len} only at end of input
     */
    long transfer(long len, WritableByteChannel dst) throws IOException {
        long done;
        if (channel instanceof LendingChannel lending) {
            done = lending.transferTo(len, dst);
        } else {
            if (bounce == null) {
                bounce = channel != null ? ByteBuffer.allocateDirect(64 << 10) : ByteBuffer.allocate(64 << 10);
            }
            done = 0;
            while (done < len) {
                bounce.clear().limit((int) Math.min(bounce.capacity(), len - done));
                int n;
                if (channel != null) {
                    n = channel.read(bounce);
                } else {
                    n = in.read(bounce.array(), 0, bounce.remaining());
                    if (n > 0) {
                        bounce.position(n);
                    }
                }
                if (n < 0) {
                    break;
                }
                bounce.flip();
                while (bounce.hasRemaining()) {
                    dst.write(bounce);
                }
                done += n;
            }
        }
        offset += done;
        return done;
    }

    /** Reads {@code len} (at most 64) bytes into a scratch array; returns how many were read. */
    int readSmall(int len) throws IOException {
        return read(scratch, 0, len);
    }

    byte[] scratch() {
        return scratch;
    }

    /** Whether the input is exhausted; consumes (and counts) one byte if it is not. */
    boolean atEnd() throws IOException {
        return readSmall(1) == 0;
    }
}
