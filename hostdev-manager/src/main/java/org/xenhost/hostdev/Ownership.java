package org.xenhost.hostdev;

import org.xenhost.pci.PciAddress;

import java.util.Objects;

/**
 * One journal entry: what xenhost knows about a device it has taken from the host.
 *
 * @param bdf            the device
 * @param state          where it has settled
 * @param pending        the operation announced and not yet confirmed
 * @param owner          the domain it belongs to (ATTACHED) or is being given to (ATTACH/START); else null
 * @param originalDriver the dom0 driver it was bound to before xenhost took it, null if none or unknown
 * @param name           the operator's friendly name, or null
 * @param managed        given back to {@code originalDriver} when its domain stops (libvirt's managed='yes')
 * @param returnToHost   a pending START/STOP must leave it on its host driver when unwound/finished
 */
public record Ownership(PciAddress bdf, DeviceState state, Pending pending, Owner owner, String originalDriver,
                        String name, boolean managed, boolean returnToHost) {
    public Ownership {
        Objects.requireNonNull(bdf, "bdf");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(pending, "pending");
        if (state == DeviceState.ATTACHED && owner == null) {
            throw new IllegalArgumentException("journal entry for " + bdf + " is ATTACHED without an owner");
        }
    }

    /**
     * Whether the device counts as free in the pool: settled (nothing pending) and given to no domain. A device in
     * the middle of a hand-over (being added or removed, taken by a managed start or a migration's replug, given
     * back at a stop) is not free even while it sits on pciback: another request must not be offered it.
     */
    public boolean free() {
        return pending == Pending.NONE && state != DeviceState.ATTACHED;
    }

    /** Whether {@code domain} has this device or is being given it. */
    public boolean ownedBy(java.util.UUID domain) {
        return owner != null && owner.uuid().equals(domain);
    }

    /** A device settled in the pool. */
    public static Ownership assignable(PciAddress bdf, String originalDriver, String name) {
        return new Ownership(bdf, DeviceState.ASSIGNABLE, Pending.NONE, null, originalDriver, name, false, false);
    }

    /** The same entry with another pending operation. */
    public Ownership pending(Pending p) {
        return new Ownership(bdf, state, p, owner, originalDriver, name, managed, returnToHost);
    }

    /** The same entry announcing {@code p} towards {@code newOwner}. */
    public Ownership pending(Pending p, Owner newOwner) {
        return new Ownership(bdf, state, p, newOwner, originalDriver, name, managed, returnToHost);
    }

    /** Settled in {@code s} with nothing pending (owner kept only for ATTACHED). */
    public Ownership settled(DeviceState s) {
        return new Ownership(bdf, s, Pending.NONE, s == DeviceState.ATTACHED ? owner : null, originalDriver, name,
                s == DeviceState.ATTACHED && managed, false);
    }

    /** The same entry with managed/returnToHost flags. */
    public Ownership managed(boolean isManaged, boolean giveBack) {
        return new Ownership(bdf, state, pending, owner, originalDriver, name, isManaged, giveBack);
    }

    /** The same entry with a name. */
    public Ownership named(String newName) {
        return new Ownership(bdf, state, pending, owner, originalDriver, newName, managed, returnToHost);
    }
}
