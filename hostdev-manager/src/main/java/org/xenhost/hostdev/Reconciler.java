package org.xenhost.hostdev;

import org.xenhost.libxl.DomainInfo;
import org.xenhost.libxl.LibxlException;
import org.xenhost.pci.PciAddress;
import org.xenhost.pci.PciDevice;
import org.xenhost.pci.PciInventory;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Start-up reconciliation: compares every journal entry with what sysfs (the device's driver) and libxl (the
 * domains' PCI backends) show, finishes or rolls back what a crash interrupted, and reports every device found in
 * an unexpected place. Afterwards every device is either with its owner or in the pool (or back with dom0), and
 * the journal says which. Runs before any operation, with no other operation in flight.
 *
 * <p>Rules for an interrupted operation, from the facts:
 * <ul>
 *   <li>the device is in a live domain's backend → ATTACHED to that domain (the attach completed);
 *   <li>else it is on pciback → ASSIGNABLE, except a managed START/STOP that took it from dom0: given back;
 *   <li>else it is on a dom0 driver → HOST (the add never happened or the remove completed);
 *   <li>else (unbound: libxl stopped between unbind and bind) → made assignable again (libxl assignable-add),
 *       since xenhost can only move devices through libxl and the pool is the safe place.
 * </ul>
 */
final class Reconciler {
    private final Host host;

    Reconciler(Host host) {
        this.host = host;
    }

    List<Finding> run() throws LibxlException {
        List<Finding> findings = new ArrayList<>();
        for (String w : host.journal.replayWarnings()) {
            findings.add(new Finding(new PciAddress(0, 0, 0, 0), "(journal)", w, "ignored"));
        }
        PciInventory inv = host.scan();
        Map<PciAddress, PciDevice> sysfs = new HashMap<>();
        for (PciDevice d : inv.devices()) {
            sysfs.put(d.address(), d);
        }
        Map<PciAddress, DomainInfo> attached = host.attachedByLibxl();

        for (Ownership o : host.journal.entries().values()) {
            reconcile(o, sysfs.get(o.bdf()), attached.get(o.bdf()), findings);
        }
        // ownership nobody recorded: xl, xen-pciback.hide=, or a lost state directory. Look again: the rules
        // above may have moved devices.
        inv = host.scan();
        sysfs.clear();
        for (PciDevice d : inv.devices()) {
            sysfs.put(d.address(), d);
        }
        attached = host.attachedByLibxl();
        for (Map.Entry<PciAddress, DomainInfo> e : attached.entrySet()) {
            if (host.journal.get(e.getKey()).isEmpty() && sysfs.containsKey(e.getKey())) {
                Owner owner = owner(e.getValue());
                host.journal.put(new Ownership(e.getKey(), DeviceState.ATTACHED, Pending.NONE, owner, null, null,
                        false, false));
                findings.add(new Finding(e.getKey(), "nothing", "attached to domain " + owner,
                        "adopted as attached to domain " + owner));
            }
        }
        for (PciDevice d : inv.devices()) {
            if (Host.PCIBACK.equals(d.driver()) && host.journal.get(d.address()).isEmpty()) {
                host.journal.put(Ownership.assignable(d.address(), null, null));
                findings.add(new Finding(d.address(), "nothing", "bound to pciback",
                        "adopted into the assignable pool"));
            }
        }
        try {
            host.journal.compact();
        } catch (IOException e) {
            findings.add(new Finding(new PciAddress(0, 0, 0, 0), "(journal)", "compaction failed: "
                    + e.getMessage(), "journal kept as is"));
        }
        return findings;
    }

    private void reconcile(Ownership o, PciDevice d, DomainInfo in, List<Finding> findings) throws LibxlException {
        String expected = describe(o);
        PciAddress bdf = o.bdf();
        if (d == null) {
            host.journal.drop(bdf);
            findings.add(new Finding(bdf, expected, "no such device in sysfs (removed while held)", "forgotten"));
            return;
        }
        boolean pending = o.pending() != Pending.NONE;
        if (in != null) {
            Owner owner = owner(in);
            boolean sameOwner = o.owner() != null && o.owner().uuid().equals(owner.uuid());
            Ownership now = new Ownership(bdf, DeviceState.ATTACHED, Pending.NONE, owner, o.originalDriver(),
                    o.name(), sameOwner && (o.managed() || o.returnToHost()), false);
            if (pending && o.pending() == Pending.STOP && sameOwner) {
                // the domain outlived an interrupted stop: it still has the device, which stays its own
                now = new Ownership(bdf, DeviceState.ATTACHED, Pending.NONE, owner, o.originalDriver(), o.name(),
                        o.managed(), false);
            }
            host.journal.put(now);
            if (pending || !sameOwner || o.state() != DeviceState.ATTACHED) {
                findings.add(new Finding(bdf, expected, "attached to domain " + owner,
                        "recorded as attached to domain " + owner));
            }
            return;
        }
        String driver = d.driver();
        if (Host.PCIBACK.equals(driver)) {
            // a managed device whose domain start was interrupted, or whose domain is gone, goes back to dom0
            boolean giveBack = (o.returnToHost() && (o.pending() == Pending.START || o.pending() == Pending.STOP))
                    || (o.pending() == Pending.NONE && o.state() == DeviceState.ATTACHED && o.managed());
            if (giveBack) {
                try {
                    host.libxl.assignableRemove(Host.pci(bdf), true);
                    host.journal.drop(bdf);
                    findings.add(new Finding(bdf, expected, "on pciback, in no domain",
                            "managed device given back to dom0 driver " + o.originalDriver()));
                    return;
                } catch (LibxlException e) {
                    host.journal.put(o.settled(DeviceState.ASSIGNABLE));
                    findings.add(new Finding(bdf, expected, "on pciback, in no domain",
                            "could not give it back to " + o.originalDriver() + " (" + e.getMessage()
                                    + "); kept in the assignable pool"));
                    return;
                }
            }
            host.journal.put(o.settled(DeviceState.ASSIGNABLE));
            if (pending || o.state() != DeviceState.ASSIGNABLE) {
                findings.add(new Finding(bdf, expected, "on pciback, in no domain", "in the assignable pool"));
            }
            return;
        }
        if (driver != null) {
            host.journal.drop(bdf);
            if (o.pending() != Pending.ADD || o.state() != DeviceState.HOST) {
                findings.add(new Finding(bdf, expected, "bound to dom0 driver " + driver, "left with dom0"));
            } else {
                findings.add(new Finding(bdf, expected, "bound to dom0 driver " + driver,
                        "the interrupted add never moved it; left with dom0"));
            }
            return;
        }
        if (o.state() == DeviceState.HOST && o.pending() == Pending.NONE) {
            host.journal.drop(bdf);
            return;
        }
        // unbound: libxl was interrupted between unbind and bind, or a remove without rebind completed
        if (o.pending() == Pending.REMOVE && !o.returnToHost()) {
            host.journal.drop(bdf);
            findings.add(new Finding(bdf, expected, "bound to no driver",
                    "the remove (without rebind) had completed; left with dom0, unbound"));
            return;
        }
        boolean toHost = o.returnToHost() && (o.pending() == Pending.REMOVE || o.pending() == Pending.START
                || o.pending() == Pending.STOP);
        try {
            // through libxl only: back on pciback first; libxl keeps the driver it remembered, so a remove with
            // rebind then binds that driver again
            host.libxl.assignableAdd(Host.pci(bdf).withName(o.name()), true);
            if (toHost) {
                host.libxl.assignableRemove(Host.pci(bdf), true);
                host.journal.drop(bdf);
                String now = host.device(bdf).map(PciDevice::driver).orElse(null);
                findings.add(new Finding(bdf, expected, "bound to no driver", now != null
                        ? "finished giving it back to dom0 driver " + now
                        : "finished taking it off pciback, but libxl no longer knew its dom0 driver; bind it with "
                        + "`echo " + bdf + " > /sys/bus/pci/drivers/" + o.originalDriver() + "/bind`"));
            } else {
                host.journal.put(o.settled(DeviceState.ASSIGNABLE));
                findings.add(new Finding(bdf, expected, "bound to no driver", "made assignable again (in the pool)"
                        + (o.originalDriver() == null ? "" : "; libxl may have lost its dom0 driver "
                        + o.originalDriver() + " (it died between unbind and recording it): if "
                        + "assignable-remove --rebind leaves it unbound, bind it with `echo " + bdf
                        + " > /sys/bus/pci/drivers/" + o.originalDriver() + "/bind`")));
            }
        } catch (LibxlException e) {
            host.journal.drop(bdf);
            findings.add(new Finding(bdf, expected, "bound to no driver",
                    "could not move it through libxl (" + e.getMessage() + "); left unbound with dom0"));
        }
    }

    private static Owner owner(DomainInfo d) {
        UUID uuid = d.uuid();
        return new Owner(uuid, d.name() == null ? "domid" + d.domid() : d.name(), d.domid());
    }

    private static String describe(Ownership o) {
        String s = o.state() + (o.owner() != null ? " (domain " + o.owner() + ")" : "");
        return o.pending() == Pending.NONE ? s : s + " with " + o.pending() + " pending";
    }
}
