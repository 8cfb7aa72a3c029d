package org.xenhost.hostdev;

import org.xenhost.libxl.DomainInfo;
import org.xenhost.libxl.LibxlDevicePci;
import org.xenhost.libxl.LibxlError;
import org.xenhost.libxl.LibxlException;
import org.xenhost.pci.PciAddress;
import org.xenhost.pci.PciDevice;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * A domain's configured PCI devices at domain start and stop, in libvirt's order: check all → detach all from
 * dom0 → reset all → attach all → mark all active. Detaching everything before resetting anything matters because
 * a bus reset may touch several of them; resetting everything before activating any means no guest sees a device
 * that another one's reset could still disturb.
 */
final class ManagedDevices {
    private final Host host;

    ManagedDevices(Host host) {
        this.host = host;
    }

    /**
     * Gives a (created, not yet unpaused) domain its configured devices. Steps, undone in reverse on any failure so
     * that every device ends exactly where it was:
     * <ol>
     *   <li>check all: domain, no device listed twice, safety checks, unmanaged devices already assignable;
     *   <li>journal all: pending START to the domain;
     *   <li>detach all: managed devices still on dom0 drivers made assignable (libxl assignable-add);
     *   <li>reset all: a safe reset exists for every device now that the others have left dom0;
     *   <li>attach all: libxl pci-add, one spec at a time;
     *   <li>mark all active: journal ATTACHED.
     * </ol>
     */
    AttachResult start(String domain, List<HostdevSpec> specs) throws HostdevException {
        Owner owner;
        try {
            owner = host.resolveDomain(domain);
        } catch (LibxlException e) {
            throw new HostdevException("cannot look up domain '" + domain + "': " + e.getMessage(), e);
        }
        Map<PciAddress, HostdevSpec> byFunction = new LinkedHashMap<>();
        List<Refusal> duplicates = new ArrayList<>();
        for (HostdevSpec spec : specs) {
            HotplugOperations.checkOptions(spec.pci());
            for (PciAddress a : host.functions(spec.pci())) {
                if (byFunction.putIfAbsent(a, spec) != null) {
                    duplicates.add(new Refusal(a, "is listed twice in the configuration of domain " + owner));
                }
            }
        }
        if (!duplicates.isEmpty()) {
            throw new DeviceRefusedException("start of domain " + owner, duplicates);
        }
        List<PciAddress> all = new ArrayList<>(new TreeSet<>(byFunction.keySet()));
        Steps s = new Steps("managed-start", all, host.hook);
        // the group checks read every peer: hold them too (address order, as every multi-device lock)
        try (DeviceLocks.Held held = host.locks.lock(host.lockSet(all))) {
            s.step(1, "check all");
            SafetyChecks checks = new SafetyChecks(host);
            List<PciDevice> devices = new ArrayList<>();
            List<PciAddress> poolRequired = new ArrayList<>();
            for (PciAddress a : all) {
                devices.add(checks.device(a).orElseGet(() -> host.require(a)));
                if (!byFunction.get(a).managed()) {
                    poolRequired.add(a);
                }
            }
            List<Refusal> refusals = new ArrayList<>();
            for (HostdevSpec spec : invert(byFunction).keySet()) {
                List<PciDevice> group = new ArrayList<>();
                for (PciDevice d : devices) {
                    if (byFunction.get(d.address()) == spec) {
                        group.add(d);
                    }
                }
                // the whole request moves together: check each spec with every requested function as "moving"
                refusals.addAll(checks.forAttach(devices, owner.uuid(), spec.pci().seize(), false, poolRequired)
                        .stream().filter(r -> group.stream().anyMatch(g -> g.address().equals(r.bdf()))).toList());
            }
            if (!refusals.isEmpty()) {
                throw new DeviceRefusedException("start of domain " + owner, refusals);
            }
            host.requireWritablePciback();

            s.step(2, "journal all pending start");
            for (PciDevice d : devices) {
                Optional<Ownership> before = host.journal.get(d.address());
                boolean onHost = !Host.PCIBACK.equals(d.driver());
                Ownership base = before.orElseGet(() -> new Ownership(d.address(), DeviceState.HOST, Pending.NONE,
                        null, onHost ? d.driver() : null, null, false, false));
                HostdevSpec spec = byFunction.get(d.address());
                boolean managed = spec.managed();
                boolean backToHost = onHost || spec.returnToHost() && base.originalDriver() != null;
                host.journal.put(base.pending(Pending.START, owner).managed(managed, managed && backToHost));
                s.undo("restore the journal entry of " + d.address(), () -> host.journal.restore(d.address(), before));
            }

            s.step(3, "detach all from dom0");
            host.takeFromDom0(s, devices);

            s.step(4, "reset all");
            List<ResetPlan> plans = new ArrayList<>();
            Set<PciAddress> moving = new HashSet<>(all);
            org.xenhost.pci.PciInventory now = host.scan();
            for (PciAddress a : all) {
                PciDevice d = host.require(a);
                ResetPlan p = ResetSelector.select(d, now, moving, x -> host.usage(x, owner.uuid()));
                if (!p.available() && byFunction.get(a).strictReset()) {
                    throw new HostdevException(a + " has no safe reset: " + p.reason()
                            + " (add nostrictreset=1 to its spec to assign it unreset)");
                }
                plans.add(p.available() ? p : HotplugOperations.unreset(p, owner));
            }

            s.step(5, "attach all");
            Set<PciAddress> listedBefore = new HashSet<>();
            for (LibxlDevicePci p : host.libxl.pciList(owner.domid())) {
                listedBefore.add(Host.address(p));
            }
            for (HostdevSpec spec : invert(byFunction).keySet()) {
                LibxlDevicePci pci = spec.pci();
                s.undo("detach " + pci.bdf() + " from domain " + owner, () -> {
                    for (LibxlDevicePci p : host.libxl.pciList(owner.domid())) {
                        if (byFunction.get(Host.address(p)) == spec && !listedBefore.contains(Host.address(p))) {
                            host.libxl.pciRemove(owner.domid(), p, true);
                        }
                    }
                });
                for (LibxlDevicePci p : Host.perFunction(pci, host.functions(pci))) {
                    host.libxl.pciAdd(owner.domid(), p);
                }
            }

            s.step(6, "mark all active");
            for (PciAddress a : all) {
                Ownership o = host.journal.get(a).orElseThrow();
                host.journal.put(new Ownership(a, DeviceState.ATTACHED, Pending.NONE, owner, o.originalDriver(),
                        o.name(), o.returnToHost(), false));
            }
            return new AttachResult(owner, all, plans);
        } catch (IllegalArgumentException e) {
            throw e;
        } catch (LibxlException | RuntimeException | HostdevException e) {
            throw s.unwind(e);
        }
    }

    private static Map<HostdevSpec, List<PciAddress>> invert(Map<PciAddress, HostdevSpec> byFunction) {
        Map<HostdevSpec, List<PciAddress>> out = new LinkedHashMap<>();
        byFunction.forEach((a, spec) -> out.computeIfAbsent(spec, x -> new ArrayList<>()).add(a));
        return out;
    }

    /**
     * Takes back a domain's devices when it stops (after destroy, or before, forcing them out). This direction
     * only goes forward: a device that cannot be given back to dom0 stays in the pool and is reported. Steps:
     * <ol>
     *   <li>collect the devices the journal gives to this domain;
     *   <li>journal all: pending STOP;
     *   <li>detach all still listed by libxl (forced: the guest is going away);
     *   <li>reset all: report the reset pciback applies;
     *   <li>give managed devices back to their dom0 driver (libxl assignable-remove with rebind);
     *   <li>journal: managed devices dropped (host), unmanaged ones ASSIGNABLE.
     * </ol>
     *
     * @param domain domain name, domid or UUID; the domain may already be gone
     */
    StopResult stop(String domain) throws HostdevException {
        Owner owner = ownerOf(domain);
        List<PciAddress> all = new ArrayList<>();
        for (Ownership o : host.journal.entries().values()) {
            if (o.ownedBy(owner.uuid()) && o.state() == DeviceState.ATTACHED) {
                all.add(o.bdf());
            }
        }
        List<String> problems = new ArrayList<>();
        List<PciAddress> returned = new ArrayList<>();
        List<PciAddress> pooled = new ArrayList<>();
        List<ResetPlan> plans = new ArrayList<>();
        Steps s = new Steps("managed-stop", all, host.hook);
        try (DeviceLocks.Held held = host.locks.lock(all)) {
            // listed before the locks were held: keep only what is still this domain's (a concurrent detach may
            // have taken a device back meanwhile)
            all.removeIf(a -> host.journal.get(a).filter(o -> o.ownedBy(owner.uuid())
                    && o.state() == DeviceState.ATTACHED).isEmpty());
            s.step(1, "collect");
            Integer domid = liveDomid(owner);

            s.step(2, "journal all pending stop");
            for (PciAddress a : all) {
                Ownership o = host.journal.get(a).orElseThrow();
                host.journal.put(o.pending(Pending.STOP).managed(o.managed(), o.managed()));
            }

            s.step(3, "detach all from the domain");
            if (domid != null) {
                for (LibxlDevicePci p : host.libxl.pciList(domid)) {
                    if (all.contains(Host.address(p))) {
                        try {
                            host.libxl.pciRemove(domid, p, true);
                        } catch (LibxlException e) {
                            problems.add(p.bdf() + ": detach from domain " + owner + " failed: " + e.getMessage());
                        }
                    }
                }
            }

            s.step(4, "reset all");
            org.xenhost.pci.PciInventory now = host.scan();
            for (PciAddress a : all) {
                host.device(a).ifPresent(d -> plans.add(ResetSelector.select(d, now, new HashSet<>(all),
                        x -> host.usage(x, owner.uuid()))));
            }

            s.step(5, "give managed devices back to dom0");
            Map<PciAddress, Boolean> back = new LinkedHashMap<>();
            for (PciAddress a : all) {
                Ownership o = host.journal.get(a).orElseThrow();
                if (host.device(a).isEmpty()) {
                    back.put(a, null); // vanished while assigned
                } else if (o.returnToHost()) {
                    try {
                        host.libxl.assignableRemove(Host.pci(a), true);
                        back.put(a, true);
                    } catch (LibxlException e) {
                        problems.add(a + ": could not give it back to " + o.originalDriver() + " ("
                                + e.getMessage() + "); it stays in the assignable pool");
                        back.put(a, false);
                    }
                } else {
                    back.put(a, false);
                }
            }

            s.step(6, "journal");
            for (Map.Entry<PciAddress, Boolean> e : back.entrySet()) {
                Ownership o = host.journal.get(e.getKey()).orElseThrow();
                if (e.getValue() == null) {
                    host.journal.drop(e.getKey());
                    problems.add(e.getKey() + ": vanished from sysfs while assigned; forgotten");
                } else if (e.getValue()) {
                    host.journal.drop(e.getKey());
                    returned.add(e.getKey());
                } else {
                    host.journal.put(o.settled(DeviceState.ASSIGNABLE));
                    pooled.add(e.getKey());
                }
            }
            return new StopResult(owner, returned, pooled, plans, problems);
        } catch (LibxlException | RuntimeException e) {
            throw new HostdevException("stop of domain " + owner + " failed: " + e.getMessage()
                    + "; the journal keeps its devices pending STOP and a restart finishes the job", e);
        }
    }

    /** The owner recorded for {@code domain} (name, domid or UUID), falling back to libxl for a live domain. */
    private Owner ownerOf(String domain) throws HostdevException {
        for (Ownership o : host.journal.entries().values()) {
            Owner w = o.owner();
            if (w != null && (w.uuid().toString().equalsIgnoreCase(domain) || w.name().equals(domain)
                    || Integer.toString(w.domid()).equals(domain))) {
                return w;
            }
        }
        try {
            return host.resolveDomain(domain);
        } catch (LibxlException e) {
            throw new HostdevException("cannot look up domain '" + domain + "': " + e.getMessage(), e);
        }
    }

    /** The domid if the owner still runs (same UUID), else null. */
    private Integer liveDomid(Owner owner) throws LibxlException {
        try {
            DomainInfo d = host.libxl.domainInfo(owner.domid());
            return d.uuid().equals(owner.uuid()) ? d.domid() : null;
        } catch (LibxlException e) {
            if (e.error() == LibxlError.DOMAIN_NOTFOUND) {
                return null;
            }
            throw e;
        }
    }
}
