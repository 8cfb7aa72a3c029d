package org.xenhost.hostdev;

import org.xenhost.libxl.LibxlDevicePci;
import org.xenhost.libxl.LibxlException;
import org.xenhost.pci.PciAddress;
import org.xenhost.pci.PciDevice;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/** Attaching devices to a running domain and detaching them (hotplug), with every {@code libxl_device_pci} option. */
final class HotplugOperations {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(HotplugOperations.class);
    private final Host host;

    HotplugOperations(Host host) {
        this.host = host;
    }

    /**
     * Attaches {@code spec} (one function, or {@code BB:DD.*} for every function) to a domain. Steps:
     * <ol>
     *   <li>check: domain, devices, options, safety checks, a safe reset for each function;
     *   <li>journal: each function pending ATTACH to the domain;
     *   <li>with {@code seize}: make functions still on dom0 drivers assignable (libxl assignable-add);
     *   <li>libxl pci-add with the spec's options (permissive, msitranslate, power_mgmt, rdm_policy, vslot);
     *   <li>journal: ATTACHED to the domain.
     * </ol>
     */
    AttachResult attach(String domain, LibxlDevicePci spec, boolean force, boolean strictReset) throws HostdevException {
        Owner owner;
        LibxlDevicePci resolved;
        try {
            owner = host.resolveDomain(domain);
            resolved = resolveName(spec);
        } catch (LibxlException e) {
            throw new HostdevException("cannot look up domain '" + domain + "': " + e.getMessage(), e);
        }
        checkOptions(resolved);
        List<PciAddress> functions = host.functions(resolved);
        Steps s = new Steps("attach", functions, host.hook);
        // the IOMMU-group and multi-function checks read the peers: hold them too, so none changes hands meanwhile
        try (DeviceLocks.Held held = host.locks.lock(host.lockSet(functions))) {
            s.step(1, "check");
            SafetyChecks checks = new SafetyChecks(host);
            List<PciDevice> devices = new ArrayList<>();
            for (PciAddress a : functions) {
                devices.add(checks.device(a).orElseGet(() -> host.require(a)));
            }
            List<Refusal> refusals = checks.forAttach(devices, owner.uuid(), resolved.seize(), force,
                    resolved.seize() ? List.of() : functions);
            List<ResetPlan> plans = resetPlans(devices, checks, functions, owner, force, strictReset, refusals);
            if (!refusals.isEmpty()) {
                throw new DeviceRefusedException("attach to domain " + owner, refusals);
            }
            host.requireWritablePciback();

            s.step(2, "journal pending attach");
            for (PciDevice d : devices) {
                Optional<Ownership> before = host.journal.get(d.address());
                Ownership base = before.orElseGet(() -> new Ownership(d.address(), DeviceState.HOST, Pending.NONE,
                        null, Host.PCIBACK.equals(d.driver()) ? null : d.driver(), null, false, false));
                host.journal.put(base.pending(Pending.ATTACH, owner));
                s.undo("restore the journal entry of " + d.address(), () -> host.journal.restore(d.address(), before));
            }

            s.step(3, "seize functions from dom0");
            host.takeFromDom0(s, devices);

            s.step(4, "libxl pci-add");
            Set<PciAddress> listedBefore = listed(owner.domid());
            s.undo("detach from domain " + owner, () -> {
                Set<PciAddress> listed = listed(owner.domid());
                for (PciAddress a : functions) {
                    if (listed.contains(a) && !listedBefore.contains(a)) {
                        host.libxl.pciRemove(owner.domid(), Host.pci(a), true);
                    }
                }
            });
            for (LibxlDevicePci p : Host.perFunction(resolved, functions)) {
                host.libxl.pciAdd(owner.domid(), p);
            }

            s.step(5, "journal attached");
            for (PciAddress a : functions) {
                Ownership o = host.journal.get(a).orElseThrow();
                host.journal.put(o.settled(DeviceState.ATTACHED));
            }
            return new AttachResult(owner, functions, plans);
        } catch (IllegalArgumentException e) {
            throw e;
        } catch (LibxlException | RuntimeException e) {
            throw s.unwind(e);
        }
    }

    /**
     * Detaches one function from a domain. Steps:
     * <ol>
     *   <li>check: the domain has the device (libxl's list);
     *   <li>journal: pending DETACH;
     *   <li>libxl pci-remove ({@code force}: pci-destroy, without waiting for the guest);
     *   <li>journal: ASSIGNABLE (the device stays on pciback), or dropped if it vanished from sysfs.
     * </ol>
     */
    PciAddress detach(String domain, PciAddress bdf, boolean force) throws HostdevException {
        Owner owner;
        try {
            owner = host.resolveDomain(domain);
        } catch (LibxlException e) {
            throw new HostdevException("cannot look up domain '" + domain + "': " + e.getMessage(), e);
        }
        Steps s = new Steps("detach", List.of(bdf), host.hook);
        try (DeviceLocks.Held held = host.locks.lock(List.of(bdf))) {
            s.step(1, "check");
            LibxlDevicePci attached = null;
            for (LibxlDevicePci p : host.libxl.pciList(owner.domid())) {
                if (Host.address(p).equals(bdf)) {
                    attached = p;
                }
            }
            Optional<Ownership> before = host.journal.get(bdf);
            if (attached == null) {
                String where = before.filter(o -> o.owner() != null)
                        .map(o -> "; it belongs to domain " + o.owner()).orElse("");
                throw new IllegalArgumentException(bdf + " is not attached to domain " + owner + where
                        + " (see `xl pci-list " + owner.name() + "`)");
            }
            if (before.isPresent() && before.get().pending() != Pending.NONE) {
                throw new HostdevException(bdf + " has an unfinished " + before.get().pending()
                        + "; restart xenhost so it reconciles the device first");
            }
            Ownership base = before.orElseGet(() -> new Ownership(bdf, DeviceState.ATTACHED, Pending.NONE, owner,
                    null, null, false, false));

            s.step(2, "journal pending detach");
            host.journal.put(base.pending(Pending.DETACH, owner));
            s.undo("restore the journal entry", () -> host.journal.restore(bdf, before));

            s.step(3, "libxl pci-remove" + (force ? " (forced)" : ""));
            host.libxl.pciRemove(owner.domid(), attached, force);

            s.step(4, "journal assignable");
            if (host.device(bdf).isEmpty()) {
                host.journal.drop(bdf); // the device went away while assigned
            } else {
                host.journal.put(base.pending(Pending.DETACH, owner).settled(DeviceState.ASSIGNABLE));
            }
            return bdf;
        } catch (IllegalArgumentException e) {
            throw e;
        } catch (LibxlException | RuntimeException e) {
            throw s.unwind(e);
        }
    }

    private List<ResetPlan> resetPlans(List<PciDevice> devices, SafetyChecks checks, List<PciAddress> moving,
                                       Owner owner, boolean force, boolean strictReset, List<Refusal> refusals) {
        List<ResetPlan> plans = new ArrayList<>();
        Set<PciAddress> movingSet = new HashSet<>(moving);
        for (PciDevice d : devices) {
            ResetPlan p = ResetSelector.select(d, checks.inventory(), movingSet, x -> host.usage(x, owner.uuid()));
            if (!p.available() && !strictReset) {
                p = unreset(p, owner);
            } else if (!p.available() && !force) {
                refusals.add(new Refusal(d.address(), "has no safe reset (" + p.reason()
                        + "); refused unless forced (--force) or its spec says nostrictreset=1"));
            }
            plans.add(p);
        }
        return plans;
    }

    /**
     * Qubes' {@code nostrictreset}: a device without a safe reset goes to the guest unreset. Said loudly, in the
     * log and in the plan the caller reports.
     */
    static ResetPlan unreset(ResetPlan none, Owner owner) {
        ResetPlan p = none.notReset();
        LOG.warn("{} goes to domain {} WITHOUT a reset (nostrictreset=1): {}", p.bdf(), owner, none.reason());
        return p;
    }

    private LibxlDevicePci resolveName(LibxlDevicePci spec) throws LibxlException {
        if (spec.vfuncMask() != 0 || spec.name() == null) {
            return spec;
        }
        // name=NAME alone: libxl resolves it the same way (its assignable list)
        PciAddress a = host.byName(spec.name()).orElseThrow(() -> new IllegalArgumentException("no assignable "
                + "device is called '" + spec.name() + "' (see `xenhost pci assignable-list`)"));
        return new LibxlDevicePci(a.domain(), a.bus(), a.device(), a.function(), spec.vdevfn(), 1,
                spec.msitranslate(), spec.powerMgmt(), spec.permissive(), spec.seize(), spec.rdmPolicy(), null);
    }

    /** Options libxl would refuse late (after the device moved) are refused here, before anything moves. */
    static void checkOptions(LibxlDevicePci spec) {
        if (spec.allFunctions() && spec.vdevfn() == 0) {
            throw new IllegalArgumentException("conflicting options in PCI spec for " + spec.bdf().substring(0, 10)
                    + ".*: every function of a device needs a virtual slot (add @SLOT or vslot=SLOT), as libxl requires");
        }
        if (spec.allFunctions() && (spec.vdevfn() & 7) != 0) {
            throw new IllegalArgumentException("conflicting options in PCI spec for " + spec.bdf().substring(0, 10)
                    + ".*: a whole multi-function device takes a slot, not a slot and function");
        }
    }

    private Set<PciAddress> listed(int domid) throws LibxlException {
        Set<PciAddress> out = new HashSet<>();
        for (LibxlDevicePci p : host.libxl.pciList(domid)) {
            out.add(Host.address(p));
        }
        return out;
    }
}
