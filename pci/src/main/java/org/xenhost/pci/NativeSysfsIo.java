package org.xenhost.pci;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

import java.io.File;
import java.nio.charset.StandardCharsets;

/**
 * {@link SysfsIo} over libc through JNA direct mapping. A device directory is opened once ({@code O_PATH}); each
 * attribute is then {@code openat(O_RDONLY|O_NONBLOCK)}, one {@code read}, {@code close}: three system calls, a
 * one-name lookup, no Java stream objects and no exception even when the file is missing (errno is taken from
 * {@link Native#getLastError()}). {@code O_NONBLOCK} makes a FIFO read return at once. Reads land in a per-thread
 * native buffer and only the bytes read are copied to Java (a {@code byte[]} argument would be copied whole in
 * both directions on every call).
 */
final class NativeSysfsIo implements SysfsIo {
    private static final int O_RDONLY = 0;
    private static final int O_NONBLOCK = 0x800;
    private static final int O_DIRECTORY = 0x10000;
    private static final int O_CLOEXEC = 0x80000;
    private static final int O_PATH = 0x200000;
    private static final int AT_FDCWD = -100;
    private static final int AT_SYMLINK_NOFOLLOW = 0x100;
    private static final int BUFFER = 8192;
    private static final int READ_FLAGS = O_RDONLY | O_NONBLOCK | O_CLOEXEC;

    private static volatile boolean registered;

    private final ThreadLocal<Memory> buffer = ThreadLocal.withInitial(() -> new Memory(BUFFER));
    private final ThreadLocal<int[]> lastError = ThreadLocal.withInitial(() -> new int[1]);

    static synchronized NativeSysfsIo load() {
        if (!registered) {
            if (!Platform.isLinux() || !Platform.is64Bit()) {
                throw new UnsatisfiedLinkError("the O_* values and size_t mapping here are for 64-bit Linux");
            }
            Native.register(NativeSysfsIo.class, Platform.C_LIBRARY_NAME);
            registered = true;
        }
        return new NativeSysfsIo();
    }

    private static native int openat(int dirfd, String path, int flags);

    private static native long read(int fd, Pointer buf, long count);

    private static native int close(int fd);

    private static native long readlinkat(int dirfd, String path, Pointer buf, long size);

    private static native int fstatat(int dirfd, String path, Pointer statbuf, int flags);

    @Override
    public String readlink(String path) {
        return readlinkAt(AT_FDCWD, path);
    }

    private String readlinkAt(int dirfd, String path) {
        Memory mem = buffer.get();
        int n = (int) readlinkat(dirfd, path, mem, BUFFER);
        if (n < 0) {
            lastError.get()[0] = Native.getLastError();
            return null;
        }
        byte[] b = new byte[n];
        mem.read(0, b, 0, n);
        return new String(b, StandardCharsets.UTF_8);
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
    public Dir open(String dir) {
        int fd = openat(AT_FDCWD, dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            lastError.get()[0] = Native.getLastError();
            return null;
        }
        return new NativeDir(fd);
    }

    @Override
    public int lastError() {
        return lastError.get()[0];
    }

    private final class NativeDir implements Dir {
        private int fd;

        NativeDir(int fd) {
            this.fd = fd;
        }

        @Override
        public int read(String name, byte[] buf) {
            int f = openat(fd, name, READ_FLAGS);
            if (f < 0) {
                return -Native.getLastError();
            }
            try {
                Memory mem = buffer.get();
                int n = (int) NativeSysfsIo.read(f, mem, Math.min(buf.length, BUFFER));
                if (n < 0) {
                    return -Native.getLastError();
                }
                mem.read(0, buf, 0, n);
                return n;
            } finally {
                NativeSysfsIo.close(f);
            }
        }

        @Override
        public int readConfig(String name, byte[] buf) {
            int f = openat(fd, name, READ_FLAGS);
            if (f < 0) {
                return -Native.getLastError();
            }
            try {
                Memory mem = buffer.get();
                int n = (int) NativeSysfsIo.read(f, mem, ConfigSpace.CONVENTIONAL_SIZE);
                if (n < 0) {
                    return -Native.getLastError();
                }
                mem.read(0, buf, 0, n);
                if (n < ConfigSpace.CONVENTIONAL_SIZE || !ConfigSpace.isPciExpress(buf)) {
                    return n;
                }
                int m = (int) NativeSysfsIo.read(f, mem.share(n), Math.min(buf.length, BUFFER) - n);
                if (m < 0) {
                    return n; // extended space unreadable: decode the conventional part
                }
                mem.read(n, buf, n, m);
                return n + m;
            } finally {
                NativeSysfsIo.close(f);
            }
        }

        @Override
        public String readlink(String name) {
            return readlinkAt(fd, name);
        }

        @Override
        public boolean exists(String name) {
            // struct stat is 144 bytes on x86_64 and aarch64; the buffer is far larger.
            return fstatat(fd, name, buffer.get(), AT_SYMLINK_NOFOLLOW) == 0;
        }

        @Override
        public void close() {
            if (fd >= 0) {
                NativeSysfsIo.close(fd);
                fd = -1;
            }
        }
    }
}
