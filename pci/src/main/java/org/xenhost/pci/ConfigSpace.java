package org.xenhost.pci;

import java.util.ArrayList;
import java.util.List;

/**
 * What a function's configuration space says about it, decoded from the raw bytes of the sysfs {@code config}
 * file (64, 256 or 4096 bytes; anything else is decoded as far as it goes).
 *
 * <p>Decoding is a pure function and never throws on content: capability chains are walked with a visited set
 * and bounds checks, so a looping or truncated chain stops the walk and is reported in {@link #problems()}.
 * Extended capabilities are only walked for PCI Express functions with 4096 bytes available, as lspci does;
 * a short file (an unprivileged reader sees 64 bytes) simply yields fewer capabilities.
 *
 * <p>Nullable components are null when the function lacks the capability (or it lies beyond the bytes read).
 *
 * @param length          number of config bytes decoded
 * @param headerType      layout of the header (byte 0x0e bits 0..6)
 * @param multiFunction   byte 0x0e bit 7: the device has more than one function
 * @param secondaryBus    bridges and CardBus bridges: bus number behind the bridge, else null
 * @param subordinateBus  bridges and CardBus bridges: highest bus number behind the bridge, else null
 * @param capabilities    every standard then extended capability in chain order
 * @param pcie            PCI Express capability
 * @param powerManagement Power Management capability
 * @param acs             Access Control Services extended capability
 * @param srIov           SR-IOV extended capability
 * @param msi             MSI capability
 * @param msiX            MSI-X capability
 * @param afFlr           PCI Advanced Features capability advertises FLR (conventional-PCI FLR)
 * @param truncated       a capability lies beyond the bytes read (normal for an unprivileged 64-byte read):
 *                        the capability list is incomplete, not corrupt
 * @param problems        corruption found while decoding (looping or broken chains, pointers out of range)
 */
public record ConfigSpace(int length, HeaderType headerType, boolean multiFunction,
                          Integer secondaryBus, Integer subordinateBus,
                          List<Capability> capabilities,
                          Pcie pcie, PowerManagement powerManagement, Acs acs, SrIov srIov, Msi msi, MsiX msiX,
                          boolean afFlr, boolean truncated, List<String> problems) {

    public ConfigSpace {
        capabilities = List.copyOf(capabilities);
        problems = List.copyOf(problems);
    }

    /** Header layout (PCI Local Bus 3.0 §6.1, byte 0x0e). */
    public enum HeaderType {
        ENDPOINT("endpoint"), BRIDGE("bridge"), CARDBUS("cardbus"), UNKNOWN("unknown");

        private final String label;

        HeaderType(String label) {
            this.label = label;
        }

        /** Lower-case name used in JSON and tables. */
        public String label() {
            return label;
        }
    }

    /** PCI Express device/port type (PCIe Capabilities register bits 7:4). */
    public enum PortType {
        ENDPOINT(0, "Endpoint"), LEGACY_ENDPOINT(1, "Legacy Endpoint"), ROOT_PORT(4, "Root Port"),
        UPSTREAM_PORT(5, "Upstream Port"), DOWNSTREAM_PORT(6, "Downstream Port"),
        PCIE_TO_PCI_BRIDGE(7, "PCI-Express to PCI/PCI-X Bridge"), PCI_TO_PCIE_BRIDGE(8, "PCI/PCI-X to PCI-Express Bridge"),
        RC_INTEGRATED_ENDPOINT(9, "Root Complex Integrated Endpoint"), RC_EVENT_COLLECTOR(10, "Root Complex Event Collector"),
        UNKNOWN(-1, "Unknown");

        private final int code;
        private final String label;

        PortType(int code, String label) {
            this.code = code;
            this.label = label;
        }

        public String label() {
            return label;
        }

        static PortType of(int code) {
            for (PortType t : values()) {
                if (t.code == code) {
                    return t;
                }
            }
            return UNKNOWN;
        }
    }

    /**
     * One entry of a capability chain.
     *
     * @param id       capability ID (8-bit standard, 16-bit extended)
     * @param extended true for PCI Express extended capabilities (offset ≥ 0x100)
     * @param offset   position in config space
     * @param version  extended capability version (bits 19:16), 0 for standard capabilities
     * @param name     display name
     */
    public record Capability(int id, boolean extended, int offset, int version, String name) {
    }

    /**
     * PCI Express capability.
     *
     * @param version  capability version (1 or 2)
     * @param portType device/port type
     * @param flr      Device Capabilities bit 28, Function Level Reset supported
     */
    public record Pcie(int version, PortType portType, boolean flr) {
    }

    /**
     * Power Management capability.
     *
     * @param version   PM spec version
     * @param noSoftReset PMCSR bit 3: a D3hot→D0 transition does not reset the function (so PM reset is useless)
     */
    public record PowerManagement(int version, boolean noSoftReset) {
    }

    /**
     * Access Control Services: raw 16-bit capability and control registers. Bit 0 source validation, 1 translation
     * blocking, 2 P2P request redirect, 3 P2P completion redirect, 4 upstream forwarding, 5 egress control,
     * 6 direct translated P2P.
     */
    public record Acs(int capability, int control) {
        public static final int SOURCE_VALIDATION = 1;
        public static final int TRANSLATION_BLOCKING = 1 << 1;
        public static final int REQUEST_REDIRECT = 1 << 2;
        public static final int COMPLETION_REDIRECT = 1 << 3;
        public static final int UPSTREAM_FORWARDING = 1 << 4;
        public static final int EGRESS_CONTROL = 1 << 5;
        public static final int DIRECT_TRANSLATED = 1 << 6;
    }

    /**
     * SR-IOV extended capability of a physical function.
     *
     * @param initialVfs   InitialVFs
     * @param totalVfs     TotalVFs, the most VFs this PF can enable
     * @param numVfs       NumVFs currently programmed
     * @param vfOffset     routing-ID offset of the first VF
     * @param vfStride     routing-ID distance between VFs
     * @param vfDeviceId   PCI device ID the VFs report
     * @param vfEnabled    SR-IOV Control bit 0, VF Enable
     */
    public record SrIov(int initialVfs, int totalVfs, int numVfs, int vfOffset, int vfStride, int vfDeviceId,
                        boolean vfEnabled) {
    }

    /**
     * MSI capability.
     *
     * @param enabled      MSI Enable
     * @param vectors      vectors the function can request (Multiple Message Capable, a power of two)
     * @param address64    64-bit message address
     * @param perVectorMask per-vector masking capable
     */
    public record Msi(boolean enabled, int vectors, boolean address64, boolean perVectorMask) {
    }

    /**
     * MSI-X capability.
     *
     * @param enabled      MSI-X Enable
     * @param functionMask Function Mask set
     * @param tableSize    number of table entries
     * @param tableBar     BAR (BIR) holding the vector table
     * @param tableOffset  offset of the table within that BAR
     */
    public record MsiX(boolean enabled, boolean functionMask, int tableSize, int tableBar, long tableOffset) {
    }

    /** True when either PCIe DevCap or the PCI Advanced Features capability advertises Function Level Reset. */
    public boolean flr() {
        return (pcie != null && pcie.flr()) || afFlr;
    }

    /** First capability with this standard ID, or null. */
    public Capability standardCapability(int id) {
        for (Capability c : capabilities) {
            if (!c.extended() && c.id() == id) {
                return c;
            }
        }
        return null;
    }

    // Register offsets and IDs used below (PCI Local Bus 3.0, PCI Express Base 4.0 §7).
    static final int STATUS = 0x06;
    static final int STATUS_CAP_LIST = 0x10;
    static final int HEADER_TYPE = 0x0e;
    static final int CAP_PTR = 0x34;
    static final int CARDBUS_CAP_PTR = 0x14;
    static final int CAP_PM = 0x01;
    static final int CAP_MSI = 0x05;
    static final int CAP_EXP = 0x10;
    static final int CAP_MSIX = 0x11;
    static final int CAP_AF = 0x13;
    static final int ECAP_ACS = 0x0d;
    static final int ECAP_SRIOV = 0x10;
    static final int EXT_START = 0x100;

    /** Size of conventional PCI config space; extended space follows up to 4096 bytes. */
    public static final int CONVENTIONAL_SIZE = 0x100;

    /** Size of a whole config space with extended capabilities (PCI Express, PCI-X 2.0). */
    public static final int EXTENDED_SIZE = 0x1000;

    /**
     * Whether the first 256 bytes show a PCI Express capability (so extended space is worth reading).
     * Walks the standard chain with the same protections as {@link #parse}.
     */
    public static boolean isPciExpress(byte[] head) {
        if (head.length < CONVENTIONAL_SIZE || (head[STATUS] & STATUS_CAP_LIST) == 0) {
            return false;
        }
        int type = head[HEADER_TYPE] & 0x7f;
        if (type > 2) {
            return false;
        }
        int at = head[type == 2 ? CARDBUS_CAP_PTR : CAP_PTR] & 0xfc;
        for (int hops = 0; at >= 0x40 && hops < 48; hops++) { // 48 = most 4-byte capabilities that fit in 0x40..0xff
            int id = head[at] & 0xff;
            if (id == CAP_EXP) {
                return true;
            }
            if (id == 0xff) {
                return false;
            }
            at = head[at + 1] & 0xfc;
        }
        return false;
    }

    /**
     * Whether a whole (4096-byte) config space lists extended capability {@code id}: a quick walk, for deciding what
     * else to read before decoding (bounded: a loop or a pointer below 0x100 ends it).
     */
    static boolean hasExtendedCapability(byte[] space, int id) {
        if (space.length < EXTENDED_SIZE) {
            return false;
        }
        int at = EXT_START;
        for (int hops = 0; at >= EXT_START && at <= EXTENDED_SIZE - 4 && hops < (EXTENDED_SIZE - EXT_START) / 4; hops++) {
            int h = (space[at] & 0xff) | (space[at + 1] & 0xff) << 8 | (space[at + 2] & 0xff) << 16 | (space[at + 3] & 0xff) << 24;
            if (h == 0 || h == -1) {
                return false;
            }
            if ((h & 0xffff) == id) {
                return true;
            }
            at = (h >>> 20) & 0xffc;
        }
        return false;
    }

    /** Decodes {@code config}; never throws for any content or length. */
    public static ConfigSpace parse(byte[] config) {
        return new Decoder(config, config == null ? 0 : config.length).decode();
    }

    /** Decodes the first {@code length} bytes of {@code config} (a reused read buffer); never throws for content. */
    public static ConfigSpace parse(byte[] config, int length) {
        if (length < 0 || length > config.length) {
            throw new IllegalArgumentException("length " + length + " outside buffer of " + config.length);
        }
        return new Decoder(config, length).decode();
    }

    /** Holds the walk state while decoding one function's bytes. */
    private static final class Decoder {
        private final byte[] b;
        private final int len;
        private final List<Capability> caps = new ArrayList<>();
        private final List<String> problems = new ArrayList<>();
        private Pcie pcie;
        private PowerManagement pm;
        private Acs acs;
        private SrIov srIov;
        private Msi msi;
        private MsiX msiX;
        private boolean afFlr;
        private boolean truncated;

        Decoder(byte[] config, int length) {
            this.b = config == null ? new byte[0] : config;
            this.len = length;
        }

        int u8(int at) {
            return b[at] & 0xff;
        }

        int u16(int at) {
            return u8(at) | u8(at + 1) << 8;
        }

        long u32(int at) {
            return (u16(at) | (long) u16(at + 2) << 16);
        }

        boolean has(int at, int size) {
            return at >= 0 && at + size <= len;
        }

        ConfigSpace decode() {
            if (len < 0x40) {
                truncated = true;
                if (len > 0) {
                    problems.add("config space has only " + len + " bytes; the 64-byte header is incomplete");
                }
                return result(HeaderType.UNKNOWN, false, null, null);
            }
            int ht = u8(HEADER_TYPE);
            HeaderType type = switch (ht & 0x7f) {
                case 0 -> HeaderType.ENDPOINT;
                case 1 -> HeaderType.BRIDGE;
                case 2 -> HeaderType.CARDBUS;
                default -> HeaderType.UNKNOWN;
            };
            Integer secondary = null;
            Integer subordinate = null;
            if (type == HeaderType.BRIDGE || type == HeaderType.CARDBUS) {
                secondary = u8(0x19);
                subordinate = u8(0x1a);
            }
            if ((u16(STATUS) & STATUS_CAP_LIST) != 0 && type != HeaderType.UNKNOWN) {
                walkStandard(u8(type == HeaderType.CARDBUS ? CARDBUS_CAP_PTR : CAP_PTR) & ~3);
                if (pcie != null) {
                    walkExtended();
                }
            }
            return result(type, (ht & 0x80) != 0, secondary, subordinate);
        }

        private ConfigSpace result(HeaderType type, boolean multi, Integer secondary, Integer subordinate) {
            return new ConfigSpace(len, type, multi, secondary, subordinate, caps, pcie, pm, acs, srIov, msi, msiX,
                    afFlr, truncated, problems);
        }

        private void walkStandard(int start) {
            long seen = 0; // one bit per dword of 0x40..0xff
            int at = start;
            while (at != 0) {
                if (at < 0x40 || at > 0xfc) {
                    problems.add(String.format("capability pointer %02x points into the header or out of range", at));
                    return;
                }
                if (!has(at, 4)) {
                    truncated = true; // normal for a 64-byte unprivileged read: capabilities live beyond it
                    return;
                }
                long bit = 1L << ((at - 0x40) >> 2);
                if ((seen & bit) != 0) {
                    problems.add(String.format("capability chain loops back to %02x", at));
                    return;
                }
                seen |= bit;
                int id = u8(at);
                if (id == 0xff) {
                    problems.add(String.format("capability chain broken at %02x (ID ff)", at));
                    return;
                }
                caps.add(new Capability(id, false, at, 0, CapabilityNames.standard(id)));
                decodeStandard(id, at);
                at = u8(at + 1) & ~3;
            }
        }

        private void decodeStandard(int id, int at) {
            switch (id) {
                case CAP_PM -> {
                    if (pm == null && has(at, 6)) {
                        pm = new PowerManagement(u16(at + 2) & 7, (u16(at + 4) & 0x08) != 0);
                    }
                }
                case CAP_MSI -> {
                    if (msi == null) {
                        int ctl = u16(at + 2);
                        msi = new Msi((ctl & 1) != 0, 1 << ((ctl >> 1) & 7), (ctl & 0x80) != 0, (ctl & 0x100) != 0);
                    }
                }
                case CAP_EXP -> {
                    if (pcie == null && has(at, 8)) {
                        int flags = u16(at + 2);
                        pcie = new Pcie(flags & 0xf, PortType.of((flags >> 4) & 0xf), (u32(at + 4) & (1L << 28)) != 0);
                    }
                }
                case CAP_MSIX -> {
                    if (msiX == null && has(at, 8)) {
                        int ctl = u16(at + 2);
                        long table = u32(at + 4);
                        msiX = new MsiX((ctl & 0x8000) != 0, (ctl & 0x4000) != 0, (ctl & 0x7ff) + 1,
                                (int) (table & 7), table & ~7L);
                    }
                }
                case CAP_AF -> {
                    if (has(at, 4)) {
                        afFlr |= (u8(at + 3) & 0x02) != 0;
                    }
                }
                default -> {
                }
            }
        }

        private void walkExtended() {
            if (len <= EXT_START) {
                truncated = true; // a 256-byte read: the function has extended space we cannot see
                return;
            }
            long[] seen = new long[16]; // one bit per dword of 0x000..0xfff
            int at = EXT_START;
            do {
                if (!has(at, 4)) {
                    truncated = true;
                    return;
                }
                long header = u32(at);
                if (header == 0) {
                    return; // no extended capabilities
                }
                if (header == 0xffffffffL) {
                    problems.add(String.format("extended capability header at %03x reads all ones", at));
                    return;
                }
                int dword = at >> 2;
                if ((seen[dword >> 6] & 1L << dword) != 0) {
                    problems.add(String.format("extended capability chain loops back to %03x", at));
                    return;
                }
                seen[dword >> 6] |= 1L << dword;
                int id = (int) (header & 0xffff);
                int version = (int) ((header >> 16) & 0xf);
                caps.add(new Capability(id, true, at, version, CapabilityNames.extended(id)));
                decodeExtended(id, at);
                int next = (int) ((header >> 20) & 0xffc);
                if (next != 0 && next < EXT_START) {
                    problems.add(String.format("extended capability at %03x points back into standard space (%03x)", at, next));
                    return;
                }
                at = next;
            } while (at != 0);
        }

        private void decodeExtended(int id, int at) {
            switch (id) {
                case ECAP_ACS -> {
                    if (acs == null && has(at, 8)) {
                        acs = new Acs(u16(at + 4), u16(at + 6));
                    }
                }
                case ECAP_SRIOV -> {
                    if (srIov == null && has(at, 0x1c)) {
                        srIov = new SrIov(u16(at + 0x0c), u16(at + 0x0e), u16(at + 0x10), u16(at + 0x14),
                                u16(at + 0x16), u16(at + 0x1a), (u16(at + 0x08) & 1) != 0);
                    }
                }
                default -> {
                }
            }
        }
    }
}
