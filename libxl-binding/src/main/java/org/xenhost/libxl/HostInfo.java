package org.xenhost.libxl;

/**
 * The hypervisor host as {@code libxl_get_version_info} and {@code libxl_get_physinfo} describe it; enough
 * for a migration destination to check that a guest fits, and for {@code xenhost} to say what it runs on.
 *
 * @param xenVersion     e.g. {@code "4.17.5"} ({@code major.minor} + extra)
 * @param totalMemoryKb  host memory ({@code total_pages} x 4 KiB)
 * @param freeMemoryKb   memory not owned by any domain ({@code free_pages} x 4 KiB)
 * @param nrCpus         physical CPUs (threads)
 * @param hvm            hardware virtualization available (HVM and PVH guests possible)
 * @param iommu          an IOMMU is on ({@code cap_hvm_directio}): PCI passthrough to HVM/PVH guests possible
 * @param hostId         which running hypervisor this is: equal for every toolstack on the same Xen, different
 *                       across machines and reboots; a migration whose source has the destination's id is a
 *                       same-host migration (both guests' copies are visible to both daemons, as in xl's localhost
 *                       migration). Native: dom0's kernel boot id (a dom0 boot is a Xen boot).
 */
public record HostInfo(String xenVersion, long totalMemoryKb, long freeMemoryKb, int nrCpus, boolean hvm,
                       boolean iommu, String hostId) {
}
