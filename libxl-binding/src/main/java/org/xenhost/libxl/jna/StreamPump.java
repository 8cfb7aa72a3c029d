package org.xenhost.libxl.jna;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.NativeLong;
import org.xenhost.libxl.LibxlError;
import org.xenhost.libxl.LibxlException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Bridges a migration stream between libxl, which needs a kernel fd (its save helper {@code dup}s it and does
 * blocking I/O on it), and a Java channel: a pipe whose one end goes to libxl and whose other end a thread pumps.
 *
 * <p>Each fd has exactly one owner that closes it once: the end handed to libxl is closed by {@link #finish},
 * after libxl returned; the pumped end is closed by the pump thread when it stops. So a closed fd number is never
 * used again by the other side, and closing libxl's end is what tells the pump to stop (EOF or EPIPE).
 */
public abstract class StreamPump {
    /** What the pipe between libxl and the pump holds (the kernel's default is 64 KiB). */
    static final int PIPE_BYTES = 1 << 20;
    /** The pump reads at most what the pipe holds, so one read can empty it. */
    private static final int CHUNK = PIPE_BYTES;

    protected final LibC libc = NativeLibraries.libc();
    private final int libxlFd;
    protected final int pumpFd;
    private final Thread thread;
    private final AtomicLong bytes = new AtomicLong();
    private volatile IOException failure;
    private boolean finished;

    private StreamPump(String name, boolean libxlReads) throws LibxlException {
        int[] fds = new int[2];
        try {
            libc.pipe2(fds, LibC.O_CLOEXEC);
        } catch (LastErrorException e) {
            throw new LibxlException(LibxlError.FAIL, "cannot create a pipe for the " + name + " (errno "
                    + e.getErrorCode() + ")", e);
        }
        this.libxlFd = libxlReads ? fds[0] : fds[1];
        this.pumpFd = libxlReads ? fds[1] : fds[0];
        widen(libc, fds[0]);
        this.thread = new Thread(this::runAndClose, "xenhost-libxl-" + name);
        this.thread.setDaemon(true);
    }

    /**
     * Gives the pipe {@link #PIPE_BYTES} of room. With the kernel's 64 KiB, libxl's save helper and the pump took
     * turns every 64 KiB: ~2,200 sleeps and wake-ups each way for a 128 MiB guest, which on a PV dom0 (every switch
     * goes through Xen) is much of what made xenhost's save dearer than xl's, whose helper writes the file itself.
     * Best effort: {@code /proc/sys/fs/pipe-max-size} may be lower for a non-root daemon; the pipe then stays as the
     * kernel made it.
     */
    static void widen(LibC libc, int fd) {
        try {
            libc.fcntl(fd, LibC.F_SETPIPE_SZ, PIPE_BYTES);
        } catch (LastErrorException e) {
            // EPERM above pipe-max-size, EBUSY if it holds more than the new size: the default pipe still works
        }
    }

    /** A pump that copies what libxl writes (a saved stream) into {@code target}. */
    public static StreamPump toChannel(WritableByteChannel target, String name) throws LibxlException {
        StreamPump p = new StreamPump(name, false) {
            @Override
            void pump(Memory buf) throws IOException {
                while (true) {
                    long n = retryingRead(buf);
                    if (n == 0) {
                        return; // every write end closed: libxl is done
                    }
                    ByteBuffer bb = buf.getByteBuffer(0, n);
                    while (bb.hasRemaining()) {
                        target.write(bb);
                    }
                    count(n);
                }
            }
        };
        p.thread.start();
        return p;
    }

    /** A pump that feeds {@code source} (a stream to restore) to libxl; closes libxl's input at the source's end. */
    public static StreamPump fromChannel(ReadableByteChannel source, String name) throws LibxlException {
        StreamPump p = new StreamPump(name, true) {
            @Override
            void pump(Memory buf) throws IOException {
                ByteBuffer bb = buf.getByteBuffer(0, buf.size());
                while (true) {
                    bb.clear();
                    int n = source.read(bb);
                    if (n < 0) {
                        return;
                    }
                    long off = 0;
                    while (off < n) {
                        long w;
                        try {
                            w = libc.write(pumpFd, buf.share(off), new NativeLong(n - off)).longValue();
                        } catch (LastErrorException e) {
                            if (e.getErrorCode() == LibC.EINTR) {
                                continue;
                            }
                            if (e.getErrorCode() == LibC.EPIPE) {
                                return; // libxl stopped reading: it finished or failed; it reports which
                            }
                            throw new IOException("writing to libxl's restore pipe failed: errno " + e.getErrorCode());
                        }
                        off += w;
                        count(w);
                    }
                }
            }
        };
        p.thread.start();
        return p;
    }

    /** The fd to pass to libxl. */
    public int libxlFd() {
        return libxlFd;
    }

    /** Bytes pumped so far. */
    public long bytes() {
        return bytes.get();
    }

    abstract void pump(Memory buf) throws IOException;

    void count(long n) {
        bytes.addAndGet(n);
    }

    long retryingRead(Memory buf) throws IOException {
        while (true) {
            try {
                return libc.read(pumpFd, buf, new NativeLong(buf.size())).longValue();
            } catch (LastErrorException e) {
                if (e.getErrorCode() != LibC.EINTR) {
                    throw new IOException("reading libxl's save pipe failed: errno " + e.getErrorCode());
                }
            }
        }
    }

    private void runAndClose() {
        try {
            pump(new Memory(CHUNK));
        } catch (IOException | RuntimeException e) {
            failure = e instanceof IOException io ? io : new IOException(e);
        } finally {
            XenLog.closeQuietly(libc, pumpFd);
        }
    }

    /**
     * Call once libxl has returned: closes libxl's end and waits up to {@code waitMillis} for the pump to stop
     * (0 = until it stops). A save pump always stops (it reads to end-of-file); a restore pump may be blocked
     * reading a source that has not ended, so restore waits briefly and leaves it to finish on its own.
     *
     * @return the pump's I/O failure, or null
     */
    public IOException finish(long waitMillis) {
        if (!finished) {
            finished = true;
            XenLog.closeQuietly(libc, libxlFd);
        }
        try {
            thread.join(waitMillis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return failure;
    }
}
