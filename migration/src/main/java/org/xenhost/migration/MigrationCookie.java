package org.xenhost.migration;

import java.util.List;

/**
 * What the source tells the destination before anything is sent (libvirt's migration cookie, with the guest's
 * needs added so the destination can refuse early).
 *
 * @param id             this migration's id, the same in both hosts' journals
 * @param name           the guest's name on the source
 * @param uuid           the guest's uuid
 * @param sourceHost     the source's host name
 * @param sourceEndpoint where the source daemon listens (HOST:PORT), for recovery questions; null if it does not
 * @param streamVersion  libxl stream version the source writes
 * @param memoryMiB      guest memory
 * @param vcpus          guest vCPUs
 * @param cpuFlags       CPU feature flags of the source host, which the guest may have seen and may use
 * @param configJson     the guest's libxl configuration (JSON), as restored on the destination
 * @param options        the operator's options
 */
public record MigrationCookie(String id, String name, String uuid, String sourceHost, String sourceEndpoint,
                              int streamVersion, long memoryMiB, int vcpus, List<String> cpuFlags, String configJson,
                              MigrationOptions options) {

    public MigrationCookie {
        cpuFlags = cpuFlags == null ? List.of() : List.copyOf(cpuFlags);
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
