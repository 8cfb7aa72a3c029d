package org.xenhost.pci;

import java.util.List;

/**
 * What the host offers to guests, as OSHI reads it from {@code /proc} and {@code /sys}.
 *
 * @param hostname         network host name
 * @param operatingSystem  OS family and version, e.g. "Debian GNU/Linux 12 (bookworm)"
 * @param memoryTotalBytes physical memory
 * @param memoryAvailableBytes memory available without swapping
 * @param cpuVendor        CPU vendor string, e.g. "GenuineIntel"
 * @param cpuModel         CPU model name
 * @param logicalCpus      logical processors
 * @param physicalCores    physical cores
 * @param cpuFlags         CPU feature flags as the kernel lists them (sorted, unique), e.g. {@code vmx}, {@code svm}
 * @param numaNodes        NUMA nodes with their logical CPUs, in node order
 */
public record HostFacts(String hostname, String operatingSystem, long memoryTotalBytes, long memoryAvailableBytes,
                        String cpuVendor, String cpuModel, int logicalCpus, int physicalCores,
                        List<String> cpuFlags, List<NumaNode> numaNodes) {

    public HostFacts {
        cpuFlags = List.copyOf(cpuFlags);
        numaNodes = List.copyOf(numaNodes);
    }

    /**
     * One NUMA node.
     *
     * @param node number
     * @param cpus logical CPU numbers on it
     */
    public record NumaNode(int node, List<Integer> cpus) {
        public NumaNode {
            cpus = List.copyOf(cpus);
        }
    }

    /** Hardware virtualisation advertised (Intel VT-x {@code vmx} or AMD-V {@code svm}); Xen HVM guests need it. */
    public boolean hardwareVirtualization() {
        return cpuFlags.contains("vmx") || cpuFlags.contains("svm");
    }
}
