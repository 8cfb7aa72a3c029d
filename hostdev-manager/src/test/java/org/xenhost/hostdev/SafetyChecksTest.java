package org.xenhost.hostdev;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenhost.libxl.pcispec.PciSpecParser;
import org.xenhost.pci.PciAddress;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every refusal names the device and the reason; nothing moves when a request is refused. */
class SafetyChecksTest {
    @TempDir
    Path dir;
    private EmulatedHost host;

    @AfterEach
    void close() {
        if (host != null) {
            host.close();
        }
    }

    @Test
    void anotherIommuGroupMemberInUseByTheHostOrAnotherDomainBlocksTheAttach() throws Exception {
        // asus-p6t6: the two r8169 NICs 07:00.0 and 08:00.0 share IOMMU group 8 (PCH root ports without ACS)
        host = EmulatedHost.of("asus-p6t6", dir);
        HostdevManager m = host.start();
        int one = host.createDomain("guest1", "hvm");
        host.createDomain("guest2", "hvm");
        m.assignableAdd(PciAddress.parse("07:00.0"), null, false);
        DeviceRefusedException host1 = assertThrows(DeviceRefusedException.class,
                () -> m.attach("guest1", PciSpecParser.parse("07:00.0"), false));
        assertTrue(host1.getMessage().contains("0000:07:00.0 shares IOMMU group 8 with 0000:08:00.0, which is in use "
                + "by the host (driver r8169)"), host1.getMessage());

        m.assignableAdd(PciAddress.parse("08:00.0"), null, false);
        m.attach("guest1", PciSpecParser.parse("07:00.0"), false);
        DeviceRefusedException other = assertThrows(DeviceRefusedException.class,
                () -> m.attach("guest2", PciSpecParser.parse("08:00.0"), false));
        assertTrue(other.getMessage().contains("0000:08:00.0 shares IOMMU group 8 with 0000:07:00.0, which is in use "
                + "by domain guest1 (domid " + one + ")"), other.getMessage());
        // the same domain may take the rest of its group
        m.attach("guest1", PciSpecParser.parse("08:00.0"), false);
        host.assertConsistent();
    }

    @Test
    void splittingAMultiFunctionDeviceNeedsSeize() throws Exception {
        // fujitsu-p8010 (no IOMMU): USB 00:1a.0 and 00:1a.1 (uhci_hcd) with 00:1a.7 (ehci-pci) in one device
        host = EmulatedHost.of("fujitsu-p8010", dir);
        HostdevManager m = host.start();
        host.createDomain("pv1", "pv");
        m.assignableAdd(PciAddress.parse("00:1a.0"), null, false);
        DeviceRefusedException split = assertThrows(DeviceRefusedException.class,
                () -> m.attach("pv1", PciSpecParser.parse("00:1a.0"), true));
        assertTrue(split.getMessage().contains("0000:00:1a.0 is one function of a multi-function device whose "
                + "function 0000:00:1a.1 stays with the host (driver uhci_hcd)"), split.getMessage());
        assertTrue(split.getMessage().contains("0000:00:1a.7 stays with the host (driver ehci-pci)"), split.getMessage());
        assertEquals("uhci_hcd", host.driver("0000:00:1a.1"));
        m.attach("pv1", PciSpecParser.parse("00:1a.0,seize=1"), true);
        assertEquals("uhci_hcd", host.driver("0000:00:1a.1"), "seize takes only the function asked for");
        host.assertConsistent();
    }

    @Test
    void noSafeResetIsRefusedUnlessForced() throws Exception {
        // fujitsu-p8010 00:1d.0: UHCI on the root bus, no FLR, no PM capability
        host = EmulatedHost.of("fujitsu-p8010", dir);
        HostdevManager m = host.start();
        host.createDomain("pv1", "pv");
        DeviceRefusedException e = assertThrows(DeviceRefusedException.class,
                () -> m.attach("pv1", PciSpecParser.parse("00:1d.*@3,seize=1"), false));
        assertTrue(e.getMessage().contains("0000:00:1d.0 has no safe reset (no FLR; no PM capability; on a root bus"),
                e.getMessage());
        AttachResult r = m.attach("pv1", PciSpecParser.parse("00:1d.*@3,seize=1"), true);
        assertEquals(ResetMethod.NONE, r.resets().get(0).method());
        host.assertConsistent();
    }

    @Test
    void bridgesAndCardbusBridgesAreNotEndpoints() throws Exception {
        host = EmulatedHost.of("fujitsu-p8010", dir);
        HostdevManager m = host.start();
        host.createDomain("pv1", "pv");
        DeviceRefusedException bridge = assertThrows(DeviceRefusedException.class,
                () -> m.attach("pv1", PciSpecParser.parse("00:1c.0,seize=1"), true));
        assertTrue(bridge.getMessage().contains("0000:00:1c.0 is a bridge"), bridge.getMessage());
        DeviceRefusedException cardbus = assertThrows(DeviceRefusedException.class,
                () -> m.assignableAdd(PciAddress.parse("1c:03.0"), null, false));
        assertTrue(cardbus.getMessage().contains("0000:1c:03.0 is a cardbus"), cardbus.getMessage());
        DeviceRefusedException hostBridge = assertThrows(DeviceRefusedException.class,
                () -> m.assignableAdd(PciAddress.parse("00:00.0"), null, false));
        assertTrue(hostBridge.getMessage().contains("0000:00:00.0 is a host bridge"), hostBridge.getMessage());
        assertEquals("pcieport", host.driver("0000:00:1c.0"));
        assertEquals("agpgart-intel", host.driver("0000:00:00.0"));
        assertTrue(m.ownerships().isEmpty());
    }

    /** asus-p6t6 with a root filesystem on the AHCI controller and the default route on the first r8169. */
    private void hostCriticalLayout() throws Exception {
        Path t = host.tree;
        Path sda2 = Files.createDirectories(t.resolve("sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/"
                + "0:0:0:0/block/sda/sda2"));
        Files.createDirectories(t.resolve("sys/class/block"));
        Files.createSymbolicLink(t.resolve("sys/class/block/sda2"), t.resolve("sys/class/block").relativize(sda2));
        Path eth0 = Files.createDirectories(t.resolve("sys/devices/pci0000:00/0000:00:1c.2/0000:07:00.0/net/eth0"));
        Files.createSymbolicLink(eth0.resolve("device"), Path.of("../../../0000:07:00.0"));
        Files.createDirectories(t.resolve("sys/class/net"));
        Files.createSymbolicLink(t.resolve("sys/class/net/eth0"), t.resolve("sys/class/net").relativize(eth0));
        Files.createDirectories(t.resolve("proc/net"));
        Files.writeString(t.resolve("proc/mounts"), "sysfs /sys sysfs rw 0 0\n/dev/sda2 / ext4 rw,relatime 0 0\n");
        Files.writeString(t.resolve("proc/net/route"), "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\t"
                + "Mask\t\tMTU\tWindow\tIRTT\neth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n");
    }

    @Test
    void theRootFilesystemAndDefaultRouteDevicesAreRefusedUnlessForced() throws Exception {
        host = EmulatedHost.of("asus-p6t6", dir);
        hostCriticalLayout();
        HostdevManager m = host.start();
        DeviceRefusedException root = assertThrows(DeviceRefusedException.class,
                () -> m.assignableAdd(PciAddress.parse("00:1f.2"), null, false));
        assertTrue(root.getMessage().contains("0000:00:1f.2 carries the root filesystem (/dev/sda2 mounted on /)")
                && root.getMessage().contains("--force"), root.getMessage());
        DeviceRefusedException nic = assertThrows(DeviceRefusedException.class,
                () -> m.assignableAdd(PciAddress.parse("07:00.0"), null, false));
        assertTrue(nic.getMessage().contains("0000:07:00.0 carries the default-route network interface eth0"),
                nic.getMessage());
        assertEquals("ahci", host.driver("0000:00:1f.2"));
        assertEquals("r8169", host.driver("0000:07:00.0"));

        Map<PciAddress, DeviceVerdict> v = m.verdicts();
        assertFalse(v.get(PciAddress.parse("07:00.0")).assignable());
        assertTrue(v.get(PciAddress.parse("07:00.0")).reason().contains("default-route"));
        assertTrue(v.get(PciAddress.parse("04:00.0")).assignable(), v.get(PciAddress.parse("04:00.0")).toString());
        assertNull(v.get(PciAddress.parse("04:00.0")).reason());
        assertTrue(v.get(PciAddress.parse("00:1c.0")).reason().contains("bridge"));

        m.assignableAdd(PciAddress.parse("07:00.0"), null, true);
        assertEquals("pciback", host.driver("0000:07:00.0"));
        host.assertConsistent();
    }

    @Test
    void verdictsNameTheOwner() throws Exception {
        host = EmulatedHost.of("asus-p6t6", dir);
        HostdevManager m = host.start();
        host.createDomain("guest1", "hvm");
        m.attach("guest1", PciSpecParser.parse("04:00.0,seize=1"), false);
        DeviceVerdict v = m.verdicts().get(PciAddress.parse("04:00.0"));
        assertFalse(v.assignable());
        assertEquals("guest1", v.owner());
        assertTrue(v.reason().contains("owned by domain guest1"), v.reason());
        // a query reads the journal and sysfs only: it works without a running manager too
        Map<PciAddress, DeviceVerdict> offline = HostdevManager.verdicts(host.tree, host.state, host.critical());
        assertEquals(v, offline.get(PciAddress.parse("04:00.0")));
    }
}
