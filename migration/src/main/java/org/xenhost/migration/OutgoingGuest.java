package org.xenhost.migration;

import java.util.List;

/**
 * The guest a source migration moves, as the driver knows it.
 *
 * @param domid      its domain id (null for an offline migration of a shut-off domain)
 * @param name       its name
 * @param uuid       its uuid
 * @param configJson its libxl configuration (JSON)
 * @param memoryMiB  its memory
 * @param vcpus      its vCPUs
 * @param hostdevs   devices passed through to it
 */
public record OutgoingGuest(Integer domid, String name, String uuid, String configJson, long memoryMiB, int vcpus,
                            List<PassedDevice> hostdevs) {
    public OutgoingGuest {
        hostdevs = hostdevs == null ? List.of() : List.copyOf(hostdevs);
    }

    /** The devices' BDFs, for messages. */
    public List<String> hostdevBdfs() {
        return hostdevs.stream().map(PassedDevice::bdf).toList();
    }
}
