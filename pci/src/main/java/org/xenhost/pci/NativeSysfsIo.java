package org.xenhost.pci;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

import java.io.File;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * {@link SysfsIo} over libc through JNA direct mapping. A device directory is opened once ({@code O_PATH}); each
 * attribute is then {@code openat(O_RDONLY|O_NONBLOCK)}, one {@code read}, {@code close}: three system calls, a
 * one-name lookup, no Java stream objects and no exception even when the file is missing (errno is taken from
 * {@link Native#getLastError()}). {@code O_NONBLOCK} makes a FIFO read return at once.
 *
 * <p>Names go to libc as bytes already in native memory and reads land in native memory, both per thread: JNA
 * would otherwise convert every {@code String} argument through a fresh native allocation, and copy a
 * {@code byte[]} argument whole in both directions on every call. Only the bytes read are copied to Java.
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
    private static final int PATH_MAX = 4096;
    private static final int READ_FLAGS = O_RDONLY | O_NONBLOCK | O_CLOEXEC;

    private static volatile boolean registered;

    /** Per-thread native memory: a read buffer, the name being passed, and errno of the last failure. */
    private static final class Scratch {
        final Memory data = new Memory(BUFFER);
        final Memory name = new Memory(PATH_MAX + 1);
        // Direct-buffer views: copying through them is a plain memory copy, not a JNI call per copy.
        final ByteBuffer dataView = data.getByteBuffer(0, BUFFER);
        final ByteBuffer nameView = name.getByteBuffer(0, PATH_MAX + 1);
        int lastError;

        /** {@code s} as a NUL-terminated string in {@link #name}; null when too long (lastError set). */
        Pointer name(String s) {
            int n = s.length();
            if (n > PATH_MAX) {
                lastError = 36; // ENAMETOOLONG
                return null;
            }
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            if (b.length > PATH_MAX) {
                lastError = 36;
                return null;
            }
            nameView.put(0, b, 0, b.length);
            nameView.put(b.length, (byte) 0);
            return name;
        }
    }

    /**
     * Attribute names already in native memory (they repeat for every function). Bounded, so that a hostile tree
     * with endless {@code virtfnN} links cannot grow it; names beyond the bound are copied per call.
     */
    private static final int NAME_CACHE_LIMIT = 4096;
    private final java.util.concurrent.ConcurrentHashMap<String, Memory> names = new java.util.concurrent.ConcurrentHashMap<>();

    private Pointer attributeName(Scratch s, String name) {
        Memory m = names.get(name);
        if (m != null) {
            return m;
        }
        // Device entries (DDDD:BB:DD.F, looked up in sys/bus/pci/devices) come once per scan: not worth keeping.
        if (names.size() >= NAME_CACHE_LIMIT || name.length() > 255 || name.indexOf('/') >= 0 || name.indexOf(':') >= 0) {
            return s.name(name);
        }
        byte[] b = name.getBytes(StandardCharsets.UTF_8);
        if (b.length > 255) {
            return s.name(name);
        }
        m = new Memory(b.length + 1);
        m.write(0, b, 0, b.length);
        m.setByte(b.length, (byte) 0);
        Memory raced = names.putIfAbsent(name, m);
        return raced != null ? raced : m;
    }

    private final ThreadLocal<Scratch> scratch = ThreadLocal.withInitial(Scratch::new);

    static synchronized NativeSysfsIo load() {
        if (!registered) {
            if (!Platform.isLinux() || !Platform.is64Bit()) {
                throw new UnsatisfiedLinkError("the O_* values and size_t mapping here are for 64-bit Linux");
            }
            Native.register(NativeSysfsIo.class, Platform.C_LIBRARY_NAME);
            registered = true;
        }
        return new NativeSysfsIo(BATCH_MIN);
    }

    private static native int openat(int dirfd, Pointer path, int flags);

    private static native long read(int fd, Pointer buf, long count);

    private static native int close(int fd);

    private static native long readlinkat(int dirfd, Pointer path, Pointer buf, long size);

    private static native int fstatat(int dirfd, Pointer path, Pointer statbuf, int flags);

    @Override
    public String readlink(String path) {
        return readlinkAt(AT_FDCWD, path);
    }

    private String readlinkAt(int dirfd, String path) {
        Scratch s = scratch.get();
        Pointer p = dirfd == AT_FDCWD ? s.name(path) : attributeName(s, path);
        if (p == null) {
            return null;
        }
        int n = (int) readlinkat(dirfd, p, s.data, BUFFER);
        if (n < 0) {
            s.lastError = Native.getLastError();
            return null;
        }
        byte[] b = new byte[n];
        s.dataView.get(0, b, 0, n);
        return new String(b, StandardCharsets.UTF_8);
    }

    @Override
    public String[] list(String dir) {
        String[] names = new File(dir).list();
        if (names == null) {
            scratch.get().lastError = JavaSysfsIo.whyNotListable(dir);
        }
        return names;
    }

    @Override
    public Dir open(String dir) {
        Scratch s = scratch.get();
        Pointer p = s.name(dir);
        if (p == null) {
            return null;
        }
        int fd = openat(AT_FDCWD, p, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            s.lastError = Native.getLastError();
            return null;
        }
        return new NativeDir(fd);
    }

    @Override
    public int lastError() {
        return scratch.get().lastError;
    }

    /**
     * {@code -Dorg.xenhost.pci.uring=false} reads file by file even where io_uring works: for comparing the two
     * ways on one machine (jmh/pci-vs-lspci.sh), and a way out should a kernel misbehave.
     */
    static final boolean URING = !"false".equals(System.getProperty("org.xenhost.pci.uring"));

    /** Below this many functions a scan reads file by file: setting up a ring costs about what it saves. */
    private static final int BATCH_MIN = 16;

    private final int batchMinimum;

    private NativeSysfsIo(int batchMinimum) {
        this.batchMinimum = batchMinimum;
    }

    /** The same, batching reads of even a single function (tests: the batch path over small trees). */
    NativeSysfsIo batchingAlways() {
        return new NativeSysfsIo(1);
    }

    @Override
    public Batch batch(String[] names, int functions) {
        if (!URING || functions < batchMinimum) {
            return null;
        }
        UringReads uring = UringReads.open((names.length + SRIOV_NAMES.length) * BATCH_DIRS);
        return uring == null ? null : new UringBatch(uring, names);
    }

    /**
     * Read along with a {@code config} file whose extended space shows an SR-IOV capability (the kernel shows these
     * exactly for such functions): a PF's SR-IOV files cost no system calls of their own.
     */
    private static final String[] SRIOV_NAMES = {"sriov_totalvfs", "sriov_numvfs"};

    /** Directories per io_uring round trip: enough to make the crossing rare, little native memory (768 KiB). */
    private static final int BATCH_DIRS = 32;

    /** A {@link Batch} over io_uring: one round trip (two for config spaces) per {@link #BATCH_DIRS} directories. */
    private final class UringBatch implements Batch {
        private final UringReads uring;
        private final String[] names;
        private final Pointer[] nativeNames;
        private final boolean[] configFlags;
        private final int[] dirfds;
        private final Pointer[] perFileNames;
        private final boolean[] perFileConfig;
        private final Pointer[] sriovNames;
        private final int[] sriovSlot;
        private final java.util.List<NativeDir> last = new java.util.ArrayList<>();
        /** Paths of the directories being opened, NUL-terminated, one after another. */
        private final Memory paths;
        private final long[] pathAddresses;
        private final int[] fds;
        /** Descriptors of directories closed since the last round trip: closed in the next one. */
        private final int[] pendingCloses;
        private int pending;

        UringBatch(UringReads uring, String[] names) {
            this.uring = uring;
            this.names = names.clone();
            Scratch s = scratch.get();
            nativeNames = new Pointer[names.length];
            configFlags = new boolean[names.length];
            for (int j = 0; j < names.length; j++) {
                nativeNames[j] = attributeName(s, names[j]);
                configFlags[j] = names[j].equals("config");
            }
            dirfds = new int[uring.capacity()];
            perFileNames = new Pointer[uring.capacity()];
            perFileConfig = new boolean[uring.capacity()];
            sriovNames = new Pointer[SRIOV_NAMES.length];
            for (int k = 0; k < SRIOV_NAMES.length; k++) {
                sriovNames[k] = attributeName(s, SRIOV_NAMES[k]);
            }
            sriovSlot = new int[uring.capacity()];
            paths = new Memory((long) capacity() * (PATH_MAX + 1));
            pathAddresses = new long[capacity()];
            fds = new int[capacity()];
            pendingCloses = new int[2 * capacity()];
        }

        @Override
        public boolean openAll(Dir base, String[] dirs, int count, Dir[] out, int[] errors) {
            if (count > capacity() || !(base instanceof NativeDir baseDir) || baseDir.fd < 0) {
                return false;
            }
            long at = 0;
            for (int i = 0; i < count; i++) {
                byte[] b = dirs[i].getBytes(StandardCharsets.UTF_8);
                if (b.length > PATH_MAX) {
                    return false; // the one-by-one open says ENAMETOOLONG
                }
                paths.write(at, b, 0, b.length);
                paths.setByte(at + b.length, (byte) 0);
                pathAddresses[i] = Pointer.nativeValue(paths) + at;
                at += b.length + 1;
            }
            if (!uring.openDirs(baseDir.fd, count, pathAddresses, fds, pending, pendingCloses)) {
                flushCloses();
                return false;
            }
            pending = 0;
            for (int i = 0; i < count; i++) {
                if (fds[i] >= 0) {
                    NativeDir d = new NativeDir(fds[i]);
                    d.closer = this;
                    out[i] = d;
                    errors[i] = 0;
                } else {
                    out[i] = null;
                    errors[i] = -fds[i];
                }
            }
            return true;
        }

        /** Closes a directory opened by {@link #openAll} with the next round trip. */
        void closeLater(int fd) {
            if (pending == pendingCloses.length) {
                flushCloses();
            }
            pendingCloses[pending++] = fd;
        }

        private void flushCloses() {
            for (int i = 0; i < pending; i++) {
                NativeSysfsIo.close(pendingCloses[i]);
            }
            pending = 0;
        }

        @Override
        public int capacity() {
            return uring.capacity() / (names.length + SRIOV_NAMES.length);
        }

        @Override
        public void prefetch(java.util.List<Dir> dirs) {
            for (NativeDir d : last) {
                d.batch = null;
            }
            last.clear();
            int count = 0;
            for (Dir dir : dirs) {
                NativeDir d = (NativeDir) dir;
                if (d.fd < 0 || last.size() == capacity()) {
                    continue;
                }
                for (int j = 0; j < names.length; j++) {
                    if (nativeNames[j] == null) {
                        return; // a name too long for native memory: read file by file
                    }
                    dirfds[count] = d.fd;
                    perFileNames[count] = nativeNames[j];
                    perFileConfig[count] = configFlags[j];
                    sriovSlot[count] = -1;
                    count++;
                }
                last.add(d);
            }
            // SR-IOV files go after all the common ones: directory k's from count + k * SRIOV_NAMES.length on.
            for (int k = 0; k < last.size(); k++) {
                for (int j = 0; j < names.length; j++) {
                    if (configFlags[j]) {
                        sriovSlot[k * names.length + j] = count + k * SRIOV_NAMES.length;
                    }
                }
            }
            if (sriovNames[sriovNames.length - 1] == null
                    || !uring.readAll(count, dirfds, perFileNames, perFileConfig, sriovNames, sriovSlot)) {
                last.clear();
                return;
            }
            for (int k = 0; k < last.size(); k++) {
                NativeDir d = last.get(k);
                d.batch = this;
                d.batchBase = k * names.length;
                d.sriovBase = count + k * SRIOV_NAMES.length;
                d.taken = 0;
            }
        }

        /** File {@code j} of directory {@code d}, copied into {@code buf}, or null-equivalent MIN_VALUE if not held. */
        int take(NativeDir d, String name, byte[] buf) {
            for (int j = 0; j < names.length; j++) {
                if ((d.taken & 1 << j) == 0 && names[j].equals(name)) {
                    d.taken |= 1 << j;
                    return uring.copy(d.batchBase + j, buf);
                }
            }
            for (int k = 0; k < SRIOV_NAMES.length; k++) {
                int bit = 1 << (names.length + k);
                if ((d.taken & bit) == 0 && SRIOV_NAMES[k].equals(name) && uring.held(d.sriovBase + k)) {
                    d.taken |= bit;
                    return uring.copy(d.sriovBase + k, buf);
                }
            }
            return Integer.MIN_VALUE;
        }

        @Override
        public void close() {
            for (NativeDir d : last) {
                d.batch = null;
            }
            last.clear();
            flushCloses();
            uring.close();
        }
    }

    private final class NativeDir implements Dir {
        private int fd;
        /** Files read ahead for this directory by a batch, and which of them were handed out already. */
        private UringBatch batch;
        /** The batch that opened this directory and closes it with its next round trip; null: close at once. */
        private UringBatch closer;
        private int batchBase;
        private int sriovBase;
        private int taken;

        NativeDir(int fd) {
            this.fd = fd;
        }

        /** Opens, reads once up to {@code max} bytes into {@code buf}, closes; bytes read or -errno. */
        private int readOnce(String name, byte[] buf, int max) {
            Scratch s = scratch.get();
            Pointer p = attributeName(s, name);
            if (p == null) {
                return -s.lastError;
            }
            int f = openat(fd, p, READ_FLAGS);
            if (f < 0) {
                return -Native.getLastError();
            }
            try {
                int n = (int) NativeSysfsIo.read(f, s.data, Math.min(max, BUFFER));
                if (n < 0) {
                    return -Native.getLastError();
                }
                s.dataView.get(0, buf, 0, n);
                return n;
            } finally {
                NativeSysfsIo.close(f);
            }
        }

        @Override
        public int read(String name, byte[] buf) {
            if (batch != null) {
                int n = batch.take(this, name, buf);
                if (n != Integer.MIN_VALUE) {
                    return n;
                }
            }
            return readOnce(name, buf, buf.length);
        }

        @Override
        public int readConfig(String name, byte[] buf) {
            if (batch != null) {
                int n = batch.take(this, name, buf);
                if (n != Integer.MIN_VALUE) {
                    return n;
                }
            }
            Scratch s = scratch.get();
            Pointer p = attributeName(s, name);
            if (p == null) {
                return -s.lastError;
            }
            int f = openat(fd, p, READ_FLAGS);
            if (f < 0) {
                return -Native.getLastError();
            }
            try {
                int n = (int) NativeSysfsIo.read(f, s.data, ConfigSpace.CONVENTIONAL_SIZE);
                if (n < 0) {
                    return -Native.getLastError();
                }
                s.dataView.get(0, buf, 0, n);
                if (n < ConfigSpace.CONVENTIONAL_SIZE || !ConfigSpace.isPciExpress(buf)) {
                    return n;
                }
                int m = (int) NativeSysfsIo.read(f, s.data.share(n), Math.min(buf.length, BUFFER) - n);
                if (m < 0) {
                    return n; // extended space unreadable: decode the conventional part
                }
                s.dataView.get(n, buf, n, m);
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
            Scratch s = scratch.get();
            Pointer p = attributeName(s, name);
            // struct stat is 144 bytes on x86_64 and aarch64; the buffer is far larger.
            return p != null && fstatat(fd, p, s.data, AT_SYMLINK_NOFOLLOW) == 0;
        }

        @Override
        public void close() {
            batch = null;
            if (fd >= 0) {
                if (closer != null) {
                    closer.closeLater(fd);
                } else {
                    NativeSysfsIo.close(fd);
                }
                fd = -1;
            }
        }
    }
}
