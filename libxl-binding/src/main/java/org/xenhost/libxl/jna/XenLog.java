package org.xenhost.libxl.jna;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenhost.libxl.LibxlError;
import org.xenhost.libxl.LibxlException;
import org.xenhost.libxl.ProgressListener;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * libxl's logger, routed into SLF4J. A {@code va_list} callback is awkward in JNA, so libxentoollog's own stdio
 * logger prints into a {@code FILE*} opened on a kernel pipe, and a daemon thread reads the other end line by line:
 * each line goes to SLF4J (logger {@code org.xenhost.libxl.native}) at the matching level, progress lines are
 * also handed to the registered {@link ProgressListener}s, and the last error lines are kept so a failed call
 * can quote what libxl said.
 *
 * <p>Lifetime: create before {@code libxl_ctx_alloc}, close after {@code libxl_ctx_free}.
 */
public final class XenLog implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger("org.xenhost.libxl.native");
    private static final String SYNC = "xenhost-log-sync ";
    private static final int KEPT_ERRORS = 16;

    private final LibC libc = NativeLibraries.libc();
    private final Pointer file;
    private final Pointer logger;
    private final Thread drain;
    private final List<ProgressListener> listeners = new CopyOnWriteArrayList<>();
    private final Object lock = new Object();
    private final Deque<Numbered> recentErrors = new ArrayDeque<>(); // guarded by lock
    private long linesSeen;        // guarded by lock
    private long syncsSeen;        // guarded by lock
    private final Object writeLock = new Object();
    private long syncsSent;        // guarded by writeLock
    private boolean closed;        // guarded by writeLock

    private record Numbered(long number, String text) {
    }

    private XenLog(Pointer file, Pointer logger, int readFd) {
        this.file = file;
        this.logger = logger;
        this.drain = new Thread(() -> drain(readFd), "xenhost-libxl-log");
        this.drain.setDaemon(true);
        this.drain.start();
    }

    /**
     * Opens the pipe, the {@code FILE*} and the libxentoollog logger (minimum level DETAIL, so every progress
     * report is printed; no carriage-return progress, which would not split into lines).
     */
    public static XenLog open() throws LibxlException {
        LibC libc = NativeLibraries.libc();
        int[] fds = new int[2];
        // 1. the pipe
        try {
            libc.pipe2(fds, LibC.O_CLOEXEC);
        } catch (LastErrorException e) {
            throw new LibxlException(LibxlError.FAIL, "cannot create the pipe for libxl's log (errno "
                    + e.getErrorCode() + ")", e);
        }
        // 2. a FILE* over its write end
        Pointer file = libc.fdopen(fds[1], "w");
        if (file == null) {
            closeQuietly(libc, fds[0]);
            closeQuietly(libc, fds[1]);
            throw new LibxlException(LibxlError.FAIL, "fdopen of libxl's log pipe failed");
        }
        // 3. the logger printing into it
        Pointer logger = NativeLibraries.toollog().xtl_createlogger_stdiostream(file, ToollogLibrary.XTL_DETAIL,
                ToollogLibrary.XTL_STDIOSTREAM_PROGRESS_NO_CR);
        if (logger == null) {
            libc.fclose(file);      // closes fds[1]
            closeQuietly(libc, fds[0]);
            throw new LibxlException(LibxlError.FAIL, "xtl_createlogger_stdiostream failed");
        }
        return new XenLog(file, logger, fds[0]);
    }

    /** The {@code xentoollog_logger *} to hand to {@code libxl_ctx_alloc}. */
    public Pointer logger() {
        return logger;
    }

    /** Receives progress reports until removed. */
    public void addProgressListener(ProgressListener l) {
        listeners.add(l);
    }

    public void removeProgressListener(ProgressListener l) {
        listeners.remove(l);
    }

    /**
     * A position in the log, for {@link #errorsSince(long)}: everything printed before this call is behind it
     * (the reader is synced first, so an older error is never blamed on the next call).
     */
    public long mark() {
        sync();
        synchronized (lock) {
            return linesSeen;
        }
    }

    /**
     * The error lines printed since {@code mark}, after making sure everything printed so far has been read
     * (libxl's calls on other threads may contribute lines too). Waits at most 2 s for the reader.
     */
    public List<String> errorsSince(long mark) {
        sync();
        synchronized (lock) {
            List<String> out = new ArrayList<>();
            for (Numbered n : recentErrors) {
                if (n.number() >= mark) {
                    out.add(n.text());
                }
            }
            return out;
        }
    }

    /** Writes a marker line behind everything printed so far and waits until the reader has reached it. */
    private void sync() {
        long target;
        synchronized (writeLock) {
            if (closed) {
                return;
            }
            target = ++syncsSent;
            // The leading newline keeps the marker on a line of its own; empty lines are ignored. Written
            // outside `lock`: the reader takes `lock` per line, and a full pipe must be able to drain.
            libc.fputs("\n" + SYNC + target + "\n", file);
            libc.fflush(file);
        }
        long deadline = System.nanoTime() + 2_000_000_000L;
        synchronized (lock) {
            while (syncsSeen < target && drain.isAlive()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return;
                }
                try {
                    lock.wait(Math.max(1, left / 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private void drain(int fd) {
        Memory buf = new Memory(4096);
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        try {
            while (true) {
                long n;
                try {
                    n = libc.read(fd, buf, new NativeLong(buf.size())).longValue();
                } catch (LastErrorException e) {
                    if (e.getErrorCode() == LibC.EINTR) {
                        continue;
                    }
                    LOG.warn("reading libxl's log pipe failed (errno {}); libxl's messages are lost from here",
                            e.getErrorCode());
                    return;
                }
                if (n == 0) {
                    break;
                }
                byte[] bytes = buf.getByteArray(0, (int) n);
                for (byte b : bytes) {
                    if (b == '\n' || b == '\r') {
                        emit(line.toString(StandardCharsets.UTF_8));
                        line.reset();
                    } else {
                        line.write(b);
                    }
                }
            }
            if (line.size() > 0) {
                emit(line.toString(StandardCharsets.UTF_8));
            }
        } finally {
            closeQuietly(libc, fd);
            synchronized (lock) {
                lock.notifyAll();
            }
        }
    }

    private void emit(String text) {
        if (text.isEmpty()) {
            return;
        }
        if (text.startsWith(SYNC)) {
            synchronized (lock) {
                syncsSeen = Math.max(syncsSeen, Long.parseLong(text.substring(SYNC.length()).trim()));
                lock.notifyAll();
            }
            return;
        }
        XenLogLine l = XenLogLine.parse(text);
        synchronized (lock) {
            if (l.isError()) {
                recentErrors.addLast(new Numbered(linesSeen, text));
                if (recentErrors.size() > KEPT_ERRORS) {
                    recentErrors.removeFirst();
                }
            }
            linesSeen++;
        }
        l.progress().ifPresentOrElse(p -> {
            LOG.debug("{}", text);
            for (ProgressListener listener : listeners) {
                try {
                    listener.progress(p);
                } catch (RuntimeException e) {
                    LOG.warn("progress listener failed on '{}'", text, e);
                }
            }
        }, () -> log(l.level(), text));
    }

    private static void log(String level, String text) {
        if (level == null) {
            LOG.info("{}", text);
            return;
        }
        switch (level) {
            case "error", "critical" -> LOG.error("{}", text);
            case "warning" -> LOG.warn("{}", text);
            case "info", "notice" -> LOG.info("{}", text);
            case "detail", "progress" -> LOG.debug("{}", text);
            default -> LOG.trace("{}", text);
        }
    }

    /** Destroys the logger and closes the {@code FILE*}; the reader then sees end-of-file and stops. */
    @Override
    public void close() {
        synchronized (writeLock) {
            if (closed) {
                return;
            }
            closed = true;
            NativeLibraries.toollog().xtl_logger_destroy(logger);
            libc.fclose(file);
        }
        try {
            drain.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static void closeQuietly(LibC libc, int fd) {
        try {
            libc.close(fd);
        } catch (LastErrorException e) {
            LOG.debug("close({}) failed: errno {}", fd, e.getErrorCode());
        }
    }
}
