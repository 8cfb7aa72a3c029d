package org.xenhost.libxl.jna;

import org.xenhost.libxl.LibxlDevicePci;
import org.xenhost.libxl.LibxlError;
import org.xenhost.libxl.LibxlException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * libxl's reset recipe ({@code libxl__device_pci_reset}, libxl_pci.c), which libxl runs inside attach and detach
 * but does not export, done here by the same sysfs writes. It needs no libxl symbol, only a writable sysfs.
 * The root is a parameter so the recipe can be checked against a plain directory tree.
 */
final class SysfsPciReset {
    private final Path sysfsRoot;

    /** @param sysfsRoot the directory holding {@code sys/} ({@code /} on a host) */
    SysfsPciReset(Path sysfsRoot) {
        this.sysfsRoot = sysfsRoot;
    }

    /**
     * Resets one function: its BDF to pciback's {@code do_flr} when it is bound to pciback and that file exists
     * (old pciback forks; mainline has none), else {@code 1} to the device's {@code reset} file.
     *
     * @return the file written
     */
    Path reset(LibxlDevicePci pci) throws LibxlException {
        String bdf = pci.bdf();
        Path device = sysfsRoot.resolve("sys/bus/pci/devices").resolve(bdf);
        if (!Files.exists(device)) {
            throw new LibxlException(LibxlError.FAIL, "reset " + bdf + ": there is no " + device
                    + " (no such PCI device on this host)");
        }
        Path doFlr = sysfsRoot.resolve("sys/bus/pci/drivers/pciback/do_flr");
        if (onPciback(device) && Files.exists(doFlr)) {
            write(doFlr, bdf, bdf);
            return doFlr;
        }
        Path reset = device.resolve("reset");
        if (!Files.exists(reset)) {
            throw new LibxlException(LibxlError.FAIL, "reset " + bdf + ": " + reset + " does not exist: the kernel "
                    + "doesn't support reset from sysfs for this PCI device (it has no reset method)");
        }
        write(reset, "1", bdf);
        return reset;
    }

    private static boolean onPciback(Path device) {
        try {
            return Files.readSymbolicLink(device.resolve("driver")).getFileName().toString().equals("pciback");
        } catch (IOException | UnsupportedOperationException e) {
            return false; // unbound (no link) or unreadable: not pciback's
        }
    }

    /** One write(2) of {@code value}, as {@code echo -n} would; the kernel's answer becomes the errno text. */
    private static void write(Path file, String value, String bdf) throws LibxlException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(value.getBytes(StandardCharsets.US_ASCII)));
        } catch (IOException e) {
            throw new LibxlException(LibxlError.FAIL, "reset " + bdf + ": write '" + value + "' to " + file
                    + " failed: " + errnoText(e), e);
        }
    }

    /** strerror(3) as the JDK reports it: in the reason of a failed open, the message of a failed write. */
    private static String errnoText(IOException e) {
        if (e instanceof NoSuchFileException) {
            return "No such file or directory";
        }
        if (e instanceof AccessDeniedException) {
            return "Permission denied";
        }
        if (e instanceof FileSystemException f && f.getReason() != null) {
            return f.getReason();
        }
        return e.getMessage() == null ? e.toString() : e.getMessage();
    }
}
