package org.xenhost.migration;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What the migration needs from the driver that hosts it: facts for the destination's early checks, and the
 * bookkeeping of the driver's domain list when a guest arrives or leaves. The migration itself drives
 * {@code Libxl}; it never touches the driver's state files.
 */
public interface MigrationHost {
    /** This host's name, for the cookie. */
    String hostName();

    /**
     * Which hypervisor this host runs ({@code HostInfo.hostId}), or null if unknown. When the source's equals the
     * destination's, both daemons drive one Xen: the guest being migrated is visible here under its name and uuid
     * and is not a conflict.
     */
    default String hostId() {
        return null;
    }

    /** CPU feature flags of this host. */
    List<String> cpuFlags();

    /** Memory free for new guests, MiB. */
    long freeMemoryMiB();

    /** Why a guest with this name or uuid cannot arrive here (one exists already), or null if it can. */
    String conflict(String name, String uuid);

    /**
     * Why the guest of {@code cookie} cannot arrive here, or null. A host that can see the source's own copy (a
     * same-host migration, {@code cookie.sameHostAs(hostId())}) must not count that copy as a conflict.
     */
    default String conflict(MigrationCookie cookie) {
        return conflict(cookie.destinationName(), cookie.uuid());
    }

    /** Destination: the guest runs here now (or waits paused, as asked) under {@code cookie.destinationName()}. */
    void incomingCommitted(MigrationCookie cookie, int domid, boolean paused);

    /** Destination, offline migration: define the guest here. */
    void incomingDefined(MigrationCookie cookie);

    /** Source: the destination runs the guest; this host's copy is destroyed. */
    void outgoingCommitted(String uuid, MigrationOptions options);

    /** Source: the guest runs here again. */
    void outgoingRolledBack(String uuid, int domid);

    // ---- passed-through devices (--hostdev-policy=replug); a host without a device manager takes none ----

    /**
     * Destination, in prepare: this host's device for each of {@code cookie.hostdevs()}, honouring
     * {@code options().hostdevMap()} or else matching automatically (an assignable device, on pciback and in no
     * domain, of the same vendor:device and, for a VF, the same parent type), never one in {@code reserved}.
     * Nothing is taken yet.
     *
     * @return source BDF → destination BDF, in the order of {@code cookie.hostdevs()}
     * @throws MigrationException (REFUSED) saying which device cannot be matched and why
     */
    default Map<String, String> planReplug(MigrationCookie cookie, Set<String> reserved) {
        if (cookie.hostdevs().isEmpty()) {
            return Map.of();
        }
        throw new MigrationException(MigrationException.Kind.REFUSED, "this host has no host-device manager, so it "
                + "cannot take the devices " + cookie.hostdevs().stream().map(PassedDevice::bdf).toList());
    }

    /** Source, before the stream: detach the guest's devices (they stay in the pool until the migration ends). */
    default void unplugOutgoing(MigrationCookie cookie, int domid) {
        throw new MigrationException(MigrationException.Kind.REFUSED, "this host cannot detach host devices");
    }

    /** Source, when the guest stays: give it its devices back. Safe to repeat (devices it has are skipped). */
    default void replugOutgoing(MigrationCookie cookie, int domid) {
    }

    /** Source, after the commit: the detached devices go where their policy says (dom0 driver or the pool). */
    default void releaseOutgoing(MigrationCookie cookie) {
    }

    /** Destination, before unpausing: attach the mapped devices to the copy. Safe to repeat. */
    default void plugIncoming(MigrationCookie cookie, int domid) {
        if (!cookie.replug().isEmpty()) {
            throw new MigrationException(MigrationException.Kind.FAILED, "this host cannot attach host devices");
        }
    }

    /** Destination, after destroying its copy: release what {@link #plugIncoming} attached, if anything. */
    default void unplugIncoming(MigrationCookie cookie) {
    }
}
