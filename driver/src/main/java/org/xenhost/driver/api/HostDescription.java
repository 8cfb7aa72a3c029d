package org.xenhost.driver.api;

import java.util.List;

/**
 * {@code xenhost host info}: the hypervisor's view (from libxl) next to the dom0 operating system's (OSHI).
 *
 * @param freeMemoryMiB memory Xen can still give to guests
 * @param cpuFlags      the dom0 CPU's feature flags, which a migration destination must offer too
 * @param capabilities  what this host can do for guests: guest types ({@code pv}, {@code pvh}, {@code hvm}, the
 *                      last two only with hardware virtualization), {@code pci-passthrough} (an IOMMU is on),
 *                      {@code save-restore}, {@code migration} (a TLS migration port is configured)
 */
public record HostDescription(String hostname, String xenVersion, long totalMemoryMiB, long freeMemoryMiB,
                              int cpus, String cpuModel, List<String> cpuFlags, int numaNodes, boolean iommu,
                              List<String> capabilities) {
    public HostDescription {
        cpuFlags = List.copyOf(cpuFlags);
        capabilities = List.copyOf(capabilities == null ? List.of() : capabilities);
    }
}
