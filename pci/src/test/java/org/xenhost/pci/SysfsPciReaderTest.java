package org.xenhost.pci;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The reader over small real trees in a temp directory, including the ways a live or hostile sysfs breaks.
 * Every case runs with both file-access implementations (libc through JNA, and the java.nio fallback).
 */
class SysfsPciReaderTest {
    static final PciAddress PF = PciAddress.parse("0000:01:00.0");
    static final PciAddress VF0 = PciAddress.parse("0000:01:10.0");
    static final PciAddress VF1 = PciAddress.parse("0000:01:10.2");
    static final PciAddress ROOT_PORT = PciAddress.parse("0000:00:01.0");
    static final PciAddress HOST = PciAddress.parse("0000:00:00.0");

    @TempDir
    Path tmp;

    /** File by file through libc, the same with io_uring batches even for these few functions, and java.nio. */
    static Stream<SysfsIo> ios() {
        return Stream.of(NativeSysfsIo.load(), NativeSysfsIo.load().batchingAlways(), new JavaSysfsIo());
    }

    static byte[] dumpConfig(String file, String address) {
        return PciDumps.read(PciDumps.dumpDir().resolve(file)).get(PciAddress.parse(address)).config();
    }

    /** Host bridge, a root port, an 82576 PF (cap-pcie-2) behind it with two VFs; IOMMU groups; drivers. */
    TinySysfs sriovHost() {
        TinySysfs t = new TinySysfs(tmp.resolve("host"));
        Map<PciAddress, PciDumps.Entry> asus = PciDumps.read(PciDumps.dumpDir().resolve("tree-asus-p6t6"));
        t.function(HOST, null, asus.get(HOST).config());
        byte[] port = asus.get(PciAddress.parse("0000:00:01.0")).config().clone();
        t.function(ROOT_PORT, null, port);
        byte[] pf = dumpConfig("cap-pcie-2", "0000:01:00.0");
        t.function(PF, ROOT_PORT, pf);
        byte[] vf = Arrays.copyOf(pf, 256);
        vf[2] = (byte) 0xca; // VFs report the SR-IOV capability's VF device ID 10ca
        t.function(VF0, ROOT_PORT, vf);
        t.function(VF1, ROOT_PORT, vf);
        t.driver(PF, "igb").driver(ROOT_PORT, "pcieport").driver(VF0, "igbvf");
        t.iommuGroup(0, HOST).iommuGroup(1, ROOT_PORT, PF).iommuGroup(7, VF0).iommuGroup(8, VF1);
        t.sriov(PF, 8, VF0, VF1).numa(PF, 1).reset(PF, "flr bus");
        TinySysfs.write(t.dir(VF1).resolve("driver_override"), "pciback\n");
        return t;
    }

    static SysfsPciReader reader(Path root, SysfsIo io) {
        return new SysfsPciReader(root, io, SysfsPciReader.ScanHook.NONE);
    }

    static PciDevice find(PciInventory inv, PciAddress a) {
        return inv.devices().stream().filter(d -> d.address().equals(a)).findFirst().orElseThrow();
    }

    @ParameterizedTest
    @MethodSource("ios")
    void readsEveryAttributeOfAHealthyTree(SysfsIo io) {
        TinySysfs t = sriovHost();
        PciInventory inv = reader(t.root(), io).scan();
        assertEquals(List.of(HOST, ROOT_PORT, PF, VF0, VF1), inv.devices().stream().map(PciDevice::address).toList());
        assertTrue(inv.warnings().isEmpty(), inv.warnings().toString());

        PciDevice pf = find(inv, PF);
        assertTrue(pf.warnings().isEmpty(), pf.warnings().toString());
        assertEquals(0x8086, pf.vendor());
        assertEquals(0x10c9, pf.device());
        assertEquals(0x020000, pf.pciClass());
        assertEquals(0x8086, pf.subsystemVendor());
        assertEquals(0xa03c, pf.subsystemDevice());
        assertEquals(0x01, pf.revision());
        assertEquals("igb", pf.driver());
        assertNull(pf.driverOverride());
        assertEquals(1, pf.iommuGroup());
        assertEquals(List.of(ROOT_PORT), pf.iommuGroupPeers());
        assertEquals(1, pf.numaNode());
        assertEquals(List.of(ROOT_PORT), pf.parentBridges());
        assertEquals(8, pf.sriovTotalVfs());
        assertEquals(2, pf.sriovNumVfs());
        assertEquals(List.of(VF0, VF1), pf.virtfns());
        assertNull(pf.physfn());
        assertEquals(PciDevice.SriovRole.PF, pf.sriovRole());
        assertEquals(List.of("flr", "bus"), pf.resetMethods());
        assertTrue(pf.resettable());
        assertTrue(pf.flr());
        assertFalse(pf.acs());
        assertEquals(8, pf.config().srIov().totalVfs());
        assertEquals(ConfigSpace.HeaderType.ENDPOINT, pf.headerType());

        PciDevice vf1 = find(inv, VF1);
        assertEquals(PF, vf1.physfn());
        assertEquals(PciDevice.SriovRole.VF, vf1.sriovRole());
        assertEquals(0x10ca, vf1.device());
        assertNull(vf1.driver());
        assertEquals("pciback", vf1.driverOverride());
        assertEquals(List.of(), vf1.iommuGroupPeers());
        assertNull(vf1.numaNode());
        assertFalse(vf1.resettable());

        PciDevice port = find(inv, ROOT_PORT);
        assertEquals(ConfigSpace.HeaderType.BRIDGE, port.headerType());
        assertEquals(List.of(), port.parentBridges());
        assertEquals(PciDevice.SriovRole.NONE, port.sriovRole());
    }

    @ParameterizedTest
    @MethodSource("ios")
    void deepBridgeChainComesFromTheDevicePath(SysfsIo io) {
        // tree-asus-p6t6: 0000:04:00.0 sits behind 00:1c.? -> 02:00.0 -> 03:xx.0 style switch ports; derive the
        // expectation from bus numbers independently of the reader.
        Map<PciAddress, PciDumps.Entry> asus = PciDumps.read(PciDumps.dumpDir().resolve("tree-asus-p6t6"));
        TinySysfs t = TinySysfs.fromDump(tmp.resolve("asus"), asus);
        PciInventory inv = reader(t.root(), io).scan();
        assertEquals(asus.size(), inv.devices().size());
        int deepest = 0;
        java.util.Set<Integer> behindBridges = new java.util.HashSet<>();
        for (PciDumps.Entry e : asus.values()) {
            ConfigSpace cs = ConfigSpace.parse(e.config());
            if (cs.secondaryBus() != null) {
                for (int b = cs.secondaryBus(); b <= cs.subordinateBus(); b++) {
                    behindBridges.add(b);
                }
            }
        }
        for (PciDevice d : inv.devices()) {
            // Each parent's secondary..subordinate range must contain the bus below it.
            int bus = d.address().bus();
            for (int i = d.parentBridges().size() - 1; i >= 0; i--) {
                ConfigSpace bridge = ConfigSpace.parse(asus.get(d.parentBridges().get(i)).config());
                assertTrue(bridge.secondaryBus() <= bus && bus <= bridge.subordinateBus(), d.address() + " chain " + d.parentBridges());
                bus = d.parentBridges().get(i).bus();
            }
            assertFalse(behindBridges.contains(bus), d.address() + ": chain " + d.parentBridges() + " stops below a bridge");
            deepest = Math.max(deepest, d.parentBridges().size());
        }
        assertTrue(deepest >= 2, "tree-asus-p6t6 has functions behind a switch");
    }

    @ParameterizedTest
    @MethodSource("ios")
    void noIommuGroupsDirectoryWarnsOnEachDevice(SysfsIo io) throws IOException {
        TinySysfs t = sriovHost();
        // IOMMU off: the kernel makes neither the groups nor the per-device links.
        deleteTree(t.root().resolve("sys/kernel"));
        for (PciAddress a : List.of(HOST, ROOT_PORT, PF, VF0, VF1)) {
            Files.delete(t.dir(a).resolve("iommu_group"));
        }
        for (PciDevice d : reader(t.root(), io).scan().devices()) {
            assertNull(d.iommuGroup());
            assertTrue(d.warnings().stream().anyMatch(w -> w.contains("no IOMMU groups")), d.warnings().toString());
        }
    }

    @ParameterizedTest
    @MethodSource("ios")
    void deviceWithoutGroupOnAnIommuHostWarns(SysfsIo io) throws IOException {
        TinySysfs t = sriovHost();
        Files.delete(t.dir(VF1).resolve("iommu_group"));
        PciDevice vf = find(reader(t.root(), io).scan(), VF1);
        assertTrue(vf.warnings().stream().anyMatch(w -> w.contains("not in any IOMMU group")), vf.warnings().toString());
    }

    @ParameterizedTest
    @MethodSource("ios")
    void danglingIommuGroupLinkMeansNoGroup(SysfsIo io) throws IOException {
        TinySysfs t = sriovHost();
        TinySysfs.link(t.dir(VF1).resolve("iommu_group"), t.root().resolve("sys/kernel/iommu_groups/99"));
        SysfsPciReader r = reader(t.root(), io);
        for (PciDevice vf : List.of(find(r.scan(), VF1), r.read(VF1).orElseThrow())) {
            assertNull(vf.iommuGroup());
            assertTrue(vf.warnings().get(0).contains("names group 99"), vf.warnings().toString());
        }
    }

    @ParameterizedTest
    @MethodSource("ios")
    void scanPeersFromLinksEqualSingleReadPeersFromGroupDirectories(SysfsIo io) {
        Map<PciAddress, PciDumps.Entry> asus = PciDumps.read(PciDumps.dumpDir().resolve("tree-asus-p6t6"));
        TinySysfs t = TinySysfs.fromDump(tmp.resolve("asus"), asus);
        // Group functions of one slot together, as many chipsets do.
        Map<Integer, List<PciAddress>> slots = new java.util.TreeMap<>();
        asus.keySet().forEach(a -> slots.computeIfAbsent(a.bus() << 5 | a.device(), k -> new java.util.ArrayList<>()).add(a));
        int g = 0;
        for (List<PciAddress> members : slots.values()) {
            t.iommuGroup(g++, members.toArray(PciAddress[]::new));
        }
        SysfsPciReader r = reader(t.root(), io);
        int withPeers = 0;
        for (PciDevice d : r.scan().devices()) {
            PciDevice single = r.read(d.address()).orElseThrow();
            assertEquals(single.iommuGroup(), d.iommuGroup());
            assertEquals(single.iommuGroupPeers(), d.iommuGroupPeers(), d.address().toString());
            withPeers += d.iommuGroupPeers().isEmpty() ? 0 : 1;
        }
        assertTrue(withPeers >= 10, "tree-asus-p6t6 has multi-function slots");
    }

    @ParameterizedTest
    @MethodSource("ios")
    void busEntryThatIsADirectoryIsReadWithoutBridgeChain(SysfsIo io) throws IOException {
        TinySysfs t = sriovHost();
        Path entry = t.root().resolve("sys/bus/pci/devices").resolve(VF1.toString());
        Files.delete(entry);
        Files.createDirectory(entry);
        Files.copy(t.dir(VF1).resolve("config"), entry.resolve("config"));
        Files.copy(t.dir(VF1).resolve("vendor"), entry.resolve("vendor"));
        PciDevice vf = find(reader(t.root(), io).scan(), VF1);
        assertEquals(0x8086, vf.vendor());
        assertTrue(vf.warnings().get(0).contains("is not a symlink into sys/devices"), vf.warnings().toString());
        assertTrue(vf.warnings().contains("device: unreadable; using the value from config space")
                || vf.warnings().contains("device: missing; using the value from config space"), vf.warnings().toString());
    }

    @ParameterizedTest
    @MethodSource("ios")
    void hotUnplugBetweenEnumerationAndRead(SysfsIo io) {
        TinySysfs t = sriovHost();
        SysfsPciReader r = new SysfsPciReader(t.root(), io, new SysfsPciReader.ScanHook() {
            @Override
            public void afterEnumeration(List<String> names) {
                // What the kernel does on removal: the device directory and its bus link go.
                deleteTree(t.dir(VF0));
                try {
                    Files.delete(t.root().resolve("sys/bus/pci/devices").resolve(VF0.toString()));
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }
        });
        PciInventory inv = r.scan();
        PciDevice gone = find(inv, VF0);
        assertTrue(gone.warnings().stream().anyMatch(w -> w.contains("disappeared while being read")), gone.warnings().toString());
        assertNull(gone.vendor());
        assertTrue(find(inv, VF1).warnings().isEmpty());
        assertEquals(0x10c9, find(inv, PF).device());
    }

    @ParameterizedTest
    @MethodSource("ios")
    void hotUnplugWhileReadingAttributes(SysfsIo io) {
        TinySysfs t = sriovHost();
        SysfsPciReader r = new SysfsPciReader(t.root(), io, new SysfsPciReader.ScanHook() {
            @Override
            public void afterOpen(PciAddress address, String deviceDir) {
                if (address.equals(PF)) {
                    deleteTree(Path.of(deviceDir));
                }
            }
        });
        PciInventory inv = r.scan();
        PciDevice pf = find(inv, PF);
        assertEquals(1, pf.warnings().size(), pf.warnings().toString());
        assertTrue(pf.warnings().get(0).startsWith("device disappeared while being read"));
        assertNull(pf.vendor());
        assertNull(pf.config());
        // VFs are the PF's siblings under the root port, not its children: still there, still readable.
        assertEquals(0x10ca, find(inv, VF0).device());
    }

    @ParameterizedTest
    @MethodSource("ios")
    void directoryWhereAFileIsExpectedFallsBackToConfigSpace(SysfsIo io) throws IOException {
        TinySysfs t = sriovHost();
        Files.delete(t.dir(PF).resolve("vendor"));
        Files.createDirectory(t.dir(PF).resolve("vendor"));
        PciDevice pf = find(reader(t.root(), io).scan(), PF);
        assertEquals(0x8086, pf.vendor());
        assertTrue(pf.warnings().stream().anyMatch(w -> w.startsWith("cannot read vendor: is a directory")), pf.warnings().toString());
        assertTrue(pf.warnings().stream().anyMatch(w -> w.contains("vendor: unreadable; using the value from config space")));
    }

    @ParameterizedTest
    @MethodSource("ios")
    void garbageAttributesWarnAndQuoteTheContent(SysfsIo io) throws IOException {
        TinySysfs t = sriovHost();
        Files.write(t.dir(PF).resolve("class"), new byte[] {(byte) 0xde, (byte) 0xad, 0, 7, 'x'});
        TinySysfs.write(t.dir(PF).resolve("numa_node"), "banana\n");
        TinySysfs.write(t.dir(PF).resolve("sriov_totalvfs"), "0x8\n");
        TinySysfs.write(t.dir(PF).resolve("device"), "0x10c9 trailing\n");
        PciDevice pf = find(reader(t.root(), io).scan(), PF);
        String all = String.join("\n", pf.warnings());
        assertEquals(0x020000, pf.pciClass(), all); // from config space
        assertTrue(all.contains("class: unexpected content '??"), all);
        assertTrue(all.contains("numa_node: unexpected content 'banana'"), all);
        assertNull(pf.numaNode());
        assertTrue(all.contains("sriov_totalvfs: unexpected content '0x8'"), all);
        assertNull(pf.sriovTotalVfs());
        assertTrue(all.contains("device: unexpected content '0x10c9 trailing'"), all);
        assertEquals(0x10c9, pf.device());
    }

    @ParameterizedTest
    @MethodSource("ios")
    void danglingBusLinkIsADisappearedDevice(SysfsIo io) throws IOException {
        TinySysfs t = sriovHost();
        TinySysfs.link(t.root().resolve("sys/bus/pci/devices/0000:05:00.0"), t.root().resolve("sys/devices/pci0000:00/0000:05:00.0"));
        PciDevice d = find(reader(t.root(), io).scan(), PciAddress.parse("05:00.0"));
        assertTrue(d.warnings().get(0).contains("disappeared"), d.warnings().toString());
    }

    @ParameterizedTest
    @MethodSource("ios")
    void symlinkLoopsAreReportedNotFollowedForever(SysfsIo io) throws IOException {
        TinySysfs t = sriovHost();
        // A device directory that is a link to itself, and an attribute that is one.
        Path loopDir = t.root().resolve("sys/devices/pci0000:00/0000:06:00.0");
        Files.createSymbolicLink(loopDir, Path.of("0000:06:00.0"));
        TinySysfs.link(t.root().resolve("sys/bus/pci/devices/0000:06:00.0"), loopDir);
        Files.delete(t.dir(PF).resolve("revision"));
        Files.createSymbolicLink(t.dir(PF).resolve("revision"), Path.of("revision"));
        PciInventory inv = reader(t.root(), io).scan();
        PciDevice loop = find(inv, PciAddress.parse("06:00.0"));
        assertTrue(loop.warnings().get(0).contains("symlink loop"), loop.warnings().toString());
        PciDevice pf = find(inv, PF);
        assertTrue(pf.warnings().stream().anyMatch(w -> w.equals("cannot read revision: symlink loop")), pf.warnings().toString());
        assertEquals(1, pf.revision());
    }

    @ParameterizedTest
    @MethodSource("ios")
    void fifoInPlaceOfAnAttributeDoesNotHang(SysfsIo io) throws Exception {
        TinySysfs t = sriovHost();
        Path fifo = t.dir(PF).resolve("subsystem_device");
        Files.delete(fifo);
        Process p = new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start();
        assertEquals(0, p.waitFor());
        PciDevice pf = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> find(reader(t.root(), io).scan(), PF));
        assertEquals(0xa03c, pf.subsystemDevice()); // from config space
        assertTrue(pf.warnings().stream().anyMatch(w -> w.startsWith("subsystem_device: unexpected content ''")), pf.warnings().toString());
    }

    @ParameterizedTest
    @MethodSource("ios")
    void linksThatPointSomewhereElseAreNotTrusted(SysfsIo io) throws IOException {
        TinySysfs t = sriovHost();
        // A bus entry pointing at the host's real sysfs (absolute link) must not be read through.
        Files.createSymbolicLink(t.root().resolve("sys/bus/pci/devices/0000:07:00.0"), Path.of("/sys/devices/pci0000:00/0000:00:00.0"));
        TinySysfs.link(t.dir(VF1).resolve("iommu_group"), t.root().resolve("sys/bus/pci"));
        TinySysfs.link(t.dir(VF0).resolve("driver"), t.root().resolve("sys/kernel"));
        PciInventory inv = reader(t.root(), io).scan();
        PciDevice outside = find(inv, PciAddress.parse("07:00.0"));
        assertTrue(outside.warnings().get(0).contains("outside"), outside.warnings().toString());
        assertNull(outside.vendor());
        PciDevice vf1 = find(inv, VF1);
        assertNull(vf1.iommuGroup());
        assertTrue(vf1.warnings().get(0).contains("not to kernel/iommu_groups"), vf1.warnings().toString());
        PciDevice vf0 = find(inv, VF0);
        assertNull(vf0.driver());
        assertTrue(vf0.warnings().get(0).contains("not into bus/pci/drivers"), vf0.warnings().toString());
    }

    @ParameterizedTest
    @MethodSource("ios")
    void entriesThatAreNotAddressesAreReportedOnTheInventory(SysfsIo io) throws IOException {
        TinySysfs t = sriovHost();
        Files.createDirectory(t.root().resolve("sys/bus/pci/devices/not-a-device"));
        Files.createSymbolicLink(t.root().resolve("sys/bus/pci/devices/01:00.0"), t.dir(PF));
        PciInventory inv = reader(t.root(), io).scan();
        assertEquals(5, inv.devices().size());
        assertEquals(2, inv.warnings().size(), inv.warnings().toString());
        assertTrue(inv.warnings().stream().allMatch(w -> w.contains("not a PCI address")));
    }

    @ParameterizedTest
    @MethodSource("ios")
    void shortConfigDegradesWithOneWarning(SysfsIo io) throws IOException {
        TinySysfs t = sriovHost();
        byte[] cfg = Files.readAllBytes(t.dir(PF).resolve("config"));
        Files.write(t.dir(PF).resolve("config"), Arrays.copyOf(cfg, 64));
        PciDevice pf = find(reader(t.root(), io).scan(), PF);
        assertEquals(List.of("config: only 64 bytes readable (not root?); capabilities, FLR and ACS unknown"), pf.warnings());
        assertTrue(pf.config().truncated());
        assertFalse(pf.flr());
        assertEquals(8, pf.sriovTotalVfs()); // sysfs still knows
    }

    @ParameterizedTest
    @MethodSource("ios")
    void readsOneDeviceOrNothing(SysfsIo io) {
        TinySysfs t = sriovHost();
        SysfsPciReader r = reader(t.root(), io);
        assertEquals(PF, r.read(PF).orElseThrow().address());
        assertTrue(r.read(PciAddress.parse("0000:09:00.0")).isEmpty());
    }

    @Test
    void refusesARootThatIsNotSysfs() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new SysfsPciReader(tmp));
        assertTrue(e.getMessage().contains("is not a sysfs root"), e.getMessage());
        assertTrue(e.getMessage().contains("sys/bus/pci/devices"), e.getMessage());
        assertTrue(e.getMessage().contains(tmp.toString()), e.getMessage());
    }

    @Test
    void nativeAndJavaIoReadTheHostAlike() {
        // The real /sys: both implementations must see the same inventory.
        PciInventory a = reader(Path.of("/"), NativeSysfsIo.load()).scan();
        PciInventory b = reader(Path.of("/"), new JavaSysfsIo()).scan();
        assertFalse(a.devices().isEmpty(), "this machine has PCI functions");
        assertEquals(a.devices().size(), b.devices().size());
        for (int i = 0; i < a.devices().size(); i++) {
            PciDevice x = a.devices().get(i);
            PciDevice y = b.devices().get(i);
            assertEquals(x.address(), y.address());
            assertEquals(x.vendor(), y.vendor());
            assertEquals(x.pciClass(), y.pciClass());
            assertEquals(x.driver(), y.driver());
            assertEquals(x.config().capabilities(), y.config().capabilities());
        }
    }

    @ParameterizedTest
    @MethodSource("ios")
    void identityFromUeventEqualsTheAttributeFiles(SysfsIo io) {
        // The same desktop with and without uevent files: every field, warning and decoded config must agree.
        Map<PciAddress, PciDumps.Entry> asus = PciDumps.read(PciDumps.dumpDir().resolve("tree-asus-p6t6"));
        TinySysfs plain = TinySysfs.fromDump(tmp.resolve("plain"), asus);
        TinySysfs fast = TinySysfs.fromDump(tmp.resolve("fast"), asus).uevents();
        assertTrue(Files.exists(fast.dir(HOST).resolve("uevent")));
        // Tell the paths apart: a uevent that disagrees with the files wins where it is well-formed.
        TinySysfs.write(fast.dir(HOST).resolve("vendor"), "0x1234\n");
        List<PciDevice> a = withoutRoot(reader(plain.root(), io).scan().devices(), plain.root());
        List<PciDevice> b = withoutRoot(reader(fast.root(), io).scan().devices(), fast.root());
        assertEquals(53, b.size());
        assertEquals(a, b);
        for (PciDevice d : b) {
            assertTrue(d.vendor() != null && d.pciClass() != null && d.subsystemVendor() != null && d.revision() != null);
        }
        assertTrue(b.stream().anyMatch(d -> d.subsystemVendor() != 0), "the dump has subsystem IDs");
    }

    /** The devices with their warnings' mentions of the tree's location taken out, to compare two trees. */
    private static List<PciDevice> withoutRoot(List<PciDevice> devices, Path root) {
        return devices.stream().map(d -> new PciDevice(d.address(), d.vendor(), d.device(), d.pciClass(),
                d.subsystemVendor(), d.subsystemDevice(), d.revision(), d.driver(), d.driverOverride(), d.iommuGroup(),
                d.iommuGroupPeers(), d.numaNode(), d.parentBridges(), d.sriovTotalVfs(), d.sriovNumVfs(), d.virtfns(),
                d.physfn(), d.resetMethods(), d.resettable(), d.config(),
                d.warnings().stream().map(w -> w.replace(root.toString(), "ROOT")).toList())).toList();
    }

    @ParameterizedTest
    @MethodSource("ios")
    void malformedUeventFallsBackToTheAttributeFiles(SysfsIo io) throws IOException {
        TinySysfs t = sriovHost().uevents();
        String good = Files.readString(t.dir(PF).resolve("uevent"));
        List<String> bad = List.of("", "PCI_CLASS=20000\nPCI_ID=8086:10C9\n", good.replace("PCI_ID=8086:10C9", "PCI_ID=8086:10C9X"),
                good.replace("PCI_SUBSYS_ID=8086:A03C", "PCI_SUBSYS_ID=8086-A03C"), good.replace("PCI_CLASS=20000", "PCI_CLASS=1020000"),
                good.replace("PCI_CLASS=20000", "PCI_CLASS=2000g"), "garbage\u0000\u00ff");
        TinySysfs.write(t.dir(PF).resolve("device"), "0x10c8\n"); // only the attribute file says 10c8
        for (String content : bad) {
            Files.write(t.dir(PF).resolve("uevent"), content.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
            PciDevice pf = find(reader(t.root(), io).scan(), PF);
            assertEquals(0x10c8, pf.device(), content);
            assertEquals(0x8086, pf.vendor());
            assertEquals(0x020000, pf.pciClass());
            assertEquals(0xa03c, pf.subsystemDevice());
            assertTrue(pf.warnings().isEmpty(), pf.warnings().toString());
        }
        Files.writeString(t.dir(PF).resolve("uevent"), good);
        assertEquals(0x10c9, find(reader(t.root(), io).scan(), PF).device()); // well-formed: uevent is used
    }

    @ParameterizedTest
    @MethodSource("ios")
    void parallelScanEqualsSingleThreadedScan(SysfsIo io) {
        // 10 root ports x (PF + 30 VFs) = 320 functions: enough blocks for several workers.
        TinySysfs t = TinySysfs.sriovHeavy(tmp.resolve("heavy"), 10).uevents();
        PciInventory one = new SysfsPciReader(t.root(), io, SysfsPciReader.ScanHook.NONE, 1).scan();
        PciInventory four = new SysfsPciReader(t.root(), io, SysfsPciReader.ScanHook.NONE, 4).scan();
        assertEquals(320, one.devices().size());
        assertEquals(one, four);
        assertEquals(30, find(four, PciAddress.parse("0000:05:00.0")).virtfns().size());
        assertEquals(List.of(), find(four, PciAddress.parse("0000:05:01.0")).iommuGroupPeers());
    }

    @Test
    void batchedScanEqualsFileByFileScan() {
        // Real dump configs (PCIe and conventional, so both config rounds run) plus an SR-IOV-heavy tree.
        TinySysfs asus = TinySysfs.fromDump(tmp.resolve("asus"),
                PciDumps.read(PciDumps.dumpDir().resolve("tree-asus-p6t6"))).uevents();
        TinySysfs heavy = TinySysfs.sriovHeavy(tmp.resolve("heavy"), 10).uevents();
        NativeSysfsIo batching = NativeSysfsIo.load().batchingAlways();
        try (SysfsIo.Batch b = batching.batch(new String[] {"config"}, 1)) {
            // Linux >= 5.17 with io_uring enabled, as on every machine this project builds on: else this compares
            // file by file with itself and proves nothing.
            assertNotNull(b, "io_uring is unavailable (kernel.io_uring_disabled, seccomp or Linux < 5.17)");
        }
        for (TinySysfs t : List.of(asus, heavy)) {
            PciInventory fileByFile = new SysfsPciReader(t.root(), NativeSysfsIo.load(), SysfsPciReader.ScanHook.NONE, 1).scan();
            PciInventory batched = new SysfsPciReader(t.root(), batching, SysfsPciReader.ScanHook.NONE, 1).scan();
            assertEquals(fileByFile, batched);
            assertEquals(new SysfsPciReader(t.root(), new JavaSysfsIo(), SysfsPciReader.ScanHook.NONE, 1).scan(), batched);
        }
    }

    @ParameterizedTest
    @MethodSource("ios")
    void derivedDriverAndPhysfnEqualTheLinks(SysfsIo io) throws IOException {
        // A scan takes the driver from uevent's DRIVER= line and a VF's physfn from its PF's virtfn links; the
        // links themselves are the oracle: every captured host tree, and an SR-IOV-heavy one with uevent files.
        List<Path> roots = new java.util.ArrayList<>();
        try (Stream<Path> s = Files.list(PciDumps.repoRoot().resolve("fixtures/sysfs"))) {
            s.sorted().forEach(roots::add);
        }
        roots.add(TinySysfs.sriovHeavy(tmp.resolve("heavy"), 3).uevents().root());
        int drivers = 0;
        int vfs = 0;
        for (Path root : roots) {
            PciInventory inv = reader(root, io).scan();
            assertFalse(inv.devices().isEmpty(), root.toString());
            for (PciDevice d : inv.devices()) {
                Path dir = root.resolve("sys/bus/pci/devices").resolve(d.address().toString());
                String at = root + " " + d.address();
                Path driver = dir.resolve("driver");
                assertEquals(Files.isSymbolicLink(driver) ? Files.readSymbolicLink(driver).getFileName().toString() : null,
                        d.driver(), at);
                Path physfn = dir.resolve("physfn");
                assertEquals(Files.isSymbolicLink(physfn)
                        ? PciAddress.parse(Files.readSymbolicLink(physfn).getFileName().toString()) : null, d.physfn(), at);
                drivers += d.driver() != null ? 1 : 0;
                vfs += d.physfn() != null ? 1 : 0;
            }
        }
        assertTrue(drivers > 70 && vfs > 90, drivers + " drivers, " + vfs + " VFs: the comparison must really run");
    }

    @ParameterizedTest
    @MethodSource("ios")
    void physfnOfAVfThatNoPfListsComesFromItsOwnLink(SysfsIo io) throws IOException {
        TinySysfs t = sriovHost();
        Files.delete(t.dir(PF).resolve("virtfn1")); // not a kernel's tree: the VF's own link still decides
        TinySysfs.link(t.dir(VF0).resolve("physfn"), t.root().resolve("sys/kernel")); // listed by the PF: not read
        TinySysfs.link(t.dir(ROOT_PORT).resolve("physfn"), t.root().resolve("sys/kernel")); // listed by none: read
        PciInventory inv = reader(t.root(), io).scan();
        assertEquals(PF, find(inv, VF1).physfn());
        assertEquals(PF, find(inv, VF0).physfn());
        PciDevice port = find(inv, ROOT_PORT);
        assertNull(port.physfn());
        assertTrue(port.warnings().stream().anyMatch(w -> w.startsWith("physfn link points to")), port.warnings().toString());
        assertTrue(find(inv, PF).warnings().contains("sriov_numvfs is 2 but 1 virtfn links exist"), find(inv, PF).warnings().toString());
        // One function read alone has no PF's links to go by: its own link.
        assertNull(reader(t.root(), io).read(VF0).orElseThrow().physfn());
    }

    @ParameterizedTest
    @MethodSource("ios")
    void driverComesFromUeventWhenItNamesOneElseFromTheLink(SysfsIo io) throws IOException {
        TinySysfs t = sriovHost().uevents();
        // The kernel writes DRIVER= exactly while the driver link exists; a tree that disagrees shows which was read.
        Files.delete(t.dir(PF).resolve("driver"));
        String vf0 = Files.readString(t.dir(VF0).resolve("uevent"));
        assertTrue(vf0.startsWith("DRIVER=igbvf\n"), vf0);
        Files.writeString(t.dir(VF0).resolve("uevent"), vf0.replace("DRIVER=igbvf\n", "DRIVER=a/b\n"));
        TinySysfs.link(t.dir(VF1).resolve("driver"), t.root().resolve("sys/bus/pci/drivers/pciback"));
        PciInventory inv = reader(t.root(), io).scan();
        assertEquals("igb", find(inv, PF).driver()); // DRIVER=igb, no link
        assertEquals("igbvf", find(inv, VF0).driver()); // not a driver's name: the link
        assertEquals("pciback", find(inv, VF1).driver()); // no DRIVER= line: the link
        assertNull(find(inv, HOST).driver());
    }

    @Test
    void negativeThreadCountIsRefused() {
        TinySysfs t = sriovHost();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new SysfsPciReader(t.root(), -1));
        assertTrue(e.getMessage().contains("-1"), e.getMessage());
    }

    @ParameterizedTest
    @MethodSource("ios")
    void sriovFilesAreReadWhereConfigCannotRuleThemOut(SysfsIo io) throws IOException {
        TinySysfs t = sriovHost();
        // A root port (PCIe, no SR-IOV capability) with sriov_totalvfs: a kernel never makes one, so it is not read.
        TinySysfs.write(t.dir(ROOT_PORT).resolve("sriov_totalvfs"), "4\n");
        assertNull(find(reader(t.root(), io).scan(), ROOT_PORT).sriovTotalVfs());
        // Unless config space is incomplete (an unprivileged 64-byte read): then sysfs is asked.
        byte[] cfg = Files.readAllBytes(t.dir(ROOT_PORT).resolve("config"));
        Files.write(t.dir(ROOT_PORT).resolve("config"), Arrays.copyOf(cfg, 64));
        assertEquals(4, find(reader(t.root(), io).scan(), ROOT_PORT).sriovTotalVfs());
    }

    static void deleteTree(Path p) {
        if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            s.sorted(Comparator.reverseOrder()).forEach(x -> {
                try {
                    Files.delete(x);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
