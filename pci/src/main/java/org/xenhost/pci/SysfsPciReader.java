package org.xenhost.pci;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

import static org.xenhost.pci.SysfsText.basename;
import static org.xenhost.pci.SysfsText.decimal;
import static org.xenhost.pci.SysfsText.hex;
import static org.xenhost.pci.SysfsText.parent;
import static org.xenhost.pci.SysfsText.printable;
import static org.xenhost.pci.SysfsText.resolve;

/**
 * Reads the host's PCI functions from a sysfs root: {@code <root>/sys/bus/pci/devices/*} and the kernel objects
 * they link to ({@code sys/devices/pci…}, {@code sys/kernel/iommu_groups}, {@code sys/bus/pci/drivers}).
 * The root is {@code /} on a real host and a fixture directory in tests; nothing outside it is read.
 *
 * <p>Sysfs is live: a function can vanish between listing and reading (hot-unplug, VFs disabled), and a fixture
 * can hold anything. Such trouble becomes a warning on the function concerned; a scan never throws for content.
 *
 * <p>Cost per function is kept to system calls that cannot be avoided: the device directory is opened once and
 * each attribute is read by name with one {@code read}; optional attributes are simply tried (a missing file is a
 * return code, not an exception); the bridge chain comes from the bus link's text, not from a realpath; during a
 * {@link #scan()} IOMMU group peers come from the functions' own {@code iommu_group} links, not from listing groups.
 *
 * <p>Instances are immutable and thread-safe; each scan carries its own buffers.
 */
public final class SysfsPciReader {
    private final Path root;
    private final String devicesDir;
    private final String sysDevicesPrefix;
    private final String iommuGroupsDir;
    private final SysfsIo io;
    private final ScanHook hook;

    /**
     * Test seam: runs between the steps of a scan, so a test can remove or alter a device deterministically at
     * the moment a real hot-unplug would race with the reader.
     */
    interface ScanHook {
        ScanHook NONE = new ScanHook() {
        };

        /** After {@code sys/bus/pci/devices} has been listed, before any device is read. */
        default void afterEnumeration(List<String> names) {
        }

        /** After the device directory has been opened, before its attributes are read. */
        default void afterOpen(PciAddress address, String deviceDir) {
        }
    }

    /**
     * A reader over {@code root}.
     *
     * @throws IllegalArgumentException if {@code root} has no {@code sys/bus/pci/devices} directory
     */
    public SysfsPciReader(Path root) {
        this(root, SysfsIo.best(), ScanHook.NONE);
    }

    /** Reader over the host's own sysfs ({@code /}). */
    public static SysfsPciReader ofHost() {
        return new SysfsPciReader(Path.of("/"));
    }

    SysfsPciReader(Path root, SysfsIo io, ScanHook hook) {
        Path abs = root.toAbsolutePath().normalize();
        Path devices = abs.resolve("sys/bus/pci/devices");
        if (!Files.isDirectory(devices)) {
            throw new IllegalArgumentException("'" + root + "' is not a sysfs root: expected a directory containing "
                    + "sys/bus/pci/devices (such as / or fixtures/sysfs/<host>), but " + devices + " is not a directory");
        }
        String prefix = abs.toString().equals("/") ? "" : abs.toString();
        this.root = abs;
        this.devicesDir = prefix + "/sys/bus/pci/devices";
        this.sysDevicesPrefix = prefix + "/sys/devices/";
        this.iommuGroupsDir = prefix + "/sys/kernel/iommu_groups";
        this.io = io;
        this.hook = hook;
    }

    /** The sysfs root this reader reads below. */
    public Path root() {
        return root;
    }

    /** Reads every function, in address order. */
    public PciInventory scan() {
        String[] names = io.list(devicesDir);
        if (names == null) {
            return new PciInventory(List.of(), List.of("cannot list " + devicesDir + ": " + SysfsIo.describe(io.lastError())));
        }
        hook.afterEnumeration(List.of(names));
        List<String> warnings = new ArrayList<>();
        TreeMap<PciAddress, String> byAddress = new TreeMap<>();
        for (String name : names) {
            PciAddress a = PciAddress.parseOrNull(name);
            // The kernel always names entries DDDD:BB:DD.F; a short form would be a different file for the same device.
            if (a == null || !a.toString().equals(name)) {
                warnings.add("ignored " + devicesDir + "/" + name + ": not a PCI address (expected DDDD:BB:DD.F)");
            } else {
                byAddress.put(a, name);
            }
        }
        Scan scan = new Scan(false);
        List<PciDevice> devices = new ArrayList<>(byAddress.size());
        Map<Integer, List<PciAddress>> groups = new HashMap<>();
        byAddress.forEach((a, name) -> {
            PciDevice d = scan.read(a, name);
            devices.add(d);
            if (d.iommuGroup() != null) {
                groups.computeIfAbsent(d.iommuGroup(), g -> new ArrayList<>(2)).add(a);
            }
        });
        // Peers from the functions' own links: the same membership the group directories list, without listing them.
        for (int i = 0; i < devices.size(); i++) {
            PciDevice d = devices.get(i);
            if (d.iommuGroup() != null) {
                List<PciAddress> members = groups.get(d.iommuGroup());
                if (members.size() > 1) {
                    List<PciAddress> peers = new ArrayList<>(members);
                    peers.remove(d.address());
                    devices.set(i, d.withIommuGroupPeers(peers));
                }
            }
        }
        return new PciInventory(devices, warnings);
    }

    /** Reads one function, or empty when sysfs has no entry for it. */
    public Optional<PciDevice> read(PciAddress address) {
        String name = address.toString();
        if (io.readlink(devicesDir + "/" + name) == null && io.lastError() == SysfsIo.ENOENT) {
            return Optional.empty();
        }
        return Optional.of(new Scan(true).read(address, name));
    }

    /** State of one scan: buffers and what was learnt about the host so far. */
    private final class Scan {
        private final byte[] buf = new byte[4096];
        private final boolean listGroups;
        private Boolean iommuPresent;

        Scan(boolean listGroups) {
            this.listGroups = listGroups;
        }

        PciDevice read(PciAddress address, String name) {
            return new DeviceRead(this, address, name).read();
        }

        private final Map<Integer, Boolean> groupExists = new HashMap<>();

        /** One stat per distinct group in a scan, so a dangling iommu_group link is caught. */
        boolean groupExists(int group) {
            return groupExists.computeIfAbsent(group, g -> new File(iommuGroupsDir + "/" + g + "/devices").isDirectory());
        }

        boolean iommuPresent() {
            if (iommuPresent == null) {
                iommuPresent = new File(iommuGroupsDir).isDirectory();
            }
            return iommuPresent;
        }
    }

    /** Reads one function; collects warnings and stops early when the function vanishes. */
    private final class DeviceRead {
        private final Scan scan;
        private final PciAddress address;
        private final String name;
        private final byte[] buf;
        private final List<String> warnings = new ArrayList<>(2);
        private String dir;
        private SysfsIo.Dir handle;
        private boolean gone;
        private boolean linkAbsent; // the last linkTarget() found no such link

        private byte[] configBytes;
        private Integer vendor;
        private Integer device;
        private Integer pciClass;
        private Integer subsystemVendor;
        private Integer subsystemDevice;
        private Integer revision;
        private String driver;
        private String driverOverride;
        private Integer iommuGroup;
        private List<PciAddress> peers = List.of();
        private Integer numaNode;
        private List<PciAddress> parents = List.of();
        private Integer totalVfs;
        private Integer numVfs;
        private List<PciAddress> virtfns = List.of();
        private PciAddress physfn;
        private List<String> resetMethods = List.of();
        private boolean resettable;
        private ConfigSpace config;

        DeviceRead(Scan scan, PciAddress address, String name) {
            this.scan = scan;
            this.address = address;
            this.name = name;
            this.buf = scan.buf;
        }

        PciDevice read() {
            // 1. find the device's own directory under sys/devices (gives the bridge chain), 2. open it,
            // 3. read the attributes. The device may vanish at any step; the rest is then skipped.
            if (locate() && openDirectory()) {
                try {
                    hook.afterOpen(address, dir);
                    readConfig();
                    readIdentity();
                    readBinding();
                    readIommu();
                    readSriov();
                    readReset();
                    checkGone(); // optional files found absent may have been a device going away
                } finally {
                    handle.close();
                }
            }
            return new PciDevice(address, vendor, device, pciClass, subsystemVendor, subsystemDevice, revision,
                    driver, driverOverride, iommuGroup, peers, numaNode, parents, totalVfs, numVfs, virtfns, physfn,
                    resetMethods, resettable, config, warnings);
        }

        private boolean locate() {
            String link = devicesDir + "/" + name;
            String target = io.readlink(link);
            if (target == null) {
                int e = io.lastError();
                if (e == SysfsIo.ENOENT) {
                    vanished(link + " is gone");
                    return false;
                }
                if (e == SysfsIo.EINVAL) {
                    // Not a symlink: readable, but the bridge chain is unknown.
                    warnings.add(link + " is not a symlink into sys/devices; parent bridge chain unknown");
                    dir = link;
                    return true;
                }
                warnings.add("cannot read link " + link + ": " + SysfsIo.describe(e));
                return false;
            }
            String resolved = resolve(devicesDir, target);
            if (!resolved.startsWith(sysDevicesPrefix)) {
                warnings.add(link + " points to '" + target + "', outside " + sysDevicesPrefix + "; not read");
                return false;
            }
            dir = resolved;
            parents = bridgeChain(resolved.substring(sysDevicesPrefix.length()), link);
            return true;
        }

        /** Bridges from the path below sys/devices: pciDDDD:BB/<bridge>/.../<this function>. */
        private List<PciAddress> bridgeChain(String below, String link) {
            String[] parts = below.split("/");
            int last = parts.length - 1;
            if (!parts[last].equals(name)) {
                warnings.add(link + " resolves to " + below + ", whose last component is not " + name);
            }
            if (last == 1) {
                return List.of(); // on a root bus: the common case
            }
            List<PciAddress> chain = new ArrayList<>(last);
            for (int i = 0; i < last; i++) {
                PciAddress a = PciAddress.parseOrNull(parts[i]);
                if (a != null) {
                    chain.add(a);
                } else if (i > 0 || !parts[i].startsWith("pci")) {
                    // Only the host bridge directory (pciDDDD:BB) may come first; anything else is no PCI bridge.
                    warnings.add("unexpected component '" + parts[i] + "' in device path " + below);
                }
            }
            return chain;
        }

        private boolean openDirectory() {
            handle = io.open(dir);
            if (handle == null) {
                int e = io.lastError();
                if (e == SysfsIo.ENOENT) {
                    vanished(dir + " is gone");
                } else {
                    warnings.add("cannot open device directory " + dir + ": " + SysfsIo.describe(e));
                }
                return false;
            }
            return true;
        }

        private void vanished(String detail) {
            if (!gone) {
                gone = true;
                warnings.add("device disappeared while being read (hot-unplug?): " + detail);
            }
        }

        /** After a file was not found: was it the whole device that went? (slow path only) */
        private boolean checkGone() {
            if (!gone && !new File(dir).isDirectory()) {
                vanished(dir + " is gone");
            }
            return gone;
        }

        /**
         * Reads an attribute into {@code buf}; returns its length, or -1 when it does not exist (no warning: the
         * caller knows whether it is optional), or -2 after warning about any other failure.
         */
        private int readFile(String attr, boolean config) {
            if (gone) {
                return -2;
            }
            int n = config ? handle.readConfig(attr, buf) : handle.read(attr, buf);
            if (n >= 0) {
                return n;
            }
            if (-n == SysfsIo.ENOENT || -n == SysfsIo.ENODEV) {
                return -1; // absent; whether the whole device went is checked by callers of required files and at the end
            }
            warnings.add("cannot read " + attr + ": " + SysfsIo.describe(-n));
            return -2;
        }

        /** Text of an attribute, stripped; null when missing (see {@link #readFile}). */
        private String readText(String attr, boolean optional) {
            int n = readFile(attr, false);
            if (n == -1 && !optional && !checkGone()) {
                warnings.add(attr + ": missing");
            }
            return n < 0 ? null : new String(buf, 0, n, StandardCharsets.US_ASCII).strip();
        }

        private void readConfig() {
            int n = readFile("config", true);
            if (n == -1 && !checkGone()) {
                warnings.add("no config file; capabilities unknown");
            }
            if (n >= 0) {
                configBytes = Arrays.copyOf(buf, Math.min(n, 0x40)); // the header, for attribute fallbacks
                config = ConfigSpace.parse(buf, n);
                for (String p : config.problems()) {
                    warnings.add("config: " + p);
                }
                if (n < ConfigSpace.CONVENTIONAL_SIZE && config.truncated()) {
                    // What an unprivileged reader gets: flr/acs=false would then be a guess, so say so.
                    warnings.add("config: only " + n + " bytes readable (not root?); capabilities, FLR and ACS unknown");
                }
            }
        }

        private void readIdentity() {
            byte[] cfg = configBytes;
            vendor = hexAttr("vendor", 4, cfg, 0x00, 2);
            device = hexAttr("device", 4, cfg, 0x02, 2);
            pciClass = hexAttr("class", 6, cfg, 0x09, 3);
            revision = hexAttr("revision", 2, cfg, 0x08, 1);
            boolean type0 = cfg != null && cfg.length >= 0x30 && (cfg[0x0e] & 0x7f) == 0;
            subsystemVendor = hexAttr("subsystem_vendor", 4, type0 ? cfg : null, 0x2c, 2);
            subsystemDevice = hexAttr("subsystem_device", 4, type0 ? cfg : null, 0x2e, 2);
            String t = readText("numa_node", true);
            if (t != null) {
                Integer v = decimal(t);
                if (v == null) {
                    warnings.add("numa_node: unexpected content '" + printable(t) + "' (expected a decimal number)");
                } else if (v >= 0) {
                    numaNode = v;
                }
            }
        }

        /**
         * Reads a {@code 0x…} attribute; on failure falls back to config space bytes (little endian) when
         * available, saying so. (Not for VFs' vendor/device: their config registers read ffff, which the fallback
         * would then report, flagged by the warning.)
         */
        private Integer hexAttr(String attr, int digits, byte[] cfg, int cfgOffset, int cfgBytes) {
            int n = readFile(attr, false);
            String why;
            if (n == -1 && checkGone()) {
                return null;
            } else if (n == -1) {
                why = "missing";
            } else if (n < 0) {
                why = "unreadable";
            } else {
                String t = new String(buf, 0, n, StandardCharsets.US_ASCII).strip();
                Integer v = hex(t, digits);
                if (v != null) {
                    return v;
                }
                why = "unexpected content '" + printable(t) + "' (expected 0x followed by up to " + digits + " hex digits)";
            }
            if (gone) {
                return null;
            }
            if (cfg != null && cfg.length >= cfgOffset + cfgBytes) {
                int v = 0;
                for (int i = cfgBytes - 1; i >= 0; i--) {
                    v = v << 8 | (cfg[cfgOffset + i] & 0xff);
                }
                warnings.add(attr + ": " + why + "; using the value from config space");
                return v;
            }
            warnings.add(attr + ": " + why);
            return null;
        }

        private void readBinding() {
            String t = linkTarget("driver");
            if (t != null) {
                if (!"drivers".equals(basename(parent(t)))) {
                    warnings.add("driver link points to '" + t + "', not into bus/pci/drivers; driver unknown");
                } else {
                    driver = basename(t);
                }
            }
            String o = readText("driver_override", true);
            if (o != null && !o.isEmpty() && !o.equals("(null)")) {
                driverOverride = o;
            }
        }

        private void readIommu() {
            if (gone) {
                return;
            }
            String t = linkTarget("iommu_group");
            if (t == null) {
                if (gone || !linkAbsent) {
                    return; // vanished, or unreadable (warned)
                }
                if (scan.iommuPresent()) {
                    warnings.add("not in any IOMMU group (no iommu_group link); cannot be passed through");
                } else {
                    warnings.add("host has no IOMMU groups (" + iommuGroupsDir + " is absent: IOMMU off or missing); "
                            + "cannot be passed through");
                }
                return;
            }
            Integer g = decimal(basename(t));
            if (g == null || g < 0 || !"iommu_groups".equals(basename(parent(t)))) {
                warnings.add("iommu_group link points to '" + t + "', not to kernel/iommu_groups/<N>");
                return;
            }
            String groupDir = iommuGroupsDir + "/" + g + "/devices";
            if (!scan.listGroups) {
                if (!scan.groupExists(g)) {
                    // lspci resolves the link and so sees no group either
                    warnings.add("iommu_group names group " + g + ", but " + groupDir + " does not exist");
                    return;
                }
                iommuGroup = g;
                return;
            }
            String[] names = io.list(groupDir);
            if (names == null) {
                warnings.add("iommu_group names group " + g + ", but " + groupDir + " cannot be listed: "
                        + SysfsIo.describe(io.lastError()));
                return; // a group that does not exist: no group, as lspci (which resolves the link) sees it
            }
            iommuGroup = g;
            List<PciAddress> others = new ArrayList<>(names.length);
            boolean self = false;
            for (String n : names) {
                PciAddress a = PciAddress.parseOrNull(n);
                if (a != null && a.equals(address)) {
                    self = true;
                } else if (a != null) {
                    others.add(a);
                }
            }
            if (!self) {
                warnings.add("IOMMU group " + g + " does not list this function among its devices");
            }
            Collections.sort(others);
            peers = others;
        }

        private void readSriov() {
            totalVfs = decimalAttr("sriov_totalvfs");
            if (totalVfs != null) {
                numVfs = decimalAttr("sriov_numvfs");
            }
            String p = linkTarget("physfn");
            if (p != null) {
                physfn = addressOf("physfn", p);
            }
            if (totalVfs == null && numVfs == null) {
                return;
            }
            // The kernel numbers virtfn links 0..numvfs-1 without gaps; probe until the first missing one.
            List<PciAddress> vfs = new ArrayList<>();
            for (int i = 0; i < 0x10000 && !gone; i++) {
                String t = linkTarget("virtfn" + i);
                if (t == null) {
                    break;
                }
                PciAddress vf = addressOf("virtfn" + i, t);
                if (vf != null) {
                    vfs.add(vf);
                }
            }
            virtfns = vfs;
            if (numVfs != null && numVfs != vfs.size() && !gone) {
                warnings.add("sriov_numvfs is " + numVfs + " but " + vfs.size() + " virtfn links exist");
            }
        }

        private void readReset() {
            if (gone) {
                return;
            }
            resettable = handle.exists("reset");
            String t = readText("reset_method", true);
            if (t != null && !t.isEmpty()) {
                resetMethods = List.of(t.split("\\s+"));
            }
        }

        /** A non-negative decimal attribute, null when absent or (with a warning) malformed. */
        private Integer decimalAttr(String attr) {
            String t = readText(attr, true);
            if (t == null) {
                return null;
            }
            Integer v = decimal(t);
            if (v == null || v < 0) {
                warnings.add(attr + ": unexpected content '" + printable(t) + "' (expected a decimal number)");
                return null;
            }
            return v;
        }

        /** Target of a link in the device directory; null when absent (silently) or unreadable (with a warning). */
        private String linkTarget(String attr) {
            if (gone) {
                return null;
            }
            String t = handle.readlink(attr);
            linkAbsent = false;
            if (t == null) {
                int e = io.lastError();
                if (e == SysfsIo.ENOENT) {
                    linkAbsent = true;
                } else {
                    warnings.add("cannot read link " + attr + ": " + SysfsIo.describe(e));
                }
            }
            return t;
        }

        private PciAddress addressOf(String attr, String target) {
            PciAddress a = PciAddress.parseOrNull(basename(target));
            if (a == null) {
                warnings.add(attr + " link points to '" + target + "', which does not name a PCI function");
            }
            return a;
        }
    }
}
