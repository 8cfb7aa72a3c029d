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
 */
public record HostInfo(String xenVersion, long totalMemoryKb, long freeMemoryKb, int nrCpus, boolean hvm,
                       boolean iommu) {
}
