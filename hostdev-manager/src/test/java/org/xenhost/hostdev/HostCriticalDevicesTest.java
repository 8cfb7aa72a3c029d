package org.xenhost.hostdev;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenhost.pci.PciAddress;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Root-filesystem and default-route detection over sysfs laid out as the kernel does it. */
class HostCriticalDevicesTest {
    @TempDir
    Path root;

    private static final String SATA = "sys/devices/pci0000:00/0000:00:1f.2";
    private static final String NIC_PORT = "sys/devices/pci0000:00/0000:00:1c.0";
    private static final String NIC = NIC_PORT + "/0000:02:00.0";
    private static final String NVME = "sys/devices/pci0000:80/0000:80:01.0/0000:81:00.0";

    /** sda with partition sda2 under the SATA controller; eth0 under a NIC behind a root port; nvme on a 2nd root. */
    private void layout() throws IOException {
        Path sda = mkdir(SATA + "/ata1/host0/target0:0:0/0:0:0:0/block/sda");
        mkdir(SATA + "/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda2");
        link("sys/class/block/sda", sda);
        link("sys/class/block/sda2", sda.resolve("sda2"));
        Path eth0 = mkdir(NIC + "/net/eth0");
        link("sys/class/net/eth0", eth0);
        Files.createSymbolicLink(eth0.resolve("device"), Path.of("../../../0000:02:00.0"));
        Path nvme = mkdir(NVME + "/nvme/nvme0/nvme0n1");
        mkdir(NVME + "/nvme/nvme0/nvme0n1/nvme0n1p3");
        link("sys/class/block/nvme0n1p3", nvme.resolve("nvme0n1p3"));
        Path dm = mkdir("sys/devices/virtual/block/dm-0");
        mkdir("sys/devices/virtual/block/dm-0/dm");
        Files.writeString(dm.resolve("dm/name"), "vg-root\n");
        mkdir("sys/devices/virtual/block/dm-0/slaves");
        Files.createSymbolicLink(dm.resolve("slaves/nvme0n1p3"),
                dm.resolve("slaves").relativize(nvme.resolve("nvme0n1p3")));
        link("sys/class/block/dm-0", dm);
        Path bond = mkdir("sys/devices/virtual/net/bond0");
        link("sys/class/net/bond0", bond);
        Files.createSymbolicLink(bond.resolve("lower_eth0"), bond.relativize(eth0));
    }

    private Path mkdir(String rel) throws IOException {
        return Files.createDirectories(root.resolve(rel));
    }

    private void link(String rel, Path target) throws IOException {
        Path l = root.resolve(rel);
        Files.createDirectories(l.getParent());
        Files.createSymbolicLink(l, l.getParent().relativize(target));
    }

    private Map<PciAddress, String> find(String mounts, String routes, String routes6) throws IOException {
        Path m = Files.writeString(root.resolve("mounts"), mounts);
        Path r = Files.writeString(root.resolve("route"), routes);
        Path r6 = Files.writeString(root.resolve("ipv6_route"), routes6);
        return new HostCriticalDevices(new HostCriticalDevices.Sources(root, m, r, r6)).find();
    }

    private static final String ROUTE_HEADER =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";

    @Test
    void rootPartitionAndDefaultRouteNicAreFound() throws IOException {
        layout();
        Map<PciAddress, String> found = find(
                "proc /proc proc rw 0 0\n/dev/sda2 / ext4 rw,relatime 0 0\ntmpfs /run tmpfs rw 0 0\n",
                ROUTE_HEADER + "eth0\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
                        + "eth0\t0002A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n", "");
        assertTrue(found.get(PciAddress.parse("0000:00:1f.2")).contains("root filesystem (/dev/sda2"), found.toString());
        assertTrue(found.get(PciAddress.parse("0000:02:00.0")).contains("default-route network interface eth0"),
                found.toString());
        // the root port above the NIC is on the path too (it is a bridge, refused anyway)
        assertEquals(3, found.size(), found.toString());
    }

    @Test
    void deviceMapperRootIsFollowedThroughItsSlavesToAnotherRootBus() throws IOException {
        layout();
        Map<PciAddress, String> found = find("/dev/mapper/vg-root / xfs rw 0 0\n", ROUTE_HEADER, "");
        assertTrue(found.get(PciAddress.parse("0000:81:00.0")).contains("/dev/mapper/vg-root"), found.toString());
        assertTrue(found.containsKey(PciAddress.parse("0000:80:01.0")));
        assertEquals(2, found.size(), found.toString());
    }

    @Test
    void bondedDefaultRouteIsFollowedToItsPortsAndIpv6CountsToo() throws IOException {
        layout();
        Map<PciAddress, String> found = find("overlay / overlay rw 0 0\n", ROUTE_HEADER,
                "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
                        + "fe800000000000000000000000000001 00000400 00000001 00000000 00000003 bond0\n");
        assertTrue(found.get(PciAddress.parse("0000:02:00.0")).contains("bond0"), found.toString());
        assertEquals(2, found.size(), found.toString());
    }

    @Test
    void aRouteThatIsDownOrNotDefaultAndAnUnknownRootDeviceFindNothing() throws IOException {
        layout();
        Map<PciAddress, String> found = find("/dev/root / ext4 rw 0 0\n",
                ROUTE_HEADER + "eth0\t00000000\t0102A8C0\t0002\t0\t0\t100\t00000000\t0\t0\t0\n"
                        + "eth0\t0002A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n", "");
        assertTrue(found.isEmpty(), found.toString());
    }
}
