package org.xenhost.pci;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * Reads the host's PCI functions from a sysfs root: {@code <root>/sys/bus/pci/devices/*} and the kernel objects
 * they link to ({@code sys/devices/pci…}, {@code sys/kernel/iommu_groups}, {@code sys/bus/pci/drivers}).
 * The root is {@code /} on a real host and a fixture directory in tests; nothing outside it is read.
 *
 * <p>Sysfs is live: a function can vanish between listing and reading (hot-unplug, VFs disabled), and a fixture
 * can hold anything. Such trouble becomes a warning on the function concerned; a scan never throws for content.
 * Each attribute is read with one {@code read} after listing the device directory once, so optional attributes
 * cost nothing when absent and no exception is raised on the common path.
 *
 * <p>Instances are immutable and thread-safe; each scan carries its own buffers.
 */
public final class SysfsPciReader {
    private final Path root;
    private final String rootPrefix;
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

        /** After the device directory has been listed, before its attributes are read. */
        default void afterListing(PciAddress address, String deviceDir) {
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
        this.root = abs;
        this.rootPrefix = abs.toString().equals("/") ? "" : abs.toString();
        this.devicesDir = rootPrefix + "/sys/bus/pci/devices";
        this.sysDevicesPrefix = rootPrefix + "/sys/devices/";
        this.iommuGroupsDir = rootPrefix + "/sys/kernel/iommu_groups";
        this.io = io;
        this.hook = hook;
    }

    /** The sysfs root this reader reads below. */
    public Path root() {
        return root;
    }

    /** Reads every function, in address order. */
    public PciInventory scan() {
        Scan scan = new Scan();
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
        List<PciDevice> devices = new ArrayList<>(byAddress.size());
        byAddress.forEach((a, name) -> devices.add(scan.read(a, name)));
        return new PciInventory(devices, warnings);
    }

    /** Reads one function, or empty when sysfs has no entry for it. */
    public Optional<PciDevice> read(PciAddress address) {
        String name = address.toString();
        String link = devicesDir + "/" + name;
        if (io.readlink(link) == null && io.lastError() == SysfsIo.ENOENT) {
            return Optional.empty();
        }
        return Optional.of(new Scan().read(address, name));
    }

    /** State of one scan: buffers and the IOMMU group memberships read so far. */
    private final class Scan {
        private final byte[] buf = new byte[4097]; // config (4096) fits with room to see it is complete
        private final Map<Integer, List<PciAddress>> groups = new HashMap<>();
        private Boolean iommuPresent;

        PciDevice read(PciAddress address, String name) {
            return new DeviceRead(this, address, name).read();
        }

        boolean iommuPresent() {
            if (iommuPresent == null) {
                iommuPresent = new java.io.File(iommuGroupsDir).isDirectory();
            }
            return iommuPresent;
        }

        /** Members of a group, or null (with a warning) when its directory cannot be listed. */
        List<PciAddress> groupMembers(int group, List<String> warnings) {
            List<PciAddress> cached = groups.get(group);
            if (cached != null) {
                return cached;
            }
            String dir = iommuGroupsDir + "/" + group + "/devices";
            String[] names = io.list(dir);
            List<PciAddress> members = new ArrayList<>();
            if (names == null) {
                warnings.add("iommu_group names group " + group + ", but " + dir + " cannot be listed: "
                        + SysfsIo.describe(io.lastError()));
                return null; // not cached: each member gets its own warning
            } else {
                for (String n : names) {
                    PciAddress a = PciAddress.parseOrNull(n);
                    if (a != null) {
                        members.add(a);
                    }
                }
                Collections.sort(members);
            }
            groups.put(group, members);
            return members;
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
        private Set<String> present = Set.of();
        private boolean gone;

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
            // 1. find the device's own directory under sys/devices (gives the bridge chain), 2. list it once,
            // 3. read what is present. Each step may find the device gone; later steps are then skipped.
            if (locate() && listDirectory()) {
                hook.afterListing(address, dir);
                readConfig();
                readIdentity();
                readBinding();
                readIommu();
                readSriov();
                readReset();
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

        private boolean listDirectory() {
            String[] names = io.list(dir);
            if (names == null) {
                int e = io.lastError();
                if (e == SysfsIo.ENOENT) {
                    vanished(dir + " is gone");
                } else {
                    warnings.add("cannot list device directory " + dir + ": " + SysfsIo.describe(e));
                }
                return false;
            }
            present = new HashSet<>(Arrays.asList(names));
            return true;
        }

        private void vanished(String detail) {
            if (!gone) {
                gone = true;
                warnings.add("device disappeared while being read (hot-unplug?): " + detail);
            }
        }

        /**
         * Reads a present attribute into {@code buf}; returns its length or -1 (with a warning) on failure.
         * A missing file after the listing showed it means the device went away.
         */
        private int readFile(String attr) {
            return readFile(attr, false);
        }

        private int readFile(String attr, boolean config) {
            if (gone) {
                return -1;
            }
            String path = dir + "/" + attr;
            int n = config ? io.readConfig(path, buf) : io.read(path, buf);
            if (n >= 0) {
                return n;
            }
            if (-n == SysfsIo.ENOENT || -n == SysfsIo.ENODEV) {
                if (!new java.io.File(dir).isDirectory()) {
                    vanished(dir + " is gone");
                    return -1;
                }
            }
            warnings.add("cannot read " + attr + ": " + SysfsIo.describe(-n));
            return -1;
        }

        private String readText(String attr) {
            int n = readFile(attr);
            return n < 0 ? null : new String(buf, 0, n, StandardCharsets.US_ASCII).strip();
        }

        private void readConfig() {
            if (!present.contains("config")) {
                warnings.add("no config file; capabilities unknown");
                return;
            }
            int n = readFile("config", true);
            if (n >= 0) {
                lastConfig = Arrays.copyOf(buf, n);
                config = ConfigSpace.parse(lastConfig);
                for (String p : config.problems()) {
                    warnings.add("config: " + p);
                }
            }
        }

        private void readIdentity() {
            byte[] cfg = configBytes();
            vendor = hexAttr("vendor", 4, cfg, 0x00, 2);
            device = hexAttr("device", 4, cfg, 0x02, 2);
            pciClass = hexAttr("class", 6, cfg, 0x09, 3);
            revision = hexAttr("revision", 2, cfg, 0x08, 1);
            boolean type0 = cfg != null && cfg.length >= 0x30 && (cfg[0x0e] & 0x7f) == 0;
            subsystemVendor = hexAttr("subsystem_vendor", 4, type0 ? cfg : null, 0x2c, 2);
            subsystemDevice = hexAttr("subsystem_device", 4, type0 ? cfg : null, 0x2e, 2);
            if (present.contains("numa_node")) {
                String t = readText("numa_node");
                Integer v = t == null ? null : decimal(t);
                if (t != null && v == null) {
                    warnings.add("numa_node: unexpected content '" + printable(t) + "' (expected a decimal number)");
                } else if (v != null && v >= 0) {
                    numaNode = v;
                }
            }
        }

        private byte[] lastConfig;

        private byte[] configBytes() {
            return lastConfig;
        }

        /**
         * Reads a {@code 0x…} attribute; on failure falls back to config space bytes (little endian) when
         * available, saying so.
         */
        private Integer hexAttr(String attr, int digits, byte[] cfg, int cfgOffset, int cfgBytes) {
            String why;
            if (!present.contains(attr)) {
                why = "missing";
            } else {
                String t = readText(attr);
                if (t == null) {
                    why = "unreadable";
                } else {
                    Integer v = hex(t, digits);
                    if (v != null) {
                        return v;
                    }
                    why = "unexpected content '" + printable(t) + "' (expected 0x followed by up to " + digits + " hex digits)";
                }
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
            if (present.contains("driver")) {
                String t = linkTarget("driver");
                if (t != null) {
                    String base = basename(t);
                    if (!"drivers".equals(basename(parent(t)))) {
                        warnings.add("driver link points to '" + t + "', not into bus/pci/drivers; driver unknown");
                    } else {
                        driver = base;
                    }
                }
            }
            if (present.contains("driver_override")) {
                String t = readText("driver_override");
                if (t != null && !t.isEmpty() && !t.equals("(null)")) {
                    driverOverride = t;
                }
            }
        }

        private void readIommu() {
            if (gone) {
                return;
            }
            if (!present.contains("iommu_group")) {
                if (scan.iommuPresent()) {
                    warnings.add("not in any IOMMU group (no iommu_group link); cannot be passed through");
                } else {
                    warnings.add("host has no IOMMU groups (" + iommuGroupsDir + " is absent: IOMMU off or missing); "
                            + "cannot be passed through");
                }
                return;
            }
            String t = linkTarget("iommu_group");
            if (t == null) {
                return;
            }
            Integer g = decimal(basename(t));
            if (g == null || g < 0 || !"iommu_groups".equals(basename(parent(t)))) {
                warnings.add("iommu_group link points to '" + t + "', not to kernel/iommu_groups/<N>");
                return;
            }
            List<PciAddress> members = scan.groupMembers(g, warnings);
            if (members == null) {
                return; // the group the link names does not exist (warned): treat as no group, as lspci does
            }
            iommuGroup = g;
            if (!members.contains(address)) {
                warnings.add("IOMMU group " + g + " does not list this function among its devices");
            }
            List<PciAddress> others = new ArrayList<>(members.size());
            for (PciAddress m : members) {
                if (!m.equals(address)) {
                    others.add(m);
                }
            }
            peers = others;
        }

        private void readSriov() {
            if (present.contains("sriov_totalvfs")) {
                totalVfs = decimalAttr("sriov_totalvfs");
            }
            if (present.contains("sriov_numvfs")) {
                numVfs = decimalAttr("sriov_numvfs");
            }
            if (present.contains("physfn")) {
                physfn = linkedAddress("physfn");
            }
            TreeMap<Integer, PciAddress> vfs = null;
            for (String n : present) {
                if (n.startsWith("virtfn") && n.length() > 6) {
                    Integer index = decimal(n.substring(6));
                    if (index == null) {
                        continue;
                    }
                    PciAddress vf = linkedAddress(n);
                    if (vf != null) {
                        if (vfs == null) {
                            vfs = new TreeMap<>();
                        }
                        vfs.put(index, vf);
                    }
                }
            }
            if (vfs != null) {
                virtfns = new ArrayList<>(vfs.values());
            }
            if (numVfs != null && numVfs != virtfns.size() && !gone) {
                warnings.add("sriov_numvfs is " + numVfs + " but " + virtfns.size() + " virtfn links exist");
            }
        }

        private void readReset() {
            resettable = present.contains("reset");
            if (present.contains("reset_method")) {
                String t = readText("reset_method");
                if (t != null && !t.isEmpty()) {
                    resetMethods = List.of(t.split("\\s+"));
                }
            }
        }

        private Integer decimalAttr(String attr) {
            String t = readText(attr);
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

        private String linkTarget(String attr) {
            if (gone) {
                return null;
            }
            String t = io.readlink(dir + "/" + attr);
            if (t == null) {
                int e = io.lastError();
                if (e == SysfsIo.ENOENT && !new java.io.File(dir).isDirectory()) {
                    vanished(dir + " is gone");
                } else {
                    warnings.add("cannot read link " + attr + ": " + SysfsIo.describe(e));
                }
            }
            return t;
        }

        private PciAddress linkedAddress(String attr) {
            String t = linkTarget(attr);
            if (t == null) {
                return null;
            }
            PciAddress a = PciAddress.parseOrNull(basename(t));
            if (a == null) {
                warnings.add(attr + " link points to '" + t + "', which does not name a PCI function");
            }
            return a;
        }
    }

    /** Lexical resolution of a relative link target against the link's directory. */
    static String resolve(String baseDir, String target) {
        if (target.startsWith("/")) {
            return Path.of(target).normalize().toString();
        }
        return Path.of(baseDir).resolve(target).normalize().toString();
    }

    static String basename(String path) {
        int end = path.length();
        while (end > 1 && path.charAt(end - 1) == '/') {
            end--;
        }
        return path.substring(path.lastIndexOf('/', end - 1) + 1, end);
    }

    static String parent(String path) {
        int slash = path.lastIndexOf('/');
        return slash <= 0 ? "" : path.substring(0, slash);
    }

    /** {@code 0x} + 1..digits hex digits, else null. */
    static Integer hex(String t, int digits) {
        if (t.length() < 3 || t.length() > digits + 2 || t.charAt(0) != '0' || (t.charAt(1) != 'x' && t.charAt(1) != 'X')) {
            return null;
        }
        int v = 0;
        for (int i = 2; i < t.length(); i++) {
            int d = Character.digit(t.charAt(i), 16);
            if (d < 0) {
                return null;
            }
            v = v << 4 | d;
        }
        return v;
    }

    /** Optional minus sign and 1..9 decimal digits, else null. */
    static Integer decimal(String t) {
        int i = t.startsWith("-") ? 1 : 0;
        if (t.length() == i || t.length() - i > 9) {
            return null;
        }
        int v = 0;
        for (int k = i; k < t.length(); k++) {
            char c = t.charAt(k);
            if (c < '0' || c > '9') {
                return null;
            }
            v = v * 10 + (c - '0');
        }
        return i == 1 ? -v : v;
    }

    /** Garbage made safe to quote in a one-line warning. */
    static String printable(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length() && i < 40; i++) {
            char c = s.charAt(i);
            b.append(c >= 0x20 && c < 0x7f ? c : '?');
        }
        if (s.length() > 40) {
            b.append("...");
        }
        return b.toString();
    }
}
