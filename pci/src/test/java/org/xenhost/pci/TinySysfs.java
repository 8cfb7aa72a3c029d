package org.xenhost.pci;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Builds small sysfs trees in a temp directory, laid out as the kernel does (and as layout-contract.md fixes for
 * fixtures/sysfs): device directories nested under their bridges in sys/devices/pciDDDD:BB, relative links from
 * sys/bus/pci/devices, drivers, IOMMU groups, SR-IOV links. For tests only; the fixture trees proper are built by
 * the fixtures module's generator.
 */
public final class TinySysfs {
    private final Path root;
    private final Map<PciAddress, Path> dirs = new HashMap<>();

    public TinySysfs(Path root) {
        this.root = root;
        mkdirs(root.resolve("sys/bus/pci/devices"));
        mkdirs(root.resolve("sys/bus/pci/drivers"));
    }

    public Path root() {
        return root;
    }

    /** The function's real directory under sys/devices. */
    public Path dir(PciAddress a) {
        return dirs.get(a);
    }

    /**
     * An SR-IOV heavy host for ad-hoc timing (jmh/README.md): {@code rootPorts} X58 root ports (tree-asus-p6t6), each
     * with one 82576 PF (cap-pcie-2) and 30 VFs, drivers bound, every function in its own IOMMU group; 32 functions
     * per port. {@code mvn -q -pl pci test-compile exec:java -Dexec.classpathScope=test -Dexec.mainClass=org.xenhost.pci.TinySysfs
     * -Dexec.args="/tmp/bigtree 125"} builds the 4,000-function tree used there.
     */
    public static TinySysfs sriovHeavy(Path root, int rootPorts) {
        TinySysfs t = new TinySysfs(root);
        byte[] pf = PciDumps.read(PciDumps.dumpDir().resolve("cap-pcie-2")).values().iterator().next().config();
        byte[] port = PciDumps.read(PciDumps.dumpDir().resolve("tree-asus-p6t6")).get(PciAddress.parse("00:01.0")).config();
        byte[] vfConfig = java.util.Arrays.copyOf(pf, pf.length);
        vfConfig[2] = (byte) 0xca;
        int group = 0;
        for (int bus = 1; bus <= rootPorts; bus++) {
            PciAddress rp = new PciAddress(0, 0, bus % 32, bus / 32);
            t.function(rp, null, port);
            t.driver(rp, "pcieport").iommuGroup(group++, rp);
            PciAddress p = new PciAddress(0, bus, 0, 0);
            t.function(p, rp, pf);
            t.driver(p, "igb").iommuGroup(group++, p);
            PciAddress[] vfs = new PciAddress[30];
            for (int i = 0; i < vfs.length; i++) {
                vfs[i] = new PciAddress(0, bus, 1 + i / 8, i % 8);
                t.function(vfs[i], rp, vfConfig);
                t.driver(vfs[i], "igbvf").iommuGroup(group++, vfs[i]);
            }
            t.sriov(p, 30, vfs).reset(p, "flr bus");
        }
        return t;
    }

    /** {@code TinySysfs DIR [ROOT_PORTS]}: writes {@link #sriovHeavy} (default 125 ports = 4,000 functions). */
    public static void main(String[] args) {
        if (args.length < 1 || Files.exists(Path.of(args[0]))) {
            System.err.println("usage: TinySysfs NEW_DIR [ROOT_PORTS (default 125)]; NEW_DIR must not exist");
            System.exit(2);
        }
        sriovHeavy(Path.of(args[0]), args.length > 1 ? Integer.parseInt(args[1]) : 125);
    }

    /** Builds every function of a pciutils dump, nesting each behind the bridge whose secondary bus it is on. */
    public static TinySysfs fromDump(Path root, Map<PciAddress, PciDumps.Entry> dump) {
        TinySysfs t = new TinySysfs(root);
        Map<Integer, PciAddress> bridgeFor = new HashMap<>();
        dump.values().stream().sorted((x, y) -> x.address().compareTo(y.address())).forEach(e -> {
            ConfigSpace cs = ConfigSpace.parse(e.config());
            PciAddress parent = bridgeFor.get(e.address().domain() << 8 | e.address().bus());
            t.function(e.address(), parent, e.config());
            if (cs.secondaryBus() != null && cs.secondaryBus() > e.address().bus()) {
                bridgeFor.putIfAbsent(e.address().domain() << 8 | cs.secondaryBus(), e.address());
            }
        });
        return t;
    }

    /** Adds a function with the attributes the kernel derives from its config space. */
    public Path function(PciAddress a, PciAddress parent, byte[] config) {
        Path dir = parent == null
                ? root.resolve(String.format("sys/devices/pci%04x:%02x", a.domain(), a.bus())).resolve(a.toString())
                : dirs.get(parent).resolve(a.toString());
        mkdirs(dir);
        dirs.put(a, dir);
        int vendor = u16(config, 0);
        int device = u16(config, 2);
        int cls = u8(config, 0x0b) << 16 | u8(config, 0x0a) << 8 | u8(config, 0x09);
        int sv = 0;
        int sd = 0;
        int type = config.length > 0x0e ? u8(config, 0x0e) & 0x7f : 0;
        if (type == 0 && config.length >= 0x30) {
            sv = u16(config, 0x2c);
            sd = u16(config, 0x2e);
        } else {
            // Bridges: the kernel takes subsystem IDs from the Bridge Subsystem Vendor ID capability.
            ConfigSpace.Capability ssvid = ConfigSpace.parse(config).standardCapability(0x0d);
            if (ssvid != null) {
                sv = u16(config, ssvid.offset() + 4);
                sd = u16(config, ssvid.offset() + 6);
            }
        }
        write(dir.resolve("vendor"), String.format("0x%04x%n", vendor));
        write(dir.resolve("device"), String.format("0x%04x%n", device));
        write(dir.resolve("class"), String.format("0x%06x%n", cls));
        write(dir.resolve("revision"), String.format("0x%02x%n", u8(config, 8)));
        write(dir.resolve("subsystem_vendor"), String.format("0x%04x%n", sv));
        write(dir.resolve("subsystem_device"), String.format("0x%04x%n", sd));
        write(dir.resolve("numa_node"), "-1\n");
        write(dir.resolve("driver_override"), "(null)\n");
        write(dir.resolve("irq"), "0\n");
        write(dir.resolve("enable"), "1\n");
        write(dir.resolve("resource"), "0x0000000000000000 0x0000000000000000 0x0000000000000000\n".repeat(7));
        try {
            Files.write(dir.resolve("config"), config);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        link(dir.resolve("subsystem"), root.resolve("sys/bus/pci"));
        link(root.resolve("sys/bus/pci/devices").resolve(a.toString()), dir);
        return dir;
    }

    public TinySysfs driver(PciAddress a, String name) {
        Path d = root.resolve("sys/bus/pci/drivers").resolve(name);
        mkdirs(d);
        for (String f : new String[] {"bind", "unbind", "new_id", "remove_id", "uevent"}) {
            if (!Files.exists(d.resolve(f))) {
                write(d.resolve(f), "");
            }
        }
        link(d.resolve(a.toString()), dirs.get(a));
        link(dirs.get(a).resolve("driver"), d);
        return this;
    }

    public TinySysfs iommuGroup(int group, PciAddress... members) {
        Path g = root.resolve("sys/kernel/iommu_groups").resolve(Integer.toString(group));
        mkdirs(g.resolve("devices"));
        write(g.resolve("type"), "DMA\n");
        for (PciAddress a : members) {
            link(g.resolve("devices").resolve(a.toString()), dirs.get(a));
            link(dirs.get(a).resolve("iommu_group"), g);
        }
        return this;
    }

    /** An empty sys/kernel/iommu_groups: IOMMU on, no groups yet. */
    public TinySysfs iommuEnabled() {
        mkdirs(root.resolve("sys/kernel/iommu_groups"));
        return this;
    }

    public TinySysfs numa(PciAddress a, int node) {
        write(dirs.get(a).resolve("numa_node"), node + "\n");
        return this;
    }

    public TinySysfs sriov(PciAddress pf, int totalVfs, PciAddress... vfs) {
        write(dirs.get(pf).resolve("sriov_totalvfs"), totalVfs + "\n");
        write(dirs.get(pf).resolve("sriov_numvfs"), vfs.length + "\n");
        for (int i = 0; i < vfs.length; i++) {
            link(dirs.get(pf).resolve("virtfn" + i), dirs.get(vfs[i]));
            link(dirs.get(vfs[i]).resolve("physfn"), dirs.get(pf));
        }
        return this;
    }

    public TinySysfs reset(PciAddress a, String methods) {
        write(dirs.get(a).resolve("reset"), "");
        write(dirs.get(a).resolve("reset_method"), methods + "\n");
        return this;
    }

    /**
     * Writes each function's {@code uevent} as the kernel's {@code pci_uevent()} does (from the identity attributes
     * already in the tree), so the reader takes its fast path. Without this call a tree has no device uevent files
     * and the reader falls back to the separate attribute files.
     */
    public TinySysfs uevents() {
        for (var e : dirs.entrySet()) {
            Path d = e.getValue();
            String driver = Files.isSymbolicLink(d.resolve("driver"))
                    ? "DRIVER=" + readLink(d.resolve("driver")).getFileName() + "\n" : "";
            write(d.resolve("uevent"), driver
                    + String.format("PCI_CLASS=%X%nPCI_ID=%04X:%04X%nPCI_SUBSYS_ID=%04X:%04X%nPCI_SLOT_NAME=%s%n",
                    attr(d, "class"), attr(d, "vendor"), attr(d, "device"), attr(d, "subsystem_vendor"),
                    attr(d, "subsystem_device"), e.getKey()));
        }
        return this;
    }

    private static int attr(Path dir, String name) {
        try {
            return Integer.decode(Files.readString(dir.resolve(name)).strip());
        } catch (IOException ex) {
            throw new UncheckedIOException(ex);
        }
    }

    private static Path readLink(Path p) {
        try {
            return Files.readSymbolicLink(p);
        } catch (IOException ex) {
            throw new UncheckedIOException(ex);
        }
    }

    /** Relative symlink {@code at -> target}, as the kernel makes them. */
    public static void link(Path at, Path target) {
        try {
            Files.deleteIfExists(at);
            Files.createSymbolicLink(at, at.getParent().relativize(target));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static void write(Path p, String text) {
        try {
            Files.writeString(p, text, StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void mkdirs(Path p) {
        try {
            Files.createDirectories(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int u8(byte[] c, int at) {
        return at < c.length ? c[at] & 0xff : 0;
    }

    private static int u16(byte[] c, int at) {
        return u8(c, at) | u8(c, at + 1) << 8;
    }
}
