package org.xenhost.driver.config;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.xenhost.libxl.DomainType;
import org.xenhost.libxl.LibxlDevicePci;
import org.xenhost.libxl.RdmPolicy;
import org.xenhost.libxl.pcispec.PciSpecParser;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A guest's configuration as xenhost needs it, read from an xl.cfg ({@link #from}). The original settings are
 * kept ({@link #cfg()}) so {@code dumpconfig} shows back what the operator wrote, unknown keys included.
 *
 * <p>Some keys are xenhost's own and ignored by xl: {@code emulated_dirty_rate} (how fast an emulated guest
 * dirties memory, e.g. {@code "20M"} bytes per second) and two options inside a {@code pci} entry:
 * {@code managed=yes|no} (managed devices are made assignable at start and given back at stop; default no, as xl)
 * and {@code nostrictreset=1} (Qubes' option: a device without FLR, PM reset or a usable secondary bus reset is
 * assigned unreset, with a warning, instead of refused; default 0, strict). xenhost removes both before the
 * libxlutil-identical spec parser sees the entry.
 *
 * @param memoryMiB target memory ({@code memory}, default 32 as libxl)
 * @param maxMemoryMiB ceiling ({@code maxmem}, default = memory)
 * @param dirtyRateBytesPerSecond the emulated workload's rate (0 = idle)
 */
public record DomainConfig(XlCfg cfg, String name, UUID uuid, DomainType type, long memoryMiB, long maxMemoryMiB,
                           int vcpus, int maxVcpus, String kernel, String ramdisk, String cmdline,
                           List<DomainPci> pci, long dirtyRateBytesPerSecond) {

    /**
     * One {@code pci = [...]} entry: the parsed libxl device, whether xenhost manages it, whether a device without
     * a safe reset is refused ({@code strictReset}, the default; {@code nostrictreset=1} turns it off), and the text.
     */
    public record DomainPci(LibxlDevicePci device, boolean managed, boolean strictReset, String spec) {
    }

    /** Suffixes xenhost reserves for migration's two copies of a guest. */
    public static final List<String> RESERVED_SUFFIXES = List.of("--incoming", "--migratedaway");

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.:+-]{0,63}");
    private static final Pattern RATE = Pattern.compile("(\\d+)\\s*([KkMmGg]?)(i?B?)(/s)?");
    private static final ObjectMapper JSON = new ObjectMapper();
    /** xl.cfg's {@code passthrough} values (libxl_passthrough without its internal default). */
    private static final List<String> PASSTHROUGH_MODES = List.of("disabled", "enabled", "sync_pt", "share_pt");

    /**
     * Whether Xen will create this domain with an IOMMU context, which it needs before any PCI device can be
     * assigned to it, at start or later by hotplug: xl.cfg's {@code passthrough} when given, else on exactly when
     * {@code pci} lists a device (libxl's default).
     */
    public boolean passthroughEnabled() {
        String mode = cfg.string("passthrough");
        return mode != null ? !mode.equals("disabled") : !pci.isEmpty();
    }

    public DomainConfig {
        Objects.requireNonNull(cfg, "cfg");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
        pci = List.copyOf(pci);
    }

    /** Reads and checks an xl.cfg; every refusal names the file and the line. */
    public static DomainConfig from(XlCfg cfg) {
        String src = cfg.source();
        String name = cfg.string("name");
        if (name == null) {
            throw new XlCfgException(src, 0, "missing 'name' (add e.g. name = \"guest1\")");
        }
        if (!NAME.matcher(name).matches() || name.chars().allMatch(Character::isDigit)) {
            throw new XlCfgException(src, cfg.lineOf("name"), "name \"" + name + "\" must be 1-64 characters of letters, digits"
                    + " and _ . : + -, start with a letter or digit, and not be all digits (that reads as a domid)");
        }
        for (String suffix : RESERVED_SUFFIXES) {
            if (name.endsWith(suffix)) {
                throw new XlCfgException(src, cfg.lineOf("name"), "name \"" + name + "\" ends with " + suffix
                        + ", which xenhost reserves for migrating guests");
            }
        }
        UUID uuid = null;
        String uuidText = cfg.string("uuid");
        if (uuidText != null) {
            try {
                uuid = UUID.fromString(uuidText);
                if (!uuid.toString().equalsIgnoreCase(uuidText)) {
                    throw new IllegalArgumentException();
                }
            } catch (IllegalArgumentException e) {
                throw new XlCfgException(src, cfg.lineOf("uuid"), "uuid \"" + uuidText + "\" is not of the form 01234567-89ab-cdef-0123-456789abcdef");
            }
        }
        DomainType type = type(cfg);
        long memory = positive(cfg, "memory", 32);
        long maxmem = positive(cfg, "maxmem", memory);
        if (maxmem < memory) {
            throw new XlCfgException(src, cfg.lineOf("maxmem"), "maxmem (" + maxmem + " MiB) is less than memory (" + memory + " MiB)");
        }
        long vcpus = positive(cfg, "vcpus", 1);
        long maxVcpus = positive(cfg, "maxvcpus", vcpus);
        if (vcpus > 128 || maxVcpus > 128) {
            throw new XlCfgException(src, cfg.lineOf(vcpus > 128 ? "vcpus" : "maxvcpus"), "at most 128 vCPUs are supported");
        }
        if (maxVcpus < vcpus) {
            throw new XlCfgException(src, cfg.lineOf("maxvcpus"), "maxvcpus (" + maxVcpus + ") is less than vcpus (" + vcpus + ")");
        }
        List<DomainPci> pci = pci(cfg);
        String passthrough = cfg.string("passthrough");
        if (passthrough != null && !PASSTHROUGH_MODES.contains(passthrough)) {
            throw new XlCfgException(src, cfg.lineOf("passthrough"), "passthrough must be one of " + PASSTHROUGH_MODES
                    + ", got \"" + passthrough + "\"");
        }
        if ("disabled".equals(passthrough) && !pci.isEmpty()) {
            throw new XlCfgException(src, cfg.lineOf("passthrough"), "passthrough is \"disabled\" but pci lists "
                    + pci.size() + " device(s): remove one or the other");
        }
        long rate = dirtyRate(cfg);
        hardAffinity(cfg); // refused here, with the line, rather than when the guest starts
        return new DomainConfig(cfg, name, uuid, type, memory, maxmem, (int) vcpus, (int) maxVcpus,
                cfg.string("kernel"), cfg.string("ramdisk"), cmdline(cfg), pci, rate);
    }

    /** This configuration with its uuid fixed (define assigns one when the file has none). */
    public DomainConfig withUuid(UUID id) {
        return new DomainConfig(cfg, name, id, type, memoryMiB, maxMemoryMiB, vcpus, maxVcpus, kernel, ramdisk,
                cmdline, pci, dirtyRateBytesPerSecond);
    }

    /** The same guest under another name (migration's {@code --dest-name}, the {@code --incoming} copy). */
    public DomainConfig withName(String newName) {
        return new DomainConfig(cfg, newName, uuid, type, memoryMiB, maxMemoryMiB, vcpus, maxVcpus, kernel,
                ramdisk, cmdline, pci, dirtyRateBytesPerSecond);
    }

    /**
     * The configuration in libxl's JSON form ({@code libxl_domain_config_from_json} reads it), which both the
     * real and the emulated {@code Libxl} take. Only the fields xenhost sets are written; libxl fills its
     * defaults for the rest. {@code emulated_dirty_rate} is an extra top-level key libxl ignores.
     */
    public String toLibxlJson() {
        ObjectNode root = JSON.createObjectNode();
        ObjectNode cInfo = root.putObject("c_info");
        cInfo.put("type", type.name().toLowerCase(Locale.ROOT));
        cInfo.put("name", name);
        if (uuid != null) {
            cInfo.put("uuid", uuid.toString());
        }
        String mode = cfg.string("passthrough");
        if (mode != null) {
            cInfo.put("passthrough", mode);
        } else if (!pci.isEmpty()) {
            // Xen lets devices be assigned only to a domain created with an IOMMU context. libxl turns that on by
            // itself when pcidevs is non-empty, but xenhost creates the domain without pcidevs and hands the
            // devices over afterwards (the host-device manager's all-or-nothing start), so it must ask for it:
            // without it the hand-over fails in xc_assign_device with EOPNOTSUPP (seen on real Xen 4.17).
            cInfo.put("passthrough", "enabled");
        }
        ObjectNode bInfo = root.putObject("b_info");
        bInfo.put("max_vcpus", maxVcpus);
        ArrayNode avail = bInfo.putArray("avail_vcpus");
        for (int i = 0; i < vcpus; i++) {
            avail.add(i);
        }
        bInfo.put("max_memkb", maxMemoryMiB * 1024);
        bInfo.put("target_memkb", memoryMiB * 1024);
        if (kernel != null) {
            bInfo.put("kernel", kernel);
        }
        if (ramdisk != null) {
            bInfo.put("ramdisk", ramdisk);
        }
        if (cmdline != null) {
            bInfo.put("cmdline", cmdline);
        }
        List<Integer> pcpus = hardAffinity(cfg);
        if (!pcpus.isEmpty()) {
            // xl's cpus="..." (one string) pins every vCPU to the same set; libxl's JSON has one bitmap (the list of
            // its set bits) per vCPU
            ArrayNode perVcpu = bInfo.putArray("vcpu_hard_affinity");
            for (int i = 0; i < maxVcpus; i++) {
                ArrayNode bits = perVcpu.addArray();
                pcpus.forEach(bits::add);
            }
        }
        bInfo.putObject("type." + type.name().toLowerCase(Locale.ROOT));
        if (!pci.isEmpty()) {
            ArrayNode devs = root.putArray("pcidevs");
            for (DomainPci p : pci) {
                devs.add(pciJson(p.device()));
            }
        }
        if (dirtyRateBytesPerSecond > 0) {
            root.put("emulated_dirty_rate", dirtyRateBytesPerSecond);
        }
        return root.toString();
    }

    /** One {@code pcidevs} entry of libxl's JSON for {@code d}. */
    public static ObjectNode pciJson(LibxlDevicePci d) {
        ObjectNode o = JSON.createObjectNode();
        o.put("func", d.func());
        o.put("dev", d.dev());
        o.put("bus", d.bus());
        o.put("domain", d.domain());
        o.put("vdevfn", Integer.toUnsignedLong(d.vdevfn()));
        o.put("vfunc_mask", Integer.toUnsignedLong(d.vfuncMask()));
        o.put("msitranslate", d.msitranslate());
        o.put("power_mgmt", d.powerMgmt());
        o.put("permissive", d.permissive());
        o.put("seize", d.seize());
        if (d.rdmPolicy() != RdmPolicy.INVALID) {
            o.put("rdm_policy", d.rdmPolicy().name().toLowerCase(Locale.ROOT));
        }
        if (d.name() != null) {
            o.put("name", d.name());
        }
        return o;
    }

    private static DomainType type(XlCfg cfg) {
        String t = cfg.string("type");
        String builder = cfg.string("builder");
        if (t == null && builder != null) {
            t = builder.equals("generic") ? "pv" : builder;
        }
        if (t == null) {
            return DomainType.PV;
        }
        return switch (t) {
            case "pv" -> DomainType.PV;
            case "pvh" -> DomainType.PVH;
            case "hvm" -> DomainType.HVM;
            default -> throw new XlCfgException(cfg.source(), cfg.lineOf(cfg.has("type") ? "type" : "builder"),
                    "type \"" + t + "\" is not one of \"pv\", \"pvh\", \"hvm\"");
        };
    }

    private static final Pattern CPU_RANGE = Pattern.compile("(\\^?)(\\d{1,4})(?:-(\\d{1,4}))?");
    private static final int MAX_PCPU = 4095;

    /**
     * xl.cfg's {@code cpus} as a string: the pCPUs every vCPU may run on, e.g. {@code "3-4"}, {@code "0,2-5,^3"},
     * {@code "all"} (no pinning: an empty list). xl's per-vCPU list form and {@code nodes:} are refused by name.
     */
    static List<Integer> hardAffinity(XlCfg cfg) {
        if (!cfg.has("cpus")) {
            return List.of();
        }
        String src = cfg.source();
        int line = cfg.lineOf("cpus");
        String text;
        try {
            text = cfg.string("cpus");
        } catch (IllegalArgumentException listForm) {
            text = null;
        }
        if (text == null) {
            throw new XlCfgException(src, line, "cpus as a list (one entry per vCPU) is not supported; give one string"
                    + " for all vCPUs, e.g. cpus = \"2-3\"");
        }
        if (text.trim().equals("all")) {
            return List.of();
        }
        java.util.BitSet set = new java.util.BitSet();
        java.util.BitSet excluded = new java.util.BitSet();
        for (String item : text.split(",", -1)) {
            Matcher m = CPU_RANGE.matcher(item.trim());
            if (!m.matches()) {
                throw new XlCfgException(src, line, "cpus \"" + text + "\": \"" + item.trim() + "\" is not a pCPU number"
                        + " or range (N, N-M, ^N to exclude; \"all\"; nodes: is not supported)");
            }
            int from = Integer.parseInt(m.group(2));
            int to = m.group(3) == null ? from : Integer.parseInt(m.group(3));
            if (to < from || to > MAX_PCPU) {
                throw new XlCfgException(src, line, "cpus \"" + text + "\": range \"" + item.trim() + "\" must run upwards"
                        + " and stay within pCPUs 0-" + MAX_PCPU);
            }
            (m.group(1).isEmpty() ? set : excluded).set(from, to + 1);
        }
        set.andNot(excluded);
        if (set.isEmpty()) {
            throw new XlCfgException(src, line, "cpus \"" + text + "\" leaves no pCPU to run on");
        }
        return set.stream().boxed().toList();
    }

    private static long positive(XlCfg cfg, String key, long dflt) {
        Long v = cfg.number(key);
        if (v == null) {
            return dflt;
        }
        if (v <= 0) {
            throw new XlCfgException(cfg.source(), cfg.lineOf(key), "'" + key + "' must be greater than 0, got " + v);
        }
        return v;
    }

    private static String cmdline(XlCfg cfg) {
        String c = cfg.string("cmdline");
        if (c != null) {
            return c;
        }
        String root = cfg.string("root");
        String extra = cfg.string("extra");
        if (root == null && extra == null) {
            return null;
        }
        return ((root == null ? "" : "root=" + root) + (root != null && extra != null ? " " : "") + (extra == null ? "" : extra));
    }

    private static List<DomainPci> pci(XlCfg cfg) {
        // xl seeds every entry from the global pci_* keys and rdm= before parsing it
        LibxlDevicePci seed = PciSpecParser.initialDevice();
        seed = new LibxlDevicePci(seed.domain(), seed.bus(), seed.dev(), seed.func(), seed.vdevfn(), seed.vfuncMask(),
                flag(cfg, "pci_msitranslate"), flag(cfg, "pci_power_mgmt"), flag(cfg, "pci_permissive"),
                flag(cfg, "pci_seize"), seed.rdmPolicy(), seed.name());
        List<DomainPci> out = new ArrayList<>();
        List<String> entries = cfg.list("pci");
        for (String entry : entries) {
            DomainPci p;
            try {
                p = pciEntry(entry, seed);
            } catch (IllegalArgumentException e) {
                throw new XlCfgException(cfg.source(), cfg.lineOf("pci"), e.getMessage());
            }
            LibxlDevicePci d = p.device();
            for (DomainPci other : out) {
                LibxlDevicePci o = other.device();
                if (o.domain() == d.domain() && o.bus() == d.bus() && o.dev() == d.dev()
                        && (o.func() == d.func() || o.allFunctions() || d.allFunctions())) {
                    throw new XlCfgException(cfg.source(), cfg.lineOf("pci"), "pci device " + d.bdf() + " is listed twice");
                }
            }
            out.add(p);
        }
        return out;
    }

    /**
     * One PCI spec as {@code xenhost attach-device} takes it: an xl.cfg {@code pci} entry (libxlutil's syntax and
     * defaults) with xenhost's {@code managed=yes|no}, addressing the device by BDF.
     *
     * @throws IllegalArgumentException naming the entry when it is not valid
     */
    public static DomainPci pciEntry(String entry) {
        return pciEntry(entry, PciSpecParser.initialDevice());
    }

    private static DomainPci pciEntry(String entry, LibxlDevicePci seed) {
        boolean managed = false;
        boolean strictReset = true;
        List<String> kept = new ArrayList<>();
        for (String part : entry.split(",", -1)) {
            if (part.startsWith("managed=")) {
                managed = yesNo(entry, "managed", part.substring("managed=".length()));
            } else if (part.startsWith("nostrictreset=")) {
                strictReset = !yesNo(entry, "nostrictreset", part.substring("nostrictreset=".length()));
            } else {
                kept.add(part);
            }
        }
        String spec = String.join(",", kept);
        var result = PciSpecParser.parse(spec, seed);
        if (!result.ok()) {
            throw new IllegalArgumentException("pci entry \"" + entry + "\": " + result.error());
        }
        LibxlDevicePci d = result.device();
        if (d.name() != null && spec.startsWith("name=")) {
            throw new IllegalArgumentException("pci entry \"" + entry
                    + "\": a device named only by name= needs its address in a domain config");
        }
        return new DomainPci(d, managed, strictReset, entry);
    }

    /** One of xenhost's own boolean options in a pci entry: yes/1/true or no/0/false. */
    private static boolean yesNo(String entry, String key, String v) {
        return switch (v) {
            case "yes", "1", "true" -> true;
            case "no", "0", "false" -> false;
            default -> throw new IllegalArgumentException("pci entry \"" + entry + "\": " + key
                    + " must be yes or no (1 or 0), got \"" + v + "\"");
        };
    }

    private static boolean flag(XlCfg cfg, String key) {
        Long v = cfg.number(key);
        return v != null && v != 0;
    }

    private static long dirtyRate(XlCfg cfg) {
        String text = cfg.string("emulated_dirty_rate");
        if (text == null) {
            return 0;
        }
        Matcher m = RATE.matcher(text.trim());
        if (!m.matches()) {
            throw new XlCfgException(cfg.source(), cfg.lineOf("emulated_dirty_rate"), "emulated_dirty_rate \"" + text
                    + "\" must be bytes per second with an optional K, M or G suffix, e.g. \"20M\"");
        }
        long n = Long.parseLong(m.group(1));
        int shift = switch (m.group(2).toUpperCase(Locale.ROOT)) {
            case "K" -> 10;
            case "M" -> 20;
            case "G" -> 30;
            default -> 0;
        };
        if (n > (Long.MAX_VALUE >> shift)) {
            throw new XlCfgException(cfg.source(), cfg.lineOf("emulated_dirty_rate"), "emulated_dirty_rate \"" + text + "\" is too large");
        }
        return n << shift;
    }
}
