package org.xenhost.hostdev;

import org.xenhost.pci.ConfigSpace;
import org.xenhost.pci.PciAddress;
import org.xenhost.pci.PciDevice;
import org.xenhost.pci.PciInventory;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * The checks that stand between a request and the host, each refusal naming the device and the reason:
 * <ul>
 *   <li>only endpoints (header type 0) can be given away, never bridges;
 *   <li>a device another domain owns is refused, naming that domain;
 *   <li>every other member of the device's IOMMU group must be free (not on a dom0 driver, not with another domain)
 *       or part of the same request: the IOMMU cannot isolate members of one group from each other (bridges in the
 *       group are exempt, as VFIO exempts them);
 *   <li>functions of one multi-function device are not split between dom0 and a guest unless the request says
 *       {@code seize};
 *   <li>the device under the root filesystem or the default-route interface is refused unless forced.
 * </ul>
 */
final class SafetyChecks {
    private final Host host;
    private final Map<PciAddress, PciDevice> byAddress = new java.util.HashMap<>();
    private final Map<PciAddress, String> critical;
    private PciInventory inventory;

    /**
     * Checks against one snapshot of the host-critical devices (taken now) and of sysfs (taken when a check first
     * needs other devices than the one asked about: a whole scan costs about a millisecond per function).
     */
    SafetyChecks(Host host) {
        this(host, null);
    }

    /** Checks against {@code inventory}, a scan just made by the caller (null: scan when first needed). */
    SafetyChecks(Host host, PciInventory inventory) {
        this.host = host;
        this.critical = host.critical.find();
        if (inventory != null) {
            this.inventory = inventory;
            for (PciDevice d : inventory.devices()) {
                byAddress.put(d.address(), d);
            }
        }
    }

    PciInventory inventory() {
        if (inventory == null) {
            inventory = host.scan();
            for (PciDevice d : inventory.devices()) {
                byAddress.put(d.address(), d);
            }
        }
        return inventory;
    }

    Optional<PciDevice> device(PciAddress a) {
        inventory();
        return Optional.ofNullable(byAddress.get(a));
    }

    /** Refusals for making {@code d} assignable. */
    List<Refusal> forAdd(PciDevice d, boolean force) {
        List<Refusal> out = new ArrayList<>();
        endpoint(d, out);
        critical(d, force, out);
        host.journal.get(d.address()).filter(o -> o.state() == DeviceState.ATTACHED).ifPresent(o ->
                out.add(new Refusal(d.address(), "is attached to domain " + o.owner()
                        + "; detach it first (xenhost detach-device " + o.owner().name() + " " + d.address() + ")")));
        return out;
    }

    /**
     * Refusals for giving {@code request} to {@code requester}.
     *
     * @param seize        the request may take functions from dom0 (and split a multi-function device)
     * @param poolRequired devices that must already be assignable (hotplug without seize, unmanaged devices)
     */
    List<Refusal> forAttach(List<PciDevice> request, UUID requester, boolean seize, boolean force,
                            Collection<PciAddress> poolRequired) {
        inventory();
        List<Refusal> out = new ArrayList<>();
        Set<PciAddress> moving = new HashSet<>();
        for (PciDevice d : request) {
            moving.add(d.address());
        }
        for (PciDevice d : request) {
            endpoint(d, out);
            owned(d, requester, out);
            iommuGroup(d, requester, moving, out);
            multiFunction(d, moving, seize, out);
            critical(d, force, out);
            if (poolRequired.contains(d.address()) && !Host.PCIBACK.equals(d.driver())) {
                out.add(new Refusal(d.address(), "is not assignable (" + (d.driver() == null ? "bound to no driver"
                        : "bound to dom0 driver " + d.driver()) + "): make it assignable first with `xenhost pci "
                        + "assignable-add " + d.address() + "`" + (seize ? "" : " or add seize=1 to the spec")));
            }
        }
        return out;
    }

    /** The verdict {@code pci list} shows: can this device, alone, be given to a guest now? */
    List<Refusal> verdict(PciDevice d) {
        inventory();
        List<Refusal> out = new ArrayList<>();
        endpoint(d, out);
        host.journal.get(d.address()).ifPresent(o -> {
            if (o.owner() != null) {
                out.add(new Refusal(d.address(), "is owned by domain " + o.owner()
                        + (o.pending() == Pending.NONE ? "" : " (" + o.pending() + " in progress)")));
            } else if (o.pending() != Pending.NONE) {
                out.add(new Refusal(d.address(), "is being moved (" + o.pending() + " in progress): wait until it "
                        + "ends (if no xenhost operation runs, restart xenhost so it finishes the move)"));
            }
        });
        iommuGroup(d, null, Set.of(d.address()), out);
        critical(d, false, out);
        return out;
    }

    private static void endpoint(PciDevice d, List<Refusal> out) {
        ConfigSpace.HeaderType t = d.headerType();
        if (t == ConfigSpace.HeaderType.UNKNOWN) {
            out.add(new Refusal(d.address(), "has unreadable config space, so it is not known to be an endpoint"));
        } else if (t != ConfigSpace.HeaderType.ENDPOINT) {
            out.add(new Refusal(d.address(), "is a " + t.label() + " (header type " + t.label()
                    + "), not an endpoint: only endpoint devices can be given to a guest"));
        } else if (d.pciClass() != null && d.pciClass() >> 8 == 0x0600) {
            // a host bridge has an endpoint header but is the root complex's own face, not a device
            out.add(new Refusal(d.address(), "is a host bridge (class 0600): it is part of the root complex, "
                    + "not a device that can be given to a guest"));
        }
    }

    private void owned(PciDevice d, UUID requester, List<Refusal> out) {
        host.journal.get(d.address()).filter(o -> o.owner() != null && o.owner().uuid().equals(requester))
                .ifPresent(o -> out.add(new Refusal(d.address(), "is already "
                        + (o.state() == DeviceState.ATTACHED ? "attached to" : "being given to")
                        + " domain " + o.owner())));
        host.journal.get(d.address()).filter(o -> o.owner() != null && !o.owner().uuid().equals(requester))
                .ifPresent(o -> out.add(new Refusal(d.address(), "is owned by domain " + o.owner()
                        + (o.pending() == Pending.NONE ? "" : " (" + o.pending() + " in progress)"))));
    }

    private void iommuGroup(PciDevice d, UUID requester, Set<PciAddress> moving, List<Refusal> out) {
        for (PciAddress peer : d.iommuGroupPeers()) {
            if (moving.contains(peer) || peer.equals(d.address())) {
                continue;
            }
            PciDevice p = byAddress.get(peer);
            if (p == null || p.headerType() == ConfigSpace.HeaderType.BRIDGE) {
                continue;
            }
            host.usage(p, requester).ifPresent(u -> out.add(new Refusal(d.address(), "shares IOMMU group "
                    + d.iommuGroup() + " with " + peer + ", which is in use by " + u
                    + ": the IOMMU cannot isolate them, so give the whole group to one domain")));
        }
    }

    private void multiFunction(PciDevice d, Set<PciAddress> moving, boolean seize, List<Refusal> out) {
        // SR-IOV VFs share slot numbers without being one device; a real multi-function device says so in its
        // header type (bit 7), which the kernel also reads to decide whether to probe functions 1..7
        if (seize || d.physfn() != null || !multiFunctionHeader(d)) {
            return;
        }
        PciAddress a = d.address();
        for (int f = 0; f < 8; f++) {
            PciAddress sib = new PciAddress(a.domain(), a.bus(), a.device(), f);
            if (f == a.function() || moving.contains(sib)) {
                continue;
            }
            PciDevice s = byAddress.get(sib);
            if (s != null && s.physfn() == null && s.driver() != null && !Host.PCIBACK.equals(s.driver())) {
                out.add(new Refusal(a, "is one function of a multi-function device whose function " + sib
                        + " stays with the host (driver " + s.driver() + "): give every function ("
                        + a.toString().substring(0, 10) + ".*) or add seize=1 to split it deliberately"));
            }
        }
    }

    /** Function 0's header says multi-function (or, if function 0 is unreadable, this function's does). */
    private boolean multiFunctionHeader(PciDevice d) {
        PciAddress a = d.address();
        PciDevice f0 = byAddress.get(new PciAddress(a.domain(), a.bus(), a.device(), 0));
        PciDevice source = f0 != null && f0.config() != null ? f0 : d;
        return source.config() != null && source.config().multiFunction();
    }

    private void critical(PciDevice d, boolean force, List<Refusal> out) {
        String why = critical.get(d.address());
        if (why != null && !force) {
            out.add(new Refusal(d.address(), why + ": dom0 would lose it; refused unless forced (--force)"));
        }
    }
}
