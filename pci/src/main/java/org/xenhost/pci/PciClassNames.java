package org.xenhost.pci;

import java.util.Map;

/**
 * Short names for PCI class codes (PCI Code and ID Assignment spec, base class and subclass), for tables.
 * Not a full pci.ids: unknown subclasses fall back to the base class name, unknown base classes to the number.
 */
public final class PciClassNames {
    private PciClassNames() {
    }

    private static final String[] BASE = {
        "Unclassified device", "Mass storage controller", "Network controller", "Display controller",
        "Multimedia controller", "Memory controller", "Bridge", "Communication controller",
        "Generic system peripheral", "Input device controller", "Docking station", "Processor",
        "Serial bus controller", "Wireless controller", "Intelligent controller", "Satellite communications controller",
        "Encryption controller", "Signal processing controller", "Processing accelerators",
        "Non-Essential Instrumentation",
    };

    private static final Map<Integer, String> SUB = Map.ofEntries(
            Map.entry(0x0100, "SCSI storage controller"), Map.entry(0x0101, "IDE interface"),
            Map.entry(0x0104, "RAID bus controller"), Map.entry(0x0106, "SATA controller"),
            Map.entry(0x0107, "Serial Attached SCSI controller"), Map.entry(0x0108, "Non-Volatile memory controller"),
            Map.entry(0x0180, "Mass storage controller"),
            Map.entry(0x0200, "Ethernet controller"), Map.entry(0x0207, "Infiniband controller"),
            Map.entry(0x0280, "Network controller"),
            Map.entry(0x0300, "VGA compatible controller"), Map.entry(0x0302, "3D controller"),
            Map.entry(0x0380, "Display controller"),
            Map.entry(0x0401, "Multimedia audio controller"), Map.entry(0x0403, "Audio device"),
            Map.entry(0x0500, "RAM memory"),
            Map.entry(0x0600, "Host bridge"), Map.entry(0x0601, "ISA bridge"), Map.entry(0x0604, "PCI bridge"),
            Map.entry(0x0607, "CardBus bridge"), Map.entry(0x0680, "Bridge"),
            Map.entry(0x0700, "Serial controller"), Map.entry(0x0780, "Communication controller"),
            Map.entry(0x0800, "PIC"), Map.entry(0x0805, "SD Host controller"), Map.entry(0x0806, "IOMMU"),
            Map.entry(0x0880, "System peripheral"),
            Map.entry(0x0c03, "USB controller"), Map.entry(0x0c05, "SMBus"), Map.entry(0x0c00, "FireWire (IEEE 1394)"),
            Map.entry(0x0c04, "Fibre Channel"),
            Map.entry(0x0d80, "Wireless controller"),
            Map.entry(0x1000, "Network and computing encryption device"),
            Map.entry(0x1180, "Signal processing controller"),
            Map.entry(0x1200, "Processing accelerators"));

    /** Name for a 24-bit class code (prog-if ignored), e.g. 0x020000 → "Ethernet controller". */
    public static String of(int classCode) {
        int sub = classCode >> 8 & 0xffff;
        String s = SUB.get(sub);
        if (s != null) {
            return s;
        }
        int base = sub >> 8;
        if (base < BASE.length) {
            return BASE[base];
        }
        return base == 0xff ? "Unassigned class" : String.format("Class %04x", sub);
    }
}
