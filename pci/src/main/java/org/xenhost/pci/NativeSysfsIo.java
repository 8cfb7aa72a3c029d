package org.xenhost.pci;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.Platform;

import java.io.File;

/**
 * {@link SysfsIo} over libc through JNA direct mapping: {@code open(O_RDONLY|O_NONBLOCK|O_CLOEXEC)}, one
 * {@code read}, {@code close}. Three system calls per attribute and no Java stream objects; {@code O_NONBLOCK}
 * makes a FIFO read return at once.
 */
final class NativeSysfsIo implements SysfsIo {
    private static final int O_RDONLY = 0;
    private static final int O_NONBLOCK = 0x800;
    private static final int O_CLOEXEC = 0x80000;

    private static volatile boolean registered;

    private final ThreadLocal<int[]> lastError = ThreadLocal.withInitial(() -> new int[1]);

    static synchronized NativeSysfsIo load() {
        if (!registered) {
            if (!Platform.isLinux()) {
                throw new UnsatisfiedLinkError("sysfs exists on Linux only");
            }
            Native.register(NativeSysfsIo.class, Platform.C_LIBRARY_NAME);
            registered = true;
        }
        return new NativeSysfsIo();
    }

    private static native int open(String path, int flags) throws LastErrorException;

    private static native long read(int fd, byte[] buf, long count) throws LastErrorException;

    private static native int close(int fd);

    private static native long readlink(String path, byte[] buf, long size) throws LastErrorException;

    @Override
    public int read(String path, byte[] buf) {
        int fd;
        try {
            fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        } catch (LastErrorException e) {
            return -e.getErrorCode();
        }
        try {
            return (int) read(fd, buf, buf.length);
        } catch (LastErrorException e) {
            return -e.getErrorCode();
        } finally {
            close(fd);
        }
    }

    @Override
    public int readConfig(String path, byte[] buf) {
        int fd;
        try {
            fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        } catch (LastErrorException e) {
            return -e.getErrorCode();
        }
        try {
            byte[] head = new byte[ConfigSpace.CONVENTIONAL_SIZE];
            int n = (int) read(fd, head, head.length);
            System.arraycopy(head, 0, buf, 0, n);
            if (n < head.length || !ConfigSpace.isPciExpress(head)) {
                return n;
            }
            byte[] rest = new byte[buf.length - n];
            int m = (int) read(fd, rest, rest.length);
            System.arraycopy(rest, 0, buf, n, m);
            return n + m;
        } catch (LastErrorException e) {
            return -e.getErrorCode();
        } finally {
            close(fd);
        }
    }

    @Override
    public String readlink(String path) {
        byte[] buf = new byte[4096];
        try {
            long n = readlink(path, buf, buf.length);
            return new String(buf, 0, (int) n, java.nio.charset.StandardCharsets.UTF_8);
        } catch (LastErrorException e) {
            lastError.get()[0] = e.getErrorCode();
            return null;
        }
    }

    @Override
    public String[] list(String dir) {
        String[] names = new File(dir).list();
        if (names == null) {
            lastError.get()[0] = JavaSysfsIo.whyNotListable(dir);
        }
        return names;
    }

    @Override
    public int lastError() {
        return lastError.get()[0];
    }
}
