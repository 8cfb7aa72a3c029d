package org.xenhost.libxl.stream;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;

/** Where a writer's bytes go (a stream or a channel), with the running byte offset. */
final class ByteSink {
    private final OutputStream out;
    private final WritableByteChannel channel;
    private long offset;

    ByteSink(OutputStream out) {
        this.out = out;
        this.channel = null;
    }

    ByteSink(WritableByteChannel channel) {
        this.out = null;
        this.channel = channel;
    }

    long offset() {
        return offset;
    }

    void write(byte[] b, int off, int len) throws IOException {
        if (channel != null) {
            write(ByteBuffer.wrap(b), off, len);
            return;
        }
        out.write(b, off, len);
        offset += len;
    }

    /** Writes {@code len} bytes of {@code src} from absolute index {@code index}; src itself is not changed. */
    void write(ByteBuffer src, int index, int len) throws IOException {
        if (channel != null) {
            ByteBuffer view = src.duplicate().limit(index + len).position(index);
            while (view.hasRemaining()) {
                channel.write(view);
            }
        } else if (src.hasArray()) {
            out.write(src.array(), src.arrayOffset() + index, len);
        } else {
            byte[] chunk = new byte[Math.min(len, 64 << 10)];
            for (int done = 0; done < len; ) {
                int n = Math.min(chunk.length, len - done);
                src.get(index + done, chunk, 0, n);
                out.write(chunk, 0, n);
                done += n;
            }
        }
        offset += len;
    }

    void flush() throws IOException {
        if (out != null) {
            out.flush();
        }
    }
}
