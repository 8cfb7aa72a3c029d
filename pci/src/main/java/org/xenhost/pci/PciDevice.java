package org.xenhost.pci;

import java.util.List;

/**
 * One PCI function as sysfs and its config space describe it. Immutable.
 *
 * <p>Identity numbers are null only when neither the sysfs attribute nor config space could be read; the reason is
 * then in {@link #warnings()}. Every other nullable component is null when the kernel does not offer it (no driver,
 * no IOMMU, no NUMA, not SR-IOV capable).
 *
 * @param address         the function's BDF
 * @param vendor          vendor ID (16 bit)
 * @param device          device ID (16 bit)
 * @param pciClass        class code with prog-if, 24 bit (e.g. 0x020000)
 * @param subsystemVendor subsystem vendor ID
 * @param subsystemDevice subsystem device ID
 * @param revision        revision ID (8 bit)
 * @param driver          name of the bound driver, null when unbound
 * @param driverOverride  contents of {@code driver_override}, null when unset ({@code (null)}) or absent
 * @param iommuGroup      IOMMU group number, null without IOMMU
 * @param iommuGroupPeers the other functions in the same IOMMU group (they must move together)
 * @param numaNode        NUMA node, null when the kernel reports -1 or nothing
 * @param parentBridges   bridges above this function, root port first (from the path under sys/devices)
 * @param sriovTotalVfs   {@code sriov_totalvfs} of a physical function, else null
 * @param sriovNumVfs     {@code sriov_numvfs} of a physical function, else null
 * @param virtfns         the enabled virtual functions, in VF index order
 * @param physfn          for a virtual function, its physical function, else null
 * @param resetMethods    {@code reset_method} entries in kernel order, empty when absent
 * @param resettable      the kernel offers a {@code reset} file
 * @param config          decoded config space, null when the {@code config} file could not be read
 * @param warnings        what could not be read and why; empty for a healthy function
 */
public record PciDevice(PciAddress address,
                        Integer vendor, Integer device, Integer pciClass,
                        Integer subsystemVendor, Integer subsystemDevice, Integer revision,
                        String driver, String driverOverride,
                        Integer iommuGroup, List<PciAddress> iommuGroupPeers,
                        Integer numaNode, List<PciAddress> parentBridges,
                        Integer sriovTotalVfs, Integer sriovNumVfs, List<PciAddress> virtfns, PciAddress physfn,
                        List<String> resetMethods, boolean resettable,
                        ConfigSpace config, List<String> warnings) {

    public PciDevice {
        iommuGroupPeers = List.copyOf(iommuGroupPeers);
        parentBridges = List.copyOf(parentBridges);
        virtfns = List.copyOf(virtfns);
        resetMethods = List.copyOf(resetMethods);
        warnings = List.copyOf(warnings);
    }

    /** The same function with another list of IOMMU group peers. */
    public PciDevice withIommuGroupPeers(List<PciAddress> peers) {
        return new PciDevice(address, vendor, device, pciClass, subsystemVendor, subsystemDevice, revision, driver,
                driverOverride, iommuGroup, peers, numaNode, parentBridges, sriovTotalVfs, sriovNumVfs, virtfns, physfn,
                resetMethods, resettable, config, warnings);
    }

    /** Role of a function in SR-IOV. */
    public enum SriovRole {
        /** Physical function: can create VFs. */
        PF,
        /** Virtual function of some PF. */
        VF,
        /** Neither. */
        NONE
    }

    /** PF when the kernel offers SR-IOV on it, VF when it has a physfn, else NONE. */
    public SriovRole sriovRole() {
        if (physfn != null) {
            return SriovRole.VF;
        }
        if ((sriovTotalVfs != null && sriovTotalVfs > 0) || !virtfns.isEmpty()) {
            return SriovRole.PF;
        }
        return SriovRole.NONE;
    }

    /** Function Level Reset advertised in config space (PCIe DevCap or PCI AF); false when config is unknown. */
    public boolean flr() {
        return config != null && config.flr();
    }

    /** Access Control Services capability present. */
    public boolean acs() {
        return config != null && config.acs() != null;
    }

    /** Header type from config space; {@code UNKNOWN} when config is unknown. */
    public ConfigSpace.HeaderType headerType() {
        return config == null ? ConfigSpace.HeaderType.UNKNOWN : config.headerType();
    }
}
