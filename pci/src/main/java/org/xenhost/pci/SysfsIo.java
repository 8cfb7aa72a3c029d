package org.xenhost.pci;

import java.util.List;

/**
 * The file-system operations the sysfs reader needs, shaped for speed and for hostile trees: results are returned,
 * failures are negative errno values rather than exceptions (a missing optional attribute is routine), and reading
 * never blocks (a FIFO where an attribute should be reads as empty instead of hanging).
 *
 * <p>A device is read through a {@link Dir} opened once, so each attribute costs a lookup of one name rather than
 * of the whole path again.
 */
interface SysfsIo {
    int ENOENT = 2;
    int EIO = 5;
    int EACCES = 13;
    int ENODEV = 19;
    int ENOTDIR = 20;
    int EISDIR = 21;
    int EINVAL = 22;
    int ELOOP = 40;

    /** Target text of a symbolic link, or null with {@link #lastError()} set. */
    String readlink(String path);

    /** Names in a directory, or null with {@link #lastError()} set. */
    String[] list(String dir);

    /** Opens a directory for attribute reads, or null with {@link #lastError()} set. */
    Dir open(String dir);

    /**
     * A way to read the attributes every function has of many devices at once, or null where this implementation
     * reads file by file (the default). Owned by the calling thread; close it when the scan is done.
     *
     * @param names     the attribute names to read in each directory; {@code config} is read as {@link Dir#readConfig}
     * @param functions how many devices the caller is about to read (a batch is not worth setting up for a few)
     */
    default Batch batch(String[] names, int functions) {
        return null;
    }

    /** Reads a fixed set of attributes of several opened device directories together. Not thread-safe. */
    interface Batch extends AutoCloseable {
        /** How many directories one {@link #prefetch} takes. */
        int capacity();

        /**
         * Reads the batch's names in each directory now. Afterwards, the first {@link Dir#read} or
         * {@link Dir#readConfig} of such a name on such a directory returns what was read here, and later calls (and
         * other names) read the file again as usual. Results of the previous call are dropped. If the batch read
         * fails as a whole, nothing is remembered and every read goes to the file system as usual.
         */
        void prefetch(List<Dir> dirs);

        /**
         * Opens {@code count} directories below {@code base} ({@code names[i]}: a relative path) as
         * {@link SysfsIo#open} would open {@code base/names[i]}, together: {@code out[i]} is the opened directory or
         * null with {@code errors[i]} its errno. Closing such a directory may be deferred to this batch's next round
         * trip (or its {@link #close}), so close the batch when the scan is done. False (nothing opened) when this
         * batch cannot: the caller then opens them one by one.
         */
        default boolean openAll(Dir base, String[] names, int count, Dir[] out, int[] errors) {
            return false;
        }

        @Override
        void close();
    }

    /** errno of the last failed {@link #readlink}, {@link #list}, {@link #open} or {@link Dir#readlink} on this thread. */
    int lastError();

    /** An open device directory. Not thread-safe; close it when done. */
    interface Dir extends AutoCloseable {
        /**
         * Reads up to {@code buf.length} bytes of a small file with one {@code read}, the way sysfs attributes are
         * meant to be read.
         *
         * @return bytes read (≥ 0) or {@code -errno}
         */
        int read(String name, byte[] buf);

        /**
         * Reads a {@code config} file: the 256-byte conventional space, then the rest only when that shows a PCI
         * Express capability. Every config dword read through sysfs is a config cycle (measured on this project's
         * 2-vCPU VM: 0.7 ms of kernel time for 64 bytes, 2.8 ms for 256, 23 ms for 4 KiB), and the kernel gives host bridges a 4096-byte
         * file even when they are not PCI Express, so one read of 4096 would charge them for space never decoded.
         *
         * @param buf at least 4096 bytes
         * @return bytes read (≥ 0) or {@code -errno}
         */
        int readConfig(String name, byte[] buf);

        /** Target text of a symbolic link in this directory, or null with {@link SysfsIo#lastError()} set. */
        String readlink(String name);

        /** Whether an entry of that name exists (not following a final symlink). */
        boolean exists(String name);

        @Override
        void close();
    }

    /** Human description of an errno value for warnings. */
    static String describe(int errno) {
        return switch (errno) {
            case ENOENT -> "no such file";
            case EIO -> "I/O error";
            case ENODEV -> "no such device";
            case ENOTDIR -> "not a directory";
            case EISDIR -> "is a directory";
            case EINVAL -> "invalid (not a symlink?)";
            case ELOOP -> "symlink loop";
            case 11 -> "would block";
            case EACCES -> "permission denied";
            default -> "errno " + errno;
        };
    }

    /** The native implementation when JNA can load libc, else the portable one. */
    static SysfsIo best() {
        try {
            return NativeSysfsIo.load();
        } catch (Throwable unavailable) { // UnsatisfiedLinkError, NoClassDefFoundError: fall back, lose only speed
            return new JavaSysfsIo();
        }
    }
}
