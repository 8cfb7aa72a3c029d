package org.xenhost.migration;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the source tells the destination before anything is sent (libvirt's migration cookie, with the guest's
 * needs added so the destination can refuse early).
 *
 * @param id             this migration's id, the same in both hosts' journals
 * @param name           the guest's name on the source
 * @param uuid           the guest's uuid
 * @param sourceHost     the source's host name
 * @param sourceEndpoint where the source daemon listens (HOST:PORT), for recovery questions; null if it does not
 * @param sourceHostId   the source's hypervisor ({@code HostInfo.hostId}); equal to the destination's in a same-host
 *                       migration, where the source's guest is visible on the destination; null if unknown
 * @param streamVersion  libxl stream version the source writes
 * @param memoryMiB      guest memory
 * @param vcpus          guest vCPUs
 * @param cpuFlags       CPU feature flags of the source host, which the guest may have seen and may use
 * @param configJson     the guest's libxl configuration (JSON), as restored on the destination
 * @param options        the operator's options
 * @param hostdevs       devices passed through to the guest on the source (moved with {@code --hostdev-policy=replug})
 * @param replug         source BDF → destination BDF, as the destination resolved it in prepare; empty before
 */
public record MigrationCookie(String id, String name, String uuid, String sourceHost, String sourceEndpoint,
                              String sourceHostId, int streamVersion, long memoryMiB, int vcpus, List<String> cpuFlags, String configJson,
                              MigrationOptions options, List<PassedDevice> hostdevs, Map<String, String> replug) {

    public MigrationCookie {
        cpuFlags = cpuFlags == null ? List.of() : List.copyOf(cpuFlags);
        hostdevs = hostdevs == null ? List.of() : List.copyOf(hostdevs);
        // insertion order is the guest's device order, which the destination keeps
        replug = replug == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(replug));
    }

    /** The same cookie with the destination's device mapping. */
    public MigrationCookie withReplug(Map<String, String> mapping) {
        return new MigrationCookie(id, name, uuid, sourceHost, sourceEndpoint, sourceHostId, streamVersion, memoryMiB, vcpus, cpuFlags,
                configJson, options, hostdevs, mapping);
    }

    /** Whether the source runs on this very hypervisor (two daemons on one Xen, as xl's localhost migration). */
    public boolean sameHostAs(String hostId) {
        return sourceHostId != null && sourceHostId.equals(hostId);
    }

    /** The name the guest will have on the destination. */
    public String destinationName() {
        return options.destName() != null ? options.destName() : name;
    }

    /** xl's name for the copy being received: never mistaken for the guest itself. */
    public String incomingName() {
        return destinationName() + "--incoming";
    }

    /** xl's name for the source copy after the destination holds a complete one. */
    public String migratedAwayName() {
        return name + "--migratedaway";
    }
}
