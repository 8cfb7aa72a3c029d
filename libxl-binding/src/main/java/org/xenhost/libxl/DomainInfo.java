package org.xenhost.libxl;

import java.util.Objects;
import java.util.UUID;

/**
 * What xenhost needs from {@code libxl_dominfo}, plus the domain's name (which libxl keeps in xenstore,
 * not in dominfo).
 *
 * @param domid          the domain id, 0..0x7fef
 * @param uuid           the domain's handle
 * @param name           the domain's name, or null if it has none (a domain being created or destroyed)
 * @param state          condensed run state
 * @param shutdownReason why it shut down; {@link ShutdownReason#UNKNOWN} unless state is SUSPENDED or SHUTDOWN
 * @param currentMemoryKb memory the domain holds now ({@code current_memkb})
 * @param maxMemoryKb    its ceiling ({@code max_memkb})
 * @param vcpus          online vCPUs ({@code vcpu_online})
 * @param cpuTimeNs      CPU time consumed, nanoseconds
 * @param type           as libxl_dominfo reports it: {@link DomainType#HVM} for HVM <em>and</em> PVH guests (Xen flags
 *                       both as HVM containers), {@link DomainType#PV} otherwise; the configured type is
 *                       {@code c_info.type} in the domain's configuration JSON
 */
public record DomainInfo(int domid, UUID uuid, String name, DomainState state, ShutdownReason shutdownReason,
                         long currentMemoryKb, long maxMemoryKb, int vcpus, long cpuTimeNs, DomainType type) {
    public DomainInfo {
        if (domid < 0 || domid >= 0x7ff0) {
            throw new IllegalArgumentException("domid " + domid + " is not a domain id (0..32751)");
        }
        Objects.requireNonNull(uuid, "uuid");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(shutdownReason, "shutdownReason");
        Objects.requireNonNull(type, "type");
    }
}
