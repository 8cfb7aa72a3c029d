package org.xenhost.daemon.cli;

import org.xenhost.pci.ConfigSpace;
import org.xenhost.pci.PciAddress;
import org.xenhost.pci.PciClassNames;
import org.xenhost.pci.PciDevice;

import java.util.List;

/** The human-readable form of {@code xenhost pci show}. */
final class PciText {
    private PciText() {
    }

    static String describe(PciDevice d) {
        StringBuilder b = new StringBuilder();
        line(b, "Address", d.address().toString());
        line(b, "Class", d.pciClass() == null ? "?" : PciJson.hex(d.pciClass(), 6) + " (" + PciClassNames.of(d.pciClass()) + ")");
        line(b, "Vendor:Device", PciJson.hex(d.vendor(), 4) + ":" + PciJson.hex(d.device(), 4) + " rev " + PciJson.hex(d.revision(), 2));
        line(b, "Subsystem", PciJson.hex(d.subsystemVendor(), 4) + ":" + PciJson.hex(d.subsystemDevice(), 4));
        line(b, "Header", d.headerType().label() + (d.config() != null && d.config().multiFunction() ? ", multi-function" : ""));
        line(b, "Driver", d.driver() == null ? "(none)" : d.driver());
        line(b, "Driver override", d.driverOverride() == null ? "(none)" : d.driverOverride());
        line(b, "IOMMU group", d.iommuGroup() == null ? "(none)"
                : d.iommuGroup() + (d.iommuGroupPeers().isEmpty() ? " (alone)" : " with " + join(d.iommuGroupPeers())));
        line(b, "NUMA node", d.numaNode() == null ? "(none)" : d.numaNode().toString());
        line(b, "Parent bridges", d.parentBridges().isEmpty() ? "(on a root bus)" : join(d.parentBridges()));
        switch (d.sriovRole()) {
            case PF -> line(b, "SR-IOV", "PF, " + d.sriovNumVfs() + " of " + d.sriovTotalVfs() + " VFs enabled"
                    + (d.virtfns().isEmpty() ? "" : ": " + join(d.virtfns())));
            case VF -> line(b, "SR-IOV", "VF of " + d.physfn());
            case NONE -> line(b, "SR-IOV", "-");
        }
        line(b, "Reset", (d.resettable() ? "reset file present" : "no reset file")
                + (d.resetMethods().isEmpty() ? "" : "; methods " + String.join(" ", d.resetMethods()))
                + "; FLR " + (d.flr() ? "yes" : "no"));
        ConfigSpace c = d.config();
        if (c == null) {
            line(b, "Config space", "(unreadable)");
            return b.toString();
        }
        line(b, "Config space", c.length() + " bytes" + (c.truncated() ? " (capabilities beyond them not seen)" : ""));
        if (c.secondaryBus() != null) {
            line(b, "Buses", "secondary " + PciJson.hex(c.secondaryBus(), 2) + ", subordinate " + PciJson.hex(c.subordinateBus(), 2));
        }
        if (c.pcie() != null) {
            line(b, "PCI Express", "v" + c.pcie().version() + " " + c.pcie().portType().label());
        }
        if (c.powerManagement() != null) {
            line(b, "Power mgmt", "v" + c.powerManagement().version() + ", NoSoftRst " + (c.powerManagement().noSoftReset() ? "+" : "-"));
        }
        if (c.acs() != null) {
            line(b, "ACS", "capability " + PciJson.hex(c.acs().capability(), 4) + ", control " + PciJson.hex(c.acs().control(), 4));
        }
        if (c.srIov() != null) {
            ConfigSpace.SrIov s = c.srIov();
            line(b, "SR-IOV cap", "TotalVFs " + s.totalVfs() + ", NumVFs " + s.numVfs() + ", VF device " + PciJson.hex(s.vfDeviceId(), 4)
                    + ", offset " + s.vfOffset() + ", stride " + s.vfStride());
        }
        b.append("Capabilities:\n");
        for (ConfigSpace.Capability cap : c.capabilities()) {
            b.append(String.format("  [%s] %s%s%n", PciJson.hex(cap.offset(), cap.extended() ? 3 : 2), cap.name(),
                    cap.extended() ? " v" + cap.version() : ""));
        }
        for (String p : c.problems()) {
            b.append("  ! ").append(p).append('\n');
        }
        return b.toString();
    }

    private static void line(StringBuilder b, String k, String v) {
        b.append(String.format("%-16s %s%n", k + ":", v));
    }

    private static String join(List<PciAddress> l) {
        return String.join(", ", l.stream().map(PciAddress::toString).toList());
    }
}
