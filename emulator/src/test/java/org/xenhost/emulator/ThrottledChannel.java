package org.xenhost.emulator;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;

/** A slow consumer: passes writes on at about {@code bytesPerSecond}, blocking the writer (backpressure). */
final class ThrottledChannel implements WritableByteChannel {
    private final WritableByteChannel out;
    private final long bytesPerSecond;
    private final long start = System.nanoTime();
    private long written;

    ThrottledChannel(WritableByteChannel out, long bytesPerSecond) {
        this.out = out;
        this.bytesPerSecond = bytesPerSecond;
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        int n = out.write(src);
        written += n;
        long due = start + written * 1_000_000_000L / bytesPerSecond;
        long wait = due - System.nanoTime();
        if (wait > 0) {
            try {
                Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException();
            }
        }
        return n;
    }

    long written() {
        return written;
    }

    @Override
    public boolean isOpen() {
        return out.isOpen();
    }

    @Override
    public void close() throws IOException {
        out.close();
    }
}
