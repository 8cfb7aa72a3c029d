package org.xenhost.pci;

import java.util.List;

/**
 * Result of one scan of {@code sys/bus/pci/devices}: the functions in address order, and warnings that belong to
 * no single function (an entry whose name is not a PCI address, a missing IOMMU).
 */
public record PciInventory(List<PciDevice> devices, List<String> warnings) {
    public PciInventory {
        devices = List.copyOf(devices);
        warnings = List.copyOf(warnings);
    }
}
