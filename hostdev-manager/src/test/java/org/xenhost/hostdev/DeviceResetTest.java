package org.xenhost.hostdev;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenhost.emulator.kernel.EmulatedKernel;
import org.xenhost.emulator.kernel.EmulatedKernel.ResetEvent;
import org.xenhost.emulator.kernel.SysfsWriteException;
import org.xenhost.libxl.pcispec.PciSpecParser;
import org.xenhost.pci.PciAddress;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code HostdevManager.reset} on the emulated asus-p6t6: what it refuses and why, and that an accepted reset
 * reaches the kernel, with the emulated kernel's reset record as the oracle.
 */
class DeviceResetTest {
    private static final PciAddress SAS = PciAddress.parse("0000:04:00.0");   // mpt3sas, FLR
    private static final PciAddress AUDIO = PciAddress.parse("0000:00:1b.0"); // snd_hda_intel, FLR
    private static final PciAddress NIC = PciAddress.parse("0000:07:00.0");   // r8169, no FLR, NoSoftRst+
    private static final PciAddress GPU_AUDIO = PciAddress.parse("0000:06:00.1"); // shares a bridge with nouveau

    @TempDir
    Path dir;
    private EmulatedHost host;
    private HostdevManager m;
    private EmulatedKernel kernel;

    @BeforeEach
    void start() throws Exception {
        host = EmulatedHost.of("asus-p6t6", dir);
        m = host.start();
        kernel = host.libxl.kernel();
    }

    @AfterEach
    void close() {
        host.close();
    }

    private List<ResetEvent> requested(PciAddress a) {
        return kernel.resetEvents(a.toString()).stream().filter(e -> !e.via().startsWith("pciback-")).toList();
    }

    private void unbindFromDom0(PciAddress a, String driver) throws Exception {
        kernel.write(kernel.root().resolve("sys/bus/pci/drivers").resolve(driver).resolve("unbind"), a.toString());
    }

    @Test
    void anAssignableDeviceIsResetByFlrAndNothingIsJournalled() throws Exception {
        m.assignableAdd(SAS, "hba", false);
        Map<PciAddress, Ownership> before = m.ownerships();
        ResetPlan p = m.reset(SAS);
        assertEquals(ResetMethod.FLR, p.method());
        assertEquals(List.of(new ResetEvent(SAS.toString(), "reset", "ok")), requested(SAS));
        assertEquals(before, m.ownerships(), "a reset changes no ownership");
        assertEquals("pciback", host.driver(SAS.toString()), "the device stays where it was");
        host.assertConsistent();
    }

    @Test
    void aDeviceOnNoDriverIsResetByTheMethodItHas() throws Exception {
        unbindFromDom0(NIC, "r8169");
        ResetPlan p = m.reset(NIC);
        assertEquals(ResetMethod.BUS, p.method(), p.toString());
        assertEquals(List.of(new ResetEvent(NIC.toString(), "reset", "ok")), requested(NIC));
    }

    @Test
    void aDeviceADomainHasIsRefusedWithTheWayOut() throws Exception {
        host.createDomain("guest1", "hvm");
        m.assignableAdd(SAS, null, false);
        m.attach("guest1", PciSpecParser.parse("04:00.0"), false);
        List<ResetEvent> before = requested(SAS); // libxl resets it during the attach
        DeviceRefusedException e = assertThrows(DeviceRefusedException.class, () -> m.reset(SAS));
        assertTrue(e.getMessage().contains("in use by domain guest1"), e.getMessage());
        assertTrue(e.getMessage().contains("xenhost detach-device guest1 0000:04:00.0"), e.getMessage());
        assertEquals(before, requested(SAS), "no reset reached the kernel");
    }

    @Test
    void aDeviceXlGaveToADomainIsRefusedToo() throws Exception {
        int domid = host.createDomain("xlguest", "hvm");
        host.libxl.assignableAdd(Host.pci(SAS), true);
        host.libxl.pciAdd(domid, Host.pci(SAS)); // behind xenhost's back, as xl pci-attach would
        long before = kernel.resetCount(SAS.toString());
        DeviceRefusedException e = assertThrows(DeviceRefusedException.class, () -> m.reset(SAS));
        assertTrue(e.getMessage().contains("attached to domain xlguest (domid " + domid + ") according to libxl"),
                e.getMessage());
        assertEquals(before, kernel.resetCount(SAS.toString()));
    }

    @Test
    void aDeviceStillOnItsDom0DriverIsRefused() {
        DeviceRefusedException e = assertThrows(DeviceRefusedException.class, () -> m.reset(AUDIO));
        assertTrue(e.getMessage().contains("still bound to the dom0 driver snd_hda_intel"), e.getMessage());
        assertTrue(e.getMessage().contains("detach it first: xenhost nodedev-detach 0000:00:1b.0"), e.getMessage());
        assertEquals(List.of(), requested(AUDIO));
    }

    @Test
    void aDeviceWithoutASafeResetIsRefusedSayingWhy() throws Exception {
        unbindFromDom0(GPU_AUDIO, "snd_hda_intel"); // its GPU sibling stays on nouveau
        DeviceRefusedException e = assertThrows(DeviceRefusedException.class, () -> m.reset(GPU_AUDIO));
        assertTrue(e.getMessage().contains("has no safe reset"), e.getMessage());
        assertTrue(e.getMessage().contains("NoSoftRst set"), e.getMessage());
        assertTrue(e.getMessage().contains("0000:06:00.0 (the host (driver nouveau))"), e.getMessage());
        assertEquals(List.of(), requested(GPU_AUDIO));
    }

    @Test
    void aFailedResetIsAHostFailureNamingTheKernelsAnswer() throws Exception {
        m.assignableAdd(SAS, null, false);
        kernel.failResets(SAS.toString(), SysfsWriteException.Errno.EIO);
        HostdevException e = assertThrows(HostdevException.class, () -> m.reset(SAS));
        assertTrue(e.getMessage().contains("Input/output error"), e.getMessage());
        assertTrue(e.getMessage().contains("left where it was (pciback)"), e.getMessage());
        assertEquals(List.of(new ResetEvent(SAS.toString(), "reset", "EIO")), requested(SAS));
        host.assertConsistent();
    }

    @Test
    void anUnknownDeviceIsBadInput() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> m.reset(PciAddress.parse("0000:42:00.0")));
        assertTrue(e.getMessage().startsWith("unknown device 0000:42:00.0"), e.getMessage());
    }
}
