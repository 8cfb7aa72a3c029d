package org.xenhost.libxl.jna;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.NativeLong;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pipe between libxl's fd and a Java channel, with this test playing libxl's side through the raw fd (plain
 * read/write on a kernel pipe, as libxl-save-helper does).
 */
class StreamPumpTest {
    private final LibC libc = NativeLibraries.libc();

    private static byte[] stream(int n) {
        byte[] b = new byte[n];
        new Random(42).nextBytes(b);
        return b;
    }

    /** libxl's end and the pump's share one pipe; it holds a whole chunk, not the kernel's default 64 KiB. */
    @Test
    void thePipeHoldsAMebibyte() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        StreamPump save = StreamPump.toChannel(Channels.newChannel(out), "test-size");
        try {
            assertEquals(StreamPump.PIPE_BYTES, libc.fcntl(save.libxlFd(), LibC.F_GETPIPE_SZ, 0));
        } finally {
            assertNull(save.finish(0));
        }
        StreamPump restore = StreamPump.fromChannel(Channels.newChannel(new java.io.ByteArrayInputStream(new byte[0])),
                "test-size");
        try {
            assertEquals(StreamPump.PIPE_BYTES, libc.fcntl(restore.libxlFd(), LibC.F_GETPIPE_SZ, 0));
        } finally {
            restore.finish(1000);
        }
    }

    @Test
    void savedBytesArriveInTheTargetInOrder() throws Exception {
        byte[] data = stream(3 * 1024 * 1024 + 17);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        StreamPump pump = StreamPump.toChannel(Channels.newChannel(out), "test-save");
        Memory m = new Memory(data.length);
        m.write(0, data, 0, data.length);
        long off = 0;
        while (off < data.length) { // "libxl" writes in odd-sized pieces
            long n = Math.min(70_001, data.length - off);
            off += libc.write(pump.libxlFd(), m.share(off), new NativeLong(n)).longValue();
        }
        assertNull(pump.finish(0));
        assertArrayEquals(data, out.toByteArray());
        assertEquals(data.length, pump.bytes());
    }

    @Test
    void aFailingTargetIsReportedAndBreaksLibxlsPipe() throws Exception {
        WritableByteChannel broken = new WritableByteChannel() {
            @Override
            public int write(ByteBuffer src) throws IOException {
                throw new IOException("peer went away");
            }

            @Override
            public boolean isOpen() {
                return true;
            }

            @Override
            public void close() {
            }
        };
        StreamPump pump = StreamPump.toChannel(broken, "test-broken");
        Memory m = new Memory(65536);
        m.clear();
        // libxl's writes fail with EPIPE once the pump gave up (HotSpot ignores SIGPIPE)
        int errno = 0;
        for (int i = 0; i < 1000 && errno == 0; i++) {
            try {
                libc.write(pump.libxlFd(), m, new NativeLong(m.size()));
            } catch (LastErrorException e) {
                errno = e.getErrorCode();
            }
        }
        assertEquals(LibC.EPIPE, errno);
        IOException failure = pump.finish(0);
        assertNotNull(failure);
        assertTrue(failure.getMessage().contains("peer went away"));
    }

    @Test
    void restoreSourceIsFedToLibxlThenEndOfFile() throws Exception {
        byte[] data = stream(2 * 1024 * 1024 + 5);
        StreamPump pump = StreamPump.fromChannel(Channels.newChannel(new java.io.ByteArrayInputStream(data)),
                "test-restore");
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        Memory m = new Memory(50_000);
        while (true) {
            long n = libc.read(pump.libxlFd(), m, new NativeLong(m.size())).longValue();
            if (n == 0) {
                break;
            }
            got.write(m.getByteArray(0, (int) n));
        }
        assertNull(pump.finish(1000));
        assertArrayEquals(data, got.toByteArray());
    }

    @Test
    void restorePumpStopsQuietlyWhenLibxlStopsReading() throws Exception {
        // an endless source: libxl reads what it needs and returns; closing its end must stop the pump (EPIPE)
        ReadableByteChannel endless = new ReadableByteChannel() {
            @Override
            public int read(ByteBuffer dst) {
                int n = dst.remaining();
                byte[] b = new byte[n];
                Arrays.fill(b, (byte) 7);
                dst.put(b);
                return n;
            }

            @Override
            public boolean isOpen() {
                return true;
            }

            @Override
            public void close() {
            }
        };
        StreamPump pump = StreamPump.fromChannel(endless, "test-endless");
        Memory m = new Memory(4096);
        assertEquals(4096, libc.read(pump.libxlFd(), m, new NativeLong(4096)).longValue());
        assertNull(pump.finish(5000), "EPIPE after libxl is done is not a failure");
        assertTrue(pump.bytes() >= 4096);
    }
}
