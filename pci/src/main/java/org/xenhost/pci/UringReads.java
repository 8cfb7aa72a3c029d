package org.xenhost.pci;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Reads many small files in a few system calls with Linux io_uring: for each file an {@code openat} into a
 * registered ("direct") descriptor slot, a {@code read} of that slot and a {@code close}, linked so they run in that
 * order, and a whole batch of such chains handed to the kernel by one {@code io_uring_enter}.
 *
 * <p>Why: on the VM this project is measured on a system call's entry and exit alone costs about 1 µs, and reading
 * one sysfs attribute the ordinary way takes three of them ({@code openat}, {@code read}, {@code close}). The
 * kernel's own work (path lookup, the attribute's show function) is the same either way; only the crossings go.
 * The result of every file is exactly what {@code openat}/{@code read} would have returned: the byte count, or the
 * errno of the step that failed (the open's first). Files are opened {@code O_NONBLOCK}, which io_uring honours
 * (a FIFO reads as {@code EAGAIN} instead of hanging).
 *
 * <p>A {@code config} file is read as {@link SysfsIo.Dir#readConfig} does: 256 bytes, and the rest only for a PCI
 * Express function; its slot stays open between the two rounds.
 *
 * <p>One instance per thread (the ring is created with {@code IORING_SETUP_SINGLE_ISSUER}); not thread-safe.
 * {@link #open} returns null where io_uring is missing, disabled ({@code kernel.io_uring_disabled}), refused by a
 * seccomp filter or too old for linked reads of direct descriptors (Linux 5.17, {@code IORING_FEAT_LINKED_FILE}):
 * callers then read file by file.
 */
final class UringReads implements AutoCloseable {
    // io_uring ABI (include/uapi/linux/io_uring.h); the system call numbers are the same on every architecture.
    private static final long SYS_IO_URING_SETUP = 425;
    private static final long SYS_IO_URING_ENTER = 426;
    private static final long SYS_IO_URING_REGISTER = 427;
    private static final int IORING_SETUP_SINGLE_ISSUER = 1 << 12;
    private static final int IORING_SETUP_DEFER_TASKRUN = 1 << 13;
    private static final int IORING_ENTER_GETEVENTS = 1;
    private static final int IORING_FEAT_LINKED_FILE = 1 << 12;
    private static final int IORING_REGISTER_FILES = 2;
    private static final long IORING_OFF_SQ_RING = 0L;
    private static final long IORING_OFF_CQ_RING = 0x8000000L;
    private static final long IORING_OFF_SQES = 0x10000000L;
    private static final byte IORING_OP_READ = 22;
    private static final byte IORING_OP_OPENAT = 18;
    private static final byte IORING_OP_CLOSE = 19;
    private static final byte IOSQE_FIXED_FILE = 1;
    private static final byte IOSQE_IO_HARDLINK = 1 << 3;
    private static final int SQE_SIZE = 64;
    private static final int CQE_SIZE = 16;
    private static final int PARAMS_SIZE = 120;
    private static final int PROT_READ_WRITE = 3;
    private static final int MAP_SHARED_POPULATE = 0x01 | 0x8000;
    private static final int O_NONBLOCK = 0x800;
    private static final int O_DIRECTORY = 0x10000;
    private static final int O_CLOEXEC = 0x80000;
    private static final int O_PATH = 0x200000;
    private static final int EINTR = 4;
    private static final int EAGAIN = 11;
    private static final int EBUSY = 16;

    /** Largest file read: a sysfs attribute is at most a page; a config space is 4096 bytes. */
    static final int FILE_BYTES = 4096;

    private static final byte[] ZERO_SQE = new byte[SQE_SIZE];
    private static final VarHandle INT = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.nativeOrder());

    private static volatile boolean registered;

    private static native long syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6);

    private static native Pointer mmap(Pointer addr, long length, int prot, int flags, int fd, long offset);

    private static native int munmap(Pointer addr, long length);

    private static native int close(int fd);

    private final int ring;
    private final int slots;
    private final Pointer sqRing;
    private final long sqRingSize;
    private final Pointer cqRing;
    private final long cqRingSize;
    private final Pointer sqes;
    private final long sqesSize;
    private final ByteBuffer sq;
    private final ByteBuffer cq;
    private final ByteBuffer sqe;
    private final int sqTail;
    private final int sqMask;
    private final int sqArray;
    private final int sqEntries;
    private final int cqHead;
    private final int cqTail;
    private final int cqMask;
    private final int cqes;
    /** Where file i's bytes land: {@code i * FILE_BYTES}. */
    final Memory data;
    private final ByteBuffer dataView;
    private final int[] openError;
    private final int[] readResult;
    private final int[] secondRead;
    private final boolean[] held;
    /** Outcome of each directory open of the last {@link #openDirs} round: a descriptor or -errno. */
    private final int[] dirResult;
    /** The round being reaped: files ({@link #readAll}) or directories ({@link #openDirs}). */
    private boolean dirRound;
    private int generation;
    private boolean broken;

    private UringReads(int ring, int slots, Memory params, Pointer sqRing, long sqRingSize, Pointer cqRing,
                       long cqRingSize, Pointer sqes, long sqesSize) {
        this.ring = ring;
        this.slots = slots;
        this.sqRing = sqRing;
        this.sqRingSize = sqRingSize;
        this.cqRing = cqRing;
        this.cqRingSize = cqRingSize;
        this.sqes = sqes;
        this.sqesSize = sqesSize;
        // params holds where each field is in the rings (io_sqring_offsets at 40, io_cqring_offsets at 80)
        this.sq = sqRing.getByteBuffer(0, sqRingSize).order(ByteOrder.nativeOrder());
        this.cq = cqRing.getByteBuffer(0, cqRingSize).order(ByteOrder.nativeOrder());
        this.sqEntries = params.getInt(0);
        this.sqTail = params.getInt(44);
        this.sqMask = sq.getInt(params.getInt(48));
        this.sqArray = params.getInt(64);
        this.cqHead = params.getInt(80);
        this.cqTail = params.getInt(84);
        this.cqMask = cq.getInt(params.getInt(88));
        this.cqes = params.getInt(100);
        this.sqe = sqes.getByteBuffer(0, sqesSize).order(ByteOrder.nativeOrder());
        this.data = new Memory((long) slots * FILE_BYTES);
        this.dataView = data.getByteBuffer(0, data.size());
        this.openError = new int[slots];
        this.readResult = new int[slots];
        this.secondRead = new int[slots];
        this.dirResult = new int[slots];
        this.held = new boolean[slots];
    }

    /**
     * A ring able to read {@code slots} files per {@link #readAll}, or null where io_uring cannot be used (see the
     * class comment). Never throws for an unusable kernel.
     */
    static UringReads open(int slots) {
        try {
            register();
        } catch (Throwable unavailable) { // no JNA, not 64-bit Linux
            return null;
        }
        // One open + read + close per file, and never more than a round's worth in flight.
        int entries = Integer.highestOneBit(Math.max(8, slots * 3 - 1)) << 1;
        Memory params = new Memory(PARAMS_SIZE);
        params.clear();
        params.setInt(8, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);
        int ring = (int) syscall(SYS_IO_URING_SETUP, entries, Pointer.nativeValue(params), 0, 0, 0, 0);
        if (ring < 0) {
            params.clear(); // before Linux 6.1 those flags are refused: try without
            ring = (int) syscall(SYS_IO_URING_SETUP, entries, Pointer.nativeValue(params), 0, 0, 0, 0);
        }
        if (ring < 0) {
            return null;
        }
        if ((params.getInt(20) & IORING_FEAT_LINKED_FILE) == 0) {
            // Before Linux 5.17 a linked read looks its fixed file up when submitted, before the open has filled the
            // slot (and before 5.15 an open cannot fill a slot at all): the chain would read nothing.
            close(ring);
            return null;
        }
        int sqEntries = params.getInt(0);
        int cqEntries = params.getInt(4);
        long sqSize = params.getInt(64) + 4L * sqEntries;
        long cqSize = params.getInt(100) + (long) CQE_SIZE * cqEntries;
        long sqesSize = (long) SQE_SIZE * sqEntries;
        Pointer sqp = map(sqSize, ring, IORING_OFF_SQ_RING);
        Pointer cqp = sqp == null ? null : map(cqSize, ring, IORING_OFF_CQ_RING);
        Pointer sqep = cqp == null ? null : map(sqesSize, ring, IORING_OFF_SQES);
        if (sqep == null || sqEntries < slots * 3) {
            unmap(sqp, sqSize);
            unmap(cqp, cqSize);
            unmap(sqep, sqesSize);
            close(ring);
            return null;
        }
        // A sparse table of direct descriptors: every slot empty (-1) until an open fills it.
        Memory fds = new Memory(4L * slots);
        for (int i = 0; i < slots; i++) {
            fds.setInt(4L * i, -1);
        }
        if (syscall(SYS_IO_URING_REGISTER, ring, IORING_REGISTER_FILES, Pointer.nativeValue(fds), slots, 0, 0) < 0) {
            unmap(sqp, sqSize);
            unmap(cqp, cqSize);
            unmap(sqep, sqesSize);
            close(ring);
            return null;
        }
        return new UringReads(ring, slots, params, sqp, sqSize, cqp, cqSize, sqep, sqesSize);
    }

    private static synchronized void register() {
        if (!registered) {
            if (!Platform.isLinux() || !Platform.is64Bit()) {
                throw new UnsatisfiedLinkError("io_uring reads are for 64-bit Linux");
            }
            Native.register(UringReads.class, Platform.C_LIBRARY_NAME);
            registered = true;
        }
    }

    private static Pointer map(long size, int fd, long offset) {
        Pointer p = mmap(null, size, PROT_READ_WRITE, MAP_SHARED_POPULATE, fd, offset);
        return Pointer.nativeValue(p) == -1L ? null : p;
    }

    private static void unmap(Pointer p, long size) {
        if (p != null) {
            munmap(p, size);
        }
    }

    /** How many files one {@link #readAll} can take. */
    int capacity() {
        return slots;
    }

    /**
     * Reads {@code count} files: file {@code i} is {@code names[i]} (a NUL-terminated name in native memory) in the
     * directory {@code dirfds[i]}, read as a config space when {@code config[i]}. Then, for a config space that
     * shows an SR-IOV extended capability, the files {@code sriovNames} of the same directory into the slots from
     * {@code sriovSlot[i]} on (the kernel shows {@code sriov_totalvfs} and {@code sriov_numvfs} exactly for such
     * functions; a third round trip, only when there is one). Afterwards {@link #result} and {@link #copy} give each
     * file's outcome, and {@link #held} says whether an SR-IOV slot was read.
     *
     * @return false when the ring failed as a whole (nothing can be trusted; the caller reads file by file)
     */
    boolean readAll(int count, int[] dirfds, Pointer[] names, boolean[] config, Pointer[] sriovNames, int[] sriovSlot) {
        if (broken || count > slots) {
            return false;
        }
        java.util.Arrays.fill(held, false);
        int gen = ++generation & 0xffff;
        // Round 1: open, read (256 bytes of a config space, else a page), and close all but config files.
        int tail = (int) INT.getAcquire(sq, sqTail);
        int queued = 0;
        int expected = 0;
        for (int i = 0; i < count; i++) {
            openError[i] = 0;
            readResult[i] = 0;
            secondRead[i] = 0;
            long buf = Pointer.nativeValue(data) + (long) i * FILE_BYTES;
            put(tail + queued++, IORING_OP_OPENAT, IOSQE_IO_HARDLINK, dirfds[i], Pointer.nativeValue(names[i]), 0, 0,
                    O_NONBLOCK, i + 1, tag(gen, i, 0));
            put(tail + queued++, IORING_OP_READ, config[i] ? IOSQE_FIXED_FILE
                            : (byte) (IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK), i, buf,
                    config[i] ? ConfigSpace.CONVENTIONAL_SIZE : FILE_BYTES, 0, 0, 0, tag(gen, i, 1));
            expected += 2;
            if (!config[i]) {
                put(tail + queued++, IORING_OP_CLOSE, (byte) 0, 0, 0, 0, 0, 0, i + 1, tag(gen, i, 2));
                expected++;
            }
        }
        if (!submitAndWait(tail, queued, expected, gen)) {
            return false;
        }
        // Round 2: for config files, the extended space of a PCI Express function, then close.
        tail = (int) INT.getAcquire(sq, sqTail);
        queued = 0;
        expected = 0;
        for (int i = 0; i < count; i++) {
            if (!config[i]) {
                continue;
            }
            int n = result(i);
            if (n == ConfigSpace.CONVENTIONAL_SIZE && pciExpress(i)) {
                long buf = Pointer.nativeValue(data) + (long) i * FILE_BYTES + n;
                put(tail + queued++, IORING_OP_READ, (byte) (IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK), i, buf,
                        FILE_BYTES - n, n, 0, 0, tag(gen, i, 3));
                expected++;
            }
            put(tail + queued++, IORING_OP_CLOSE, (byte) 0, 0, 0, 0, 0, 0, i + 1, tag(gen, i, 2));
            expected++;
        }
        if (queued > 0 && !submitAndWait(tail, queued, expected, gen)) {
            return false;
        }
        // Round 3: the SR-IOV files of functions whose whole extended space shows the capability.
        tail = (int) INT.getAcquire(sq, sqTail);
        queued = 0;
        expected = 0;
        for (int i = 0; i < count; i++) {
            if (!config[i] || sriovSlot[i] < 0 || result(i) != FILE_BYTES || !srIov(i)) {
                continue;
            }
            for (int k = 0; k < sriovNames.length; k++) {
                int f = sriovSlot[i] + k;
                openError[f] = 0;
                readResult[f] = 0;
                secondRead[f] = 0;
                held[f] = true;
                long buf = Pointer.nativeValue(data) + (long) f * FILE_BYTES;
                put(tail + queued++, IORING_OP_OPENAT, IOSQE_IO_HARDLINK, dirfds[i], Pointer.nativeValue(sriovNames[k]),
                        0, 0, O_NONBLOCK, f + 1, tag(gen, f, 0));
                put(tail + queued++, IORING_OP_READ, (byte) (IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK), f, buf, FILE_BYTES,
                        0, 0, 0, tag(gen, f, 1));
                put(tail + queued++, IORING_OP_CLOSE, (byte) 0, 0, 0, 0, 0, 0, f + 1, tag(gen, f, 2));
                expected += 3;
            }
        }
        return queued == 0 || submitAndWait(tail, queued, expected, gen);
    }

    /** Whether SR-IOV slot {@code f} was read by the last {@link #readAll}. */
    boolean held(int f) {
        return held[f];
    }

    /** The whole config space in slot {@code i} (copied here to be walked). */
    private final byte[] space = new byte[FILE_BYTES];

    private boolean srIov(int i) {
        dataView.get(i * FILE_BYTES, space, 0, FILE_BYTES);
        return ConfigSpace.hasExtendedCapability(space, ConfigSpace.ECAP_SRIOV);
    }

    /**
     * In one round trip: closes {@code closeCount} ordinary descriptors ({@code closeFds}) and opens {@code count}
     * directories as {@code openat(dirfd, path, O_PATH | O_DIRECTORY | O_CLOEXEC)} would, {@code paths[i]} being
     * the native address of a NUL-terminated path. Afterwards {@code fds[i]} is the new descriptor or
     * {@code -errno}. The descriptors are ordinary ones (not direct slots): the caller reads links relative to them
     * and hands them to {@link #readAll} as directories.
     *
     * @return false when the ring failed as a whole: the caller opens the directories itself. Descriptors opened
     *         in such a round are closed again; closes whose completion was not seen are left alone (closing twice
     *         could close a descriptor another thread got meanwhile).
     */
    boolean openDirs(int dirfd, int count, long[] paths, int[] fds, int closeCount, int[] closeFds) {
        if (broken || count > slots || count + closeCount > sqEntries) {
            return false;
        }
        int gen = ++generation & 0xffff;
        int tail = (int) INT.getAcquire(sq, sqTail);
        int queued = 0;
        for (int i = 0; i < closeCount; i++) {
            put(tail + queued++, IORING_OP_CLOSE, (byte) 0, closeFds[i], 0, 0, 0, 0, 0, tag(gen, i, 2));
        }
        for (int i = 0; i < count; i++) {
            dirResult[i] = Integer.MIN_VALUE;
            put(tail + queued++, IORING_OP_OPENAT, (byte) 0, dirfd, paths[i], 0, 0, O_PATH | O_DIRECTORY | O_CLOEXEC,
                    0, tag(gen, i, 0));
        }
        dirRound = true;
        try {
            if (!submitAndWait(tail, queued, queued, gen)) {
                for (int i = 0; i < count; i++) {
                    if (dirResult[i] >= 0 && dirResult[i] != Integer.MIN_VALUE) {
                        close(dirResult[i]);
                    }
                }
                return false;
            }
        } finally {
            dirRound = false;
        }
        System.arraycopy(dirResult, 0, fds, 0, count);
        return true;
    }

    /** The conventional config space being looked at by {@link #pciExpress} (reused: one per file was garbage). */
    private final byte[] header = new byte[ConfigSpace.CONVENTIONAL_SIZE];

    private boolean pciExpress(int i) {
        dataView.get(i * FILE_BYTES, header, 0, header.length);
        return ConfigSpace.isPciExpress(header);
    }

    /** Bytes read from file {@code i} (both rounds for a config space), or {@code -errno}. */
    int result(int i) {
        if (openError[i] < 0) {
            return openError[i];
        }
        int n = readResult[i];
        // An unreadable extended space still leaves the conventional 256 bytes (as Dir.readConfig does).
        return n >= 0 && secondRead[i] > 0 ? n + secondRead[i] : n;
    }

    /** Copies file {@code i}'s bytes into {@code buf}; returns {@link #result}. */
    int copy(int i, byte[] buf) {
        int n = result(i);
        if (n > 0) {
            dataView.get(i * FILE_BYTES, buf, 0, Math.min(n, buf.length));
        }
        return n;
    }

    private static long tag(int gen, int file, int step) {
        return (long) gen << 32 | (long) file << 2 | step;
    }

    private void put(int index, byte op, byte flags, int fd, long addr, int len, long off, int opFlags,
                     int fileIndex, long userData) {
        int slot = index & sqMask;
        int at = slot * SQE_SIZE;
        sqe.put(at, ZERO_SQE, 0, SQE_SIZE); // one copy rather than eight bounds-checked stores
        sqe.put(at, op);
        sqe.put(at + 1, flags);
        sqe.putInt(at + 4, fd);
        sqe.putLong(at + 8, off);
        sqe.putLong(at + 16, addr);
        sqe.putInt(at + 24, len);
        sqe.putInt(at + 28, opFlags);
        sqe.putLong(at + 32, userData);
        sqe.putInt(at + 44, fileIndex);
        sq.putInt(sqArray + 4 * slot, slot);
    }

    /** Publishes {@code queued} entries after {@code tail} and collects {@code expected} completions. */
    private boolean submitAndWait(int tail, int queued, int expected, int gen) {
        INT.setRelease(sq, sqTail, tail + queued);
        int toSubmit = queued;
        int seen = 0;
        while (seen < expected) {
            long r = syscall(SYS_IO_URING_ENTER, ring, toSubmit, expected - seen, IORING_ENTER_GETEVENTS, 0, 0);
            if (r < 0) {
                int e = Native.getLastError();
                if (e != EINTR && e != EAGAIN && e != EBUSY) {
                    broken = true; // the ring itself failed: give up on it for good
                    return false;
                }
            } else {
                toSubmit -= (int) Math.min(r, toSubmit);
            }
            seen += reap(gen);
        }
        return true;
    }

    private int reap(int gen) {
        int head = (int) INT.getAcquire(cq, cqHead);
        int tail = (int) INT.getAcquire(cq, cqTail);
        int n = 0;
        for (; head != tail; head++) {
            int at = cqes + (head & cqMask) * CQE_SIZE;
            long ud = cq.getLong(at);
            int res = cq.getInt(at + 8);
            if ((int) (ud >>> 32) != gen) {
                continue; // cannot happen (every round is waited for), but never mix batches
            }
            int file = (int) (ud & 0xffffffffL) >>> 2;
            if (dirRound) {
                if ((ud & 3) == 0) {
                    dirResult[file] = res; // a directory's descriptor or -errno; closes report nothing we need
                }
                n++;
                continue;
            }
            switch ((int) (ud & 3)) {
                case 0 -> {
                    if (res > 0) {
                        close(res); // an ordinary descriptor: only a kernel ignoring file_index returns one
                    }
                    openError[file] = Math.min(res, 0);
                }
                case 1 -> readResult[file] = res;
                case 3 -> secondRead[file] = res;
                default -> {
                    // close: nothing to record (a close of a slot whose open failed reports EBADF)
                }
            }
            n++;
        }
        INT.setRelease(cq, cqHead, head);
        return n;
    }

    @Override
    public void close() {
        unmap(sqes, sqesSize);
        unmap(cqRing, cqRingSize);
        unmap(sqRing, sqRingSize);
        close(ring);
    }
}
