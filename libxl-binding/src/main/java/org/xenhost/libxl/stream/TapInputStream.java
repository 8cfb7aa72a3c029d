package org.xenhost.libxl.stream;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/** An input stream that shows every byte read through it to a {@link StreamTap}; adds no buffering. */
public final class TapInputStream extends FilterInputStream {
    private final StreamTap tap;

    public TapInputStream(InputStream in, StreamTap tap) {
        super(in);
        this.tap = tap;
    }

    public StreamTap tap() {
        return tap;
    }

    @Override
    public int read() throws IOException {
        int b = in.read();
        if (b >= 0) {
            tap.accept(new byte[] {(byte) b}, 0, 1);
        }
        return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        int n = in.read(b, off, len);
        if (n > 0) {
            tap.accept(b, off, n);
        }
        return n;
    }

    /** Skipped bytes are read (and shown to the tap), not skipped past it. */
    @Override
    public long skip(long n) throws IOException {
        byte[] buf = new byte[(int) Math.min(n, 8192)];
        long done = 0;
        while (done < n) {
            int r = read(buf, 0, (int) Math.min(buf.length, n - done));
            if (r < 0) {
                break;
            }
            done += r;
        }
        return done;
    }

    @Override
    public boolean markSupported() {
        return false;
    }
}
