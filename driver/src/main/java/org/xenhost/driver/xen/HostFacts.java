package org.xenhost.driver.xen;

import java.util.List;

/**
 * What the dom0 operating system says about the host (the daemon fills it from OSHI); combined with libxl's
 * view into {@link org.xenhost.driver.api.HostDescription}.
 */
public record HostFacts(String hostname, String cpuModel, List<String> cpuFlags, int numaNodes) {
    public HostFacts {
        cpuFlags = List.copyOf(cpuFlags);
    }
}
