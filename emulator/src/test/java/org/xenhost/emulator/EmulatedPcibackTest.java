package org.xenhost.emulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenhost.emulator.kernel.EmulatedKernel;
import org.xenhost.emulator.kernel.SysfsWriteException;
import org.xenhost.fixtures.Fixtures;
import org.xenhost.libxl.LibxlDevicePci;
import org.xenhost.libxl.LibxlError;
import org.xenhost.libxl.LibxlException;
import org.xenhost.libxl.ProgressListener;
import org.xenhost.pci.PciAddress;
import org.xenhost.pci.SysfsPciReader;

/**
 * The emulated kernel and pciback on a working copy of fixtures/sysfs/asus-p6t6, driven through libxl's PCI
 * recipes, with {@code lspci -k -A linux-sysfs} and our own sysfs reader as oracles.
 */
class EmulatedPcibackTest {
    static final String NIC = "0000:07:00.0";   // r8169, has a reset method
    static final LibxlDevicePci NIC_PCI = LibxlDevicePci.of(0, 7, 0, 0);

    @TempDir
    Path tmp;
    Path sysfs;
    EmulatedLibxl host;
    EmulatedKernel kernel;

    @BeforeEach
    void open() throws IOException {
        sysfs = Fixtures.copyTree("asus-p6t6", tmp.resolve("sysfs"));
        host = TestHosts.open(tmp.resolve("host"), sysfs);
        kernel = host.kernel();
    }

    @AfterEach
    void close() {
        host.close();
    }

    /**
     * The "Kernel driver in use" lspci reports for {@code bdf} in the emulated tree, or "" if none; our reader's scan
     * (which takes the driver from {@code uevent}) must say the same.
     */
    String lspciDriver(String bdf) throws Exception {
        String driver = lspciOnly(bdf);
        PciAddress a = PciAddress.parse(bdf);
        assertEquals(driver.isEmpty() ? null : driver, new SysfsPciReader(sysfs).scan().devices().stream()
                .filter(d -> d.address().equals(a)).findFirst().orElseThrow().driver(), "scanned driver of " + bdf);
        return driver;
    }

    private String lspciOnly(String bdf) throws Exception {
        Process p = new ProcessBuilder("lspci", "-k", "-A", "linux-sysfs", "-O",
                "sysfs.path=" + sysfs.resolve("sys/bus/pci"), "-s", bdf).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains(bdf.substring(5)), "lspci lists " + bdf + ":\n" + out);
        for (String line : out.split("\n")) {
            if (line.strip().startsWith("Kernel driver in use:")) {
                return line.substring(line.indexOf(':') + 1).strip();
            }
        }
        return "";
    }

    String readerDriver(String bdf) {
        return new SysfsPciReader(sysfs).read(PciAddress.parse(bdf)).orElseThrow().driver();
    }

    @Test
    void deviceMovedToPcibackAndBackIsSeenSoByLspciAndOurReader() throws Exception {
        assertEquals("r8169", lspciDriver(NIC));
        host.assignableAdd(NIC_PCI.withName("nic0"), true);
        assertEquals("pciback", lspciDriver(NIC));
        assertEquals("pciback", readerDriver(NIC));
        assertEquals(List.of(NIC), kernel.slots());
        assertEquals("/sys/bus/pci/drivers/r8169",
                host.hypervisor().xenstore().read("/libxl/pci/0000-07-00-0/driver_path").orElseThrow());
        assertEquals("nic0", host.hypervisor().xenstore().read("/libxl/pci/0000-07-00-0/name").orElseThrow());
        assertTrue(Files.isSymbolicLink(sysfs.resolve("sys/bus/pci/drivers/pciback/" + NIC)));
        assertFalse(Files.exists(sysfs.resolve("sys/bus/pci/drivers/r8169/" + NIC)));
        assertEquals(1, kernel.resetCount(NIC), "pciback resets a device it takes");
        assertEquals(List.of("nic0"), host.assignableList().stream().map(LibxlDevicePci::name).toList());
        // idempotent, as libxl (which rewrites or removes the name on every call)
        host.assignableAdd(NIC_PCI.withName("nic0"), true);
        assertEquals(List.of(NIC), kernel.slots());

        // back, by name, with rebind
        host.assignableRemove(LibxlDevicePci.of(0, 0, 0, 0).withName("nic0"), true);
        assertEquals("r8169", lspciDriver(NIC));
        assertEquals("r8169", readerDriver(NIC));
        assertEquals(List.of(), kernel.slots());
        assertTrue(host.assignableList().isEmpty());
        assertFalse(host.hypervisor().xenstore().exists("/libxl/pci/0000-07-00-0/driver_path"));
        assertEquals(LibxlError.NOTFOUND, assertThrows(LibxlException.class,
                () -> host.assignableRemove(NIC_PCI.withName("nic0"), true)).error());
    }

    @Test
    void aDomainCreatedWithoutPassthroughCannotTakeADevice() throws Exception {
        // Xen gives a domain an IOMMU context only when libxl creates it with passthrough on: explicitly, or by
        // default when its config lists PCI devices; hotplug into any other domain fails in xc_assign_device
        host.assignableAdd(NIC_PCI, true);
        int plain = host.createDomain("{\"name\":\"plain\",\"type\":\"hvm\",\"memory\":8}", false);
        LibxlException e = assertThrows(LibxlException.class, () -> host.pciAdd(plain, NIC_PCI));
        assertEquals(LibxlError.FAIL, e.error());
        assertTrue(e.getMessage().contains("xc_assign_device failed: Operation not supported"), e.getMessage());
        assertTrue(host.pciList(plain).isEmpty());
        assertEquals(List.of(NIC), host.assignableList().stream().map(LibxlDevicePci::bdf).toList(),
                "the device stays assignable");
        int disabled = host.createDomain("{\"c_info\":{\"name\":\"off\",\"type\":\"hvm\",\"passthrough\":\"disabled\"},"
                + "\"b_info\":{\"max_memkb\":8192,\"max_vcpus\":1}}", false);
        assertThrows(LibxlException.class, () -> host.pciAdd(disabled, NIC_PCI));
        int listed = host.createDomain("{\"c_info\":{\"name\":\"listed\",\"type\":\"hvm\"},"
                + "\"b_info\":{\"max_memkb\":8192,\"max_vcpus\":1},\"pcidevs\":[]}", false);
        assertThrows(LibxlException.class, () -> host.pciAdd(listed, NIC_PCI), "an empty pcidevs is no passthrough");
    }

    @Test
    void assignableMeansBoundToPcibackAndNotInUse() throws Exception {
        host.assignableAdd(NIC_PCI, true);
        int domid = host.createDomain(TestHosts.config("guest", "hvm", 8, 0, 0), false);
        host.pciAdd(domid, NIC_PCI);
        assertTrue(host.assignableList().isEmpty(), "in use: not assignable");
        assertEquals(Integer.toString(domid),
                host.hypervisor().xenstore().read("/libxl/pci/0000-07-00-0/domid").orElseThrow());
        List<LibxlDevicePci> attached = host.pciList(domid);
        assertEquals(1, attached.size());
        assertEquals(NIC, attached.get(0).bdf());
        String be = "/local/domain/0/backend/pci/" + domid + "/0";
        var xs = host.hypervisor().xenstore();
        assertEquals(NIC, xs.read(be + "/dev-0").orElseThrow());
        assertEquals("1", xs.read(be + "/num_devs").orElseThrow());
        assertEquals("msitranslate=0,power_mgmt=0,permissive=0,rdm_policy=strict", xs.read(be + "/opts-0").orElseThrow());
        assertTrue(host.domainConfigJson(domid).contains("\"pcidevs\""));
        // a second guest cannot have it
        int other = host.createDomain(TestHosts.config("other", "hvm", 8, 0, 0), false);
        LibxlException taken = assertThrows(LibxlException.class, () -> host.pciAdd(other, NIC_PCI));
        assertEquals(LibxlError.FAIL, taken.error());
        // PCI passthrough blocks log-dirty: live save fails like Xen (EINVAL), non-live is allowed
        LibxlException live = assertThrows(LibxlException.class, () -> host.suspend(domid,
                java.nio.channels.Channels.newChannel(java.io.OutputStream.nullOutputStream()), true, false,
                ProgressListener.NONE));
        assertEquals(LibxlError.FAIL, live.error());
        assertTrue(live.getMessage().contains("Failed to enable logdirty: 22"), live.getMessage());
        assertEquals(org.xenhost.libxl.DomainState.RUNNING, host.domainInfo(domid).state(), "the guest runs on");

        assertEquals(LibxlError.INVAL, assertThrows(LibxlException.class,
                () -> host.pciRemove(other, NIC_PCI, false)).error());
        host.pciRemove(domid, NIC_PCI, false);
        assertEquals(List.of(NIC), host.assignableList().stream().map(LibxlDevicePci::bdf).toList());
        assertFalse(xs.exists("/local/domain/0/backend/pci/" + domid));
        assertEquals("pciback", lspciDriver(NIC), "the device stays on pciback after detach");
        host.suspend(domid, java.nio.channels.Channels.newChannel(java.io.OutputStream.nullOutputStream()), true,
                false, ProgressListener.NONE);

        // destroy detaches by force
        host.pciAdd(other, NIC_PCI);
        host.destroy(other);
        assertEquals(List.of(NIC), host.assignableList().stream().map(LibxlDevicePci::bdf).toList());
    }

    @Test
    void pcibackNotLoadedGivesLibxlsError() throws Exception {
        kernel.unloadPciback();
        assertFalse(Files.exists(sysfs.resolve("sys/bus/pci/drivers/pciback")));
        LibxlException e = assertThrows(LibxlException.class, () -> host.assignableAdd(NIC_PCI, true));
        assertEquals(LibxlError.FAIL, e.error());
        assertTrue(e.getMessage().contains("pciback driver not loaded"), e.getMessage());
        assertTrue(host.assignableList().isEmpty());
        assertEquals("r8169", lspciDriver(NIC), "nothing changed");
        kernel.loadPciback();
        host.assignableAdd(NIC_PCI, false);
        assertEquals("pciback", lspciDriver(NIC));
        // unloading releases the device; it is left without a driver
        kernel.unloadPciback();
        assertEquals("", lspciDriver(NIC));
        LibxlException missing = assertThrows(LibxlException.class,
                () -> host.assignableAdd(LibxlDevicePci.of(0, 0x42, 0, 0), true));
        assertTrue(missing.getMessage().contains("Couldn't lstat"), missing.getMessage());
    }

    @Test
    void kernelReactionsAndErrnos() throws Exception {
        Path pciback = sysfs.resolve("sys/bus/pci/drivers/pciback");
        // bind to pciback without a slot: ENODEV; to a driver while bound: EBUSY
        assertErrno(SysfsWriteException.Errno.EBUSY, () -> kernel.write(pciback.resolve("bind"), NIC));
        kernel.write(sysfs.resolve("sys/bus/pci/drivers/r8169/unbind"), NIC);
        assertEquals("", lspciDriver(NIC));
        assertErrno(SysfsWriteException.Errno.ENODEV, () -> kernel.write(pciback.resolve("bind"), NIC));
        assertErrno(SysfsWriteException.Errno.ENODEV, () -> kernel.write(sysfs.resolve("sys/bus/pci/drivers/ahci/bind"), NIC));
        assertErrno(SysfsWriteException.Errno.ENODEV, () -> kernel.write(pciback.resolve("unbind"), NIC));
        // slots: wildcard expands, remove of an absent slot is ENOENT, garbage is EINVAL
        kernel.write(pciback.resolve("new_slot"), "0000:08:00.*");
        assertEquals(8, kernel.slots().size());
        assertErrno(SysfsWriteException.Errno.ENOENT, () -> kernel.write(pciback.resolve("remove_slot"), "0000:09:00.0"));
        assertErrno(SysfsWriteException.Errno.EINVAL, () -> kernel.write(pciback.resolve("new_slot"), "zz:00.0"));
        kernel.write(pciback.resolve("remove_slot"), "0000:08:00.3");
        assertEquals(7, kernel.slots().size());
        assertEquals("0000:08:00.0\n", Files.readAllLines(pciback.resolve("slots")).get(0) + "\n");
        // permissive needs a bound device
        assertErrno(SysfsWriteException.Errno.ENODEV, () -> kernel.write(pciback.resolve("permissive"), NIC));
        // driver_override + drivers_probe: pciback takes it and adds the slot itself
        kernel.write(sysfs.resolve("sys/bus/pci/devices/" + NIC + "/driver_override"), "pciback\n");
        assertEquals("pciback\n", Files.readString(sysfs.resolve("sys/bus/pci/devices/" + NIC + "/driver_override")));
        kernel.write(sysfs.resolve("sys/bus/pci/drivers_probe"), NIC);
        assertEquals("pciback", lspciDriver(NIC));
        assertEquals("pciback", readerDriver(NIC));
        assertTrue(kernel.slots().contains(NIC));
        kernel.write(pciback.resolve("permissive"), NIC);
        assertEquals(NIC + "\n", Files.readString(pciback.resolve("permissive")));
        // release: unbind, clear override, remove slot, probe: the native driver takes it back
        kernel.write(pciback.resolve("unbind"), NIC);
        assertEquals("", Files.readString(pciback.resolve("permissive")), "permissive is dropped on unbind");
        kernel.write(sysfs.resolve("sys/bus/pci/devices/" + NIC + "/driver_override"), "\n");
        assertEquals("(null)\n", Files.readString(sysfs.resolve("sys/bus/pci/devices/" + NIC + "/driver_override")));
        kernel.write(pciback.resolve("remove_slot"), NIC);
        kernel.write(sysfs.resolve("sys/bus/pci/drivers_probe"), NIC);
        assertEquals("r8169", lspciDriver(NIC));
        // reset: only 1 is accepted; a device without a reset method has no file
        assertErrno(SysfsWriteException.Errno.EINVAL, () -> kernel.write(sysfs.resolve("sys/bus/pci/devices/" + NIC + "/reset"), "2"));
        kernel.setResetLatency(NIC, Duration.ofMillis(100));
        long t0 = System.nanoTime();
        kernel.write(sysfs.resolve("sys/bus/pci/devices/" + NIC + "/reset"), "1");
        assertTrue(System.nanoTime() - t0 >= 90_000_000L, "the configured reset latency is spent");
        assertThrows(NoSuchFileException.class,
                () -> kernel.write(sysfs.resolve("sys/bus/pci/devices/0000:06:00.0/reset"), "1"));
    }

    @Test
    void kernelStateSurvivesReopening() throws Exception {
        host.assignableAdd(NIC_PCI, true);
        host.close();
        host = TestHosts.open(tmp.resolve("host"), sysfs);
        kernel = host.kernel();
        assertEquals(List.of(NIC), host.assignableList().stream().map(LibxlDevicePci::bdf).toList());
        host.assignableRemove(NIC_PCI, true);
        assertEquals("r8169", lspciDriver(NIC), "the original driver is still known after a restart");
    }

    interface Write {
        void run() throws IOException;
    }

    static void assertErrno(SysfsWriteException.Errno errno, Write w) {
        SysfsWriteException e = assertThrows(SysfsWriteException.class, w::run);
        assertEquals(errno, e.errno(), e.getMessage());
    }
}
