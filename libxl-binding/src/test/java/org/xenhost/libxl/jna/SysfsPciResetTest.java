package org.xenhost.libxl.jna;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenhost.libxl.LibxlDevicePci;
import org.xenhost.libxl.LibxlError;
import org.xenhost.libxl.LibxlException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** libxl's reset recipe over a plain directory laid out as sysfs; the write errors come from a real device file. */
class SysfsPciResetTest {
    private static final LibxlDevicePci NIC = LibxlDevicePci.of(0, 3, 0, 0);
    @TempDir
    Path root;

    private Path device(String driver) throws IOException {
        Path dev = Files.createDirectories(root.resolve("sys/bus/pci/devices/0000:03:00.0"));
        if (driver != null) {
            Path drv = Files.createDirectories(root.resolve("sys/bus/pci/drivers").resolve(driver));
            Files.createSymbolicLink(dev.resolve("driver"), drv);
        }
        return dev;
    }

    @Test
    void writesOneToTheDeviceResetFile() throws Exception {
        Path dev = device("pciback");
        Files.writeString(dev.resolve("reset"), "");
        assertEquals(dev.resolve("reset"), new SysfsPciReset(root).reset(NIC));
        assertEquals("1", Files.readString(dev.resolve("reset")));
    }

    @Test
    void pcibackDoFlrIsUsedForItsOwnDevicesWhenPresent() throws Exception {
        Path dev = device("pciback");
        Files.writeString(dev.resolve("reset"), "");
        Path doFlr = Files.writeString(root.resolve("sys/bus/pci/drivers/pciback/do_flr"), "");
        assertEquals(doFlr, new SysfsPciReset(root).reset(NIC));
        assertEquals("0000:03:00.0", Files.readString(doFlr));
        assertEquals("", Files.readString(dev.resolve("reset")), "the reset file is not written as well");
    }

    @Test
    void doFlrIsNotUsedForADeviceOnAnotherDriver() throws Exception {
        Path dev = device("e1000e");
        Files.writeString(dev.resolve("reset"), "");
        Files.createDirectories(root.resolve("sys/bus/pci/drivers/pciback"));
        Path doFlr = Files.writeString(root.resolve("sys/bus/pci/drivers/pciback/do_flr"), "");
        new SysfsPciReset(root).reset(NIC);
        assertEquals("1", Files.readString(dev.resolve("reset")));
        assertEquals("", Files.readString(doFlr));
    }

    @Test
    void noResetFileIsAClearFailure() throws Exception {
        device(null);
        LibxlException e = assertThrows(LibxlException.class, () -> new SysfsPciReset(root).reset(NIC));
        assertEquals(LibxlError.FAIL, e.error());
        assertTrue(e.getMessage().contains("0000:03:00.0/reset does not exist"), e.getMessage());
        assertTrue(e.getMessage().contains("doesn't support reset from sysfs"), e.getMessage());
    }

    @Test
    void unknownDeviceIsNamed() {
        LibxlException e = assertThrows(LibxlException.class, () -> new SysfsPciReset(root).reset(NIC));
        assertTrue(e.getMessage().contains("no such PCI device"), e.getMessage());
    }

    @Test
    void theKernelsErrnoTextIsReported() throws Exception {
        Path dev = device(null);
        // /dev/full refuses every write with ENOSPC: a real failing write(2), as a reset the kernel refuses is
        Files.createSymbolicLink(dev.resolve("reset"), Path.of("/dev/full"));
        LibxlException e = assertThrows(LibxlException.class, () -> new SysfsPciReset(root).reset(NIC));
        assertTrue(e.getMessage().contains(dev.resolve("reset").toString()), e.getMessage());
        assertTrue(e.getMessage().contains("No space left on device"), e.getMessage());
        assertFalse(e.getMessage().contains("Exception"), e.getMessage());
    }
}
