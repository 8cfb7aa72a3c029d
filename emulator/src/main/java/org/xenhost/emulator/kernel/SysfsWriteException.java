package org.xenhost.emulator.kernel;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A write to a sysfs attribute that the (emulated) kernel refused, as {@code write(2)} would fail with
 * {@code -errno}: ENODEV, EINVAL, ENOENT, EBUSY, and EIO / ENOTTY for a reset that failed
 * (injected by tests: the PCI core returns them when a function does not come back from its reset).
 */
public final class SysfsWriteException extends IOException {
    private static final long serialVersionUID = 1L;

    /** The errno values the emulated kernel returns. */
    public enum Errno {
        ENOENT(2, "No such file or directory"),
        EIO(5, "Input/output error"),
        EBUSY(16, "Device or resource busy"),
        ENODEV(19, "No such device"),
        EINVAL(22, "Invalid argument"),
        ENOTTY(25, "Inappropriate ioctl for device");

        private final int number;
        private final String text;

        Errno(int number, String text) {
            this.number = number;
            this.text = text;
        }

        public int number() {
            return number;
        }

        public String text() {
            return text;
        }
    }

    private final Errno errno;
    private final Path file;

    public SysfsWriteException(Path file, String value, Errno errno, String why) {
        super("write '" + value + "' to " + file + ": " + errno.text() + " (" + errno.name() + ", -" + errno.number()
                + "): " + why);
        this.errno = errno;
        this.file = file;
    }

    public Errno errno() {
        return errno;
    }

    public Path file() {
        return file;
    }
}
