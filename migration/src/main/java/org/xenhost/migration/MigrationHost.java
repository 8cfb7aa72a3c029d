package org.xenhost.migration;

import java.util.List;

/**
 * What the migration needs from the driver that hosts it: facts for the destination's early checks, and the
 * bookkeeping of the driver's domain list when a guest arrives or leaves. The migration itself drives
 * {@code Libxl}; it never touches the driver's state files.
 */
public interface MigrationHost {
    /** This host's name, for the cookie. */
    String hostName();

    /** CPU feature flags of this host. */
    List<String> cpuFlags();

    /** Memory free for new guests, MiB. */
    long freeMemoryMiB();

    /** Why a guest with this name or uuid cannot arrive here (one exists already), or null if it can. */
    String conflict(String name, String uuid);

    /** Destination: the guest runs here now (or waits paused, as asked) under {@code cookie.destinationName()}. */
    void incomingCommitted(MigrationCookie cookie, int domid, boolean paused);

    /** Destination, offline migration: define the guest here. */
    void incomingDefined(MigrationCookie cookie);

    /** Source: the destination runs the guest; this host's copy is destroyed. */
    void outgoingCommitted(String uuid, MigrationOptions options);

    /** Source: the guest runs here again. */
    void outgoingRolledBack(String uuid, int domid);
}
