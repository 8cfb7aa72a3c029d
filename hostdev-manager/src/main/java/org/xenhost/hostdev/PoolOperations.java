package org.xenhost.hostdev;

import org.xenhost.libxl.LibxlDevicePci;
import org.xenhost.libxl.LibxlException;
import org.xenhost.pci.PciAddress;
import org.xenhost.pci.PciDevice;

import java.util.List;
import java.util.Optional;

/**
 * The assignable pool, as {@code xl pci-assignable-add/-remove}: devices moved between their dom0 driver and
 * pciback through {@code Libxl}, each move announced in the journal first.
 */
final class PoolOperations {
    private final Host host;

    PoolOperations(Host host) {
        this.host = host;
    }

    /**
     * Makes a device assignable. Steps (each undone in reverse on failure):
     * <ol>
     *   <li>check: the device exists, is an endpoint, is not host-critical (unless forced), is not attached;
     *       pciback is loaded and sysfs writable;
     *   <li>journal: HOST, pending ADD, with the dom0 driver it leaves;
     *   <li>libxl assignable-add (unbind from the dom0 driver, pciback new_slot + bind, remember the driver);
     *   <li>journal: ASSIGNABLE.
     * </ol>
     * A device already in the pool is left as it is (idempotent).
     */
    Ownership add(PciAddress bdf, String name, boolean force) throws HostdevException {
        validateName(name);
        Steps s = new Steps("assignable-add", List.of(bdf), host.hook);
        try (DeviceLocks.Held held = host.locks.lock(List.of(bdf))) {
            s.step(1, "check");
            // the checks read only config-space facts (endpoint, class) and the binding: no whole re-read
            PciDevice d = host.requireBound(bdf);
            Optional<Ownership> cur = host.journal.get(bdf);
            if (cur.isPresent() && cur.get().pending() != Pending.NONE) {
                throw new HostdevException(bdf + " has an unfinished " + cur.get().pending() + " from an earlier "
                        + "failure; restart xenhost so it reconciles the device first");
            }
            if (cur.isPresent() && cur.get().state() == DeviceState.ASSIGNABLE && Host.PCIBACK.equals(d.driver())) {
                if (name != null && !name.equals(cur.get().name())) {
                    throw new IllegalArgumentException(bdf + " is already assignable"
                            + (cur.get().name() == null ? " without a name" : " as '" + cur.get().name() + "'")
                            + "; to rename it, remove it from the pool and add it again");
                }
                return cur.get();
            }
            List<Refusal> refusals = new SafetyChecks(host).forAdd(d, force);
            if (!refusals.isEmpty()) {
                throw new DeviceRefusedException("assignable-add", refusals);
            }
            host.requireWritablePciback();
            String original = Host.PCIBACK.equals(d.driver()) ? null : d.driver();

            s.step(2, "journal pending add");
            Ownership intent = new Ownership(bdf, DeviceState.HOST, Pending.ADD, null, original, name, false, false);
            host.journal.put(intent);
            s.undo("forget the pending add", () -> host.journal.drop(bdf));

            s.step(3, "libxl assignable-add (pciback bind)");
            LibxlDevicePci pci = Host.pci(bdf).withName(name);
            s.undo("give " + bdf + " back to " + (original == null ? "no driver" : original),
                    () -> host.giveBackIfMoved(bdf, original));
            host.libxl.assignableAdd(pci, true);

            s.step(4, "journal assignable");
            Ownership done = intent.settled(DeviceState.ASSIGNABLE);
            host.journal.put(done);
            return done;
        } catch (IllegalArgumentException e) {
            throw e; // refused in step 1, nothing to undo
        } catch (LibxlException | RuntimeException e) {
            throw s.unwind(e);
        }
    }

    /**
     * Returns a device from the pool to dom0. Steps:
     * <ol>
     *   <li>resolve BDF or name; check it is in the pool, not attached; pciback loaded, sysfs writable;
     *   <li>journal: pending REMOVE;
     *   <li>libxl assignable-remove (pciback unbind + remove_slot; with rebind, bind the remembered driver);
     *   <li>journal: the device is the host's again (entry dropped).
     * </ol>
     */
    PciAddress remove(String bdfOrName, boolean rebind) throws HostdevException {
        PciAddress bdf;
        try {
            bdf = resolve(bdfOrName);
        } catch (LibxlException e) {
            throw new HostdevException("cannot look up '" + bdfOrName + "': " + e.getMessage(), e);
        }
        Steps s = new Steps("assignable-remove", List.of(bdf), host.hook);
        try (DeviceLocks.Held held = host.locks.lock(List.of(bdf))) {
            s.step(1, "check");
            String driver = host.driverOf(bdf);
            Optional<Ownership> cur = host.journal.get(bdf);
            if (cur.isPresent() && cur.get().pending() != Pending.NONE) {
                throw new HostdevException(bdf + " has an unfinished " + cur.get().pending() + " from an earlier "
                        + "failure; restart xenhost so it reconciles the device first");
            }
            if (cur.isPresent() && cur.get().state() == DeviceState.ATTACHED) {
                throw new DeviceRefusedException("assignable-remove", List.of(new Refusal(bdf,
                        "is attached to domain " + cur.get().owner() + "; detach it first (xenhost detach-device "
                                + cur.get().owner().name() + " " + bdf + ")")));
            }
            if (!Host.PCIBACK.equals(driver)) {
                throw new IllegalArgumentException(bdf + " is not in the assignable pool (" + (driver == null
                        ? "bound to no driver" : "bound to dom0 driver " + driver) + "); nothing to remove");
            }
            host.requireWritablePciback();
            Ownership before = cur.orElse(Ownership.assignable(bdf, null, null));

            s.step(2, "journal pending remove");
            host.journal.put(before.pending(Pending.REMOVE).managed(before.managed(), rebind));
            s.undo("restore the pool entry", () -> host.journal.put(before));

            s.step(3, "libxl assignable-remove (pciback unbind" + (rebind ? ", rebind" : "") + ")");
            s.undo("put " + bdf + " back on pciback", () -> {
                Optional<PciDevice> now = host.device(bdf);
                if (now.isPresent() && !Host.PCIBACK.equals(now.get().driver())) {
                    host.libxl.assignableAdd(Host.pci(bdf).withName(before.name()), true);
                }
            });
            host.libxl.assignableRemove(Host.pci(bdf), rebind);

            s.step(4, "journal host");
            host.journal.drop(bdf);
            return bdf;
        } catch (IllegalArgumentException e) {
            throw e;
        } catch (LibxlException | RuntimeException e) {
            throw s.unwind(e);
        }
    }

    /** A BDF, or the friendly name of a device in the pool. */
    PciAddress resolve(String bdfOrName) throws LibxlException {
        if (bdfOrName == null || bdfOrName.isBlank()) {
            throw new IllegalArgumentException("device is missing: give a BDF (DDDD:BB:DD.F) or a name");
        }
        PciAddress a = PciAddress.parseOrNull(bdfOrName);
        if (a != null) {
            return a;
        }
        return host.byName(bdfOrName).orElseThrow(() -> new IllegalArgumentException("'" + bdfOrName
                + "' is neither a PCI address (" + PciAddress.EXPECTED_FORM + ") nor the name of an assignable "
                + "device (see `xenhost pci assignable-list`)"));
    }

    /** libxl's rule for names: at most 64 characters, every one printable and not a space. */
    static void validateName(String name) {
        if (name == null) {
            return;
        }
        if (name.isEmpty() || name.length() > 64 || !name.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
            throw new IllegalArgumentException("invalid device name '" + name + "': use 1 to 64 printable "
                    + "characters without spaces");
        }
        if (PciAddress.parseOrNull(name) != null) {
            throw new IllegalArgumentException("invalid device name '" + name + "': it reads as a PCI address; "
                    + "choose a name that does not");
        }
    }
}
