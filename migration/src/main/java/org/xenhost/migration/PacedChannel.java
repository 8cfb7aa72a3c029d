package org.xenhost.migration;

import org.xenhost.libxl.stream.StreamTap;
import org.xenhost.transport.OutboundStream;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.function.BooleanSupplier;

/**
 * The source's end of the data path: what {@code Libxl.suspend} writes into. Each chunk is shown to the
 * stream tap (progress), held back to the configured bandwidth, and written to the transport stream, whose
 * bounded window blocks us, and so libxl, when the link is slower than the guest. Nothing is buffered here.
 * An abort makes the next write fail, which makes libxl end the suspend with an error.
 */
final class PacedChannel implements WritableByteChannel {
    private static final int CHUNK = 256 * 1024;
    /** Below this a copy costs less than lending the buffer and waiting for the transport to return it. */
    private static final int LEND_MIN = 64 * 1024;

    private final OutboundStream out;
    private final StreamTap tap;
    private final long bytesPerSecond;
    private final BooleanSupplier aborted;
    private final long startNs = System.nanoTime();
    private long sent;
    private volatile boolean open = true;

    PacedChannel(OutboundStream out, StreamTap tap, int bandwidthMiBps, BooleanSupplier aborted) {
        this.out = out;
        this.tap = tap;
        this.bytesPerSecond = bandwidthMiBps <= 0 ? 0 : (long) bandwidthMiBps << 20;
        this.aborted = aborted;
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        int total = src.remaining();
        while (src.hasRemaining()) {
            if (aborted.getAsBoolean()) {
                throw new IOException("migration aborted");
            }
            ByteBuffer chunk = src.duplicate();
            chunk.limit(chunk.position() + Math.min(chunk.remaining(), bytesPerSecond == 0 ? Integer.MAX_VALUE : CHUNK));
            int n = chunk.remaining();
            pace(n);
            tap.accept(chunk.duplicate());
            if (chunk.isDirect() && n >= LEND_MIN) {
                // guest memory, written in place by the saver: encrypted straight from the mapping (no copy);
                // the call returns once the transport is done with it, as a copying write would
                out.writeLent(chunk);
            } else {
                while (chunk.hasRemaining()) {
                    out.write(chunk);
                }
            }
            src.position(src.position() + n);
            sent += n;
        }
        return total;
    }

    /** Sleeps until sending {@code n} more bytes keeps the average at the limit. */
    private void pace(int n) throws IOException {
        if (bytesPerSecond == 0) {
            return;
        }
        long dueNs = startNs + (sent + n) * 1_000_000_000L / bytesPerSecond;
        long waitNs = dueNs - System.nanoTime();
        if (waitNs > 0) {
            try {
                Thread.sleep(waitNs / 1_000_000, (int) (waitNs % 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while pacing the migration stream");
            }
        }
    }

    @Override
    public boolean isOpen() {
        return open;
    }

    @Override
    public void close() {
        open = false; // the transport stream is closed by the session, after END
    }
}
