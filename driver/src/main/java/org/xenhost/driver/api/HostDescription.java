package org.xenhost.driver.api;

import java.util.List;

/**
 * {@code xenhost host info}: the hypervisor's view (from libxl) next to the dom0 operating system's (OSHI).
 *
 * @param freeMemoryMiB memory Xen can still give to guests
 * @param cpuFlags      the dom0 CPU's feature flags, which a migration destination must offer too
 */
public record HostDescription(String hostname, String xenVersion, long totalMemoryMiB, long freeMemoryMiB,
                              int cpus, String cpuModel, List<String> cpuFlags, int numaNodes, boolean iommu) {
    public HostDescription {
        cpuFlags = List.copyOf(cpuFlags);
    }
}
