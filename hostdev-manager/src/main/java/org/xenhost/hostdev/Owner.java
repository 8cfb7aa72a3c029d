package org.xenhost.hostdev;

import java.util.Objects;
import java.util.UUID;

/**
 * The domain a device belongs to. Ownership is keyed by UUID (names can be reused and domids recycled); the
 * name and domid are kept to explain refusals and to find the domain in libxl.
 *
 * @param uuid  the domain's UUID
 * @param name  its name when the device was given to it
 * @param domid its domid when the device was given to it
 */
public record Owner(UUID uuid, String name, int domid) {
    public Owner {
        Objects.requireNonNull(uuid, "uuid");
        Objects.requireNonNull(name, "name");
    }

    /** {@code name (domid N)}, as refusals quote it. */
    @Override
    public String toString() {
        return name + " (domid " + domid + ")";
    }
}
