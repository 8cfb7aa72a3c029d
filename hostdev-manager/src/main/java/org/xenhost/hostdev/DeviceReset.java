package org.xenhost.hostdev;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenhost.libxl.DomainInfo;
import org.xenhost.libxl.LibxlException;
import org.xenhost.pci.PciAddress;
import org.xenhost.pci.PciDevice;
import org.xenhost.pci.PciInventory;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * {@code virsh nodedev-reset} for Xen: resets a function nobody uses, by libxl's own recipe
 * ({@code Libxl.pciReset}). Like libvirt it resets only a device detached from the host, and like xenhost's other
 * operations it first checks that a reset exists that cleans only this device. Ownership does not change, so
 * nothing is journalled; the reset is logged.
 */
final class DeviceReset {
    private static final Logger LOG = LoggerFactory.getLogger(DeviceReset.class);

    private final Host host;

    DeviceReset(Host host) {
        this.host = host;
    }

    /**
     * Resets {@code bdf}. Steps:
     * <ol>
     *   <li>plan without locks, to learn what to lock: the device, and for a secondary bus reset every function
     *       behind the same bridge (the reset hits them all, so none may change hands meanwhile);
     *   <li>under those locks, check: no unfinished operation on it; no domain has it (xenhost's journal, then
     *       libxl's own account, which also sees devices given by {@code xl}); it is on pciback or on no driver;
     *       the plan (checked again) has a safe method;
     *   <li>reset through libxl's recipe. Nothing to undo: a failed reset leaves the device where it was.
     * </ol>
     *
     * @return the plan that was carried out
     * @throws DeviceRefusedException   for a device in use, still on its dom0 driver, or without a safe reset
     * @throws IllegalArgumentException for a device sysfs does not have
     * @throws HostdevException         when libxl or the kernel fails the reset
     */
    ResetPlan reset(PciAddress bdf) throws HostdevException {
        // 1. what to lock (one scan serves the plan and the bridge's other functions)
        PciInventory before = host.scan();
        PciDevice seen = find(before, bdf);
        ResetPlan first = plan(seen, before);
        Set<PciAddress> lock = new TreeSet<>(Set.of(bdf));
        if (first.method() == ResetMethod.BUS) {
            lock.addAll(behindSameBridge(seen, before));
        }
        try (DeviceLocks.Held held = host.locks.lock(lock)) {
            // 2. check, on a scan taken under the locks (one again for everything below)
            PciInventory now = host.scan();
            PciDevice d = find(now, bdf);
            Optional<Ownership> o = host.journal.get(bdf);
            if (o.isPresent() && o.get().pending() != Pending.NONE) {
                throw new HostdevException("reset " + bdf + ": it has an unfinished " + o.get().pending()
                        + " from an earlier failure; restart xenhost so it reconciles the device first");
            }
            List<Refusal> refusals = new ArrayList<>();
            Optional<String> user = host.usage(d, null).filter(u -> u.startsWith("domain "));
            if (user.isPresent()) {
                Owner owner = o.orElseThrow().owner();
                refusals.add(new Refusal(bdf, "is in use by " + user.get() + ": a reset would pull it from under the "
                        + "guest; detach it first: xenhost detach-device " + owner.name() + " " + bdf));
            } else {
                DomainInfo byLibxl = host.attachedByLibxl().get(bdf);
                if (byLibxl != null) {
                    refusals.add(new Refusal(bdf, "is attached to domain " + byLibxl.name() + " (domid "
                            + byLibxl.domid() + ") according to libxl, though not through xenhost; detach it "
                            + "there first (xl pci-detach " + byLibxl.domid() + " " + bdf + ")"));
                }
            }
            if (d.driver() != null && !Host.PCIBACK.equals(d.driver())) {
                refusals.add(new Refusal(bdf, "is still bound to the dom0 driver " + d.driver()
                        + ", which would see its device reset under it; only a device detached from the host "
                        + "(on pciback or on no driver) is reset: detach it first: xenhost nodedev-detach " + bdf));
            }
            ResetPlan plan = plan(d, now);
            if (!plan.available()) {
                refusals.add(new Refusal(bdf, "has no safe reset: " + plan.reason()
                        + " (no FLR, PM reset or secondary bus reset is safe)"));
            } else if (plan.method() == ResetMethod.BUS && !lock.containsAll(behindSameBridge(d, now))) {
                throw new HostdevException("reset " + bdf + ": the functions behind its bridge changed while it "
                        + "was being checked; nothing was changed, retry");
            }
            if (!refusals.isEmpty()) {
                throw new DeviceRefusedException("reset", refusals);
            }
            // 3. reset
            try {
                host.libxl.pciReset(Host.pci(bdf));
            } catch (LibxlException e) {
                LOG.warn("reset {} ({}) failed: {}", bdf, plan.method(), e.getMessage());
                throw new HostdevException("reset " + bdf + ": step 3 (libxl reset recipe) failed: " + e.getMessage()
                        + "; the device was left where it was (" + (d.driver() == null ? "no driver" : d.driver())
                        + ")", e);
            }
            LOG.info("reset {} performed: {} ({}); device on {}", bdf, plan.method(), plan.reason(),
                    d.driver() == null ? "no driver" : d.driver());
            return plan;
        } catch (LibxlException e) {
            throw new HostdevException("reset " + bdf + ": asking libxl which domains have devices failed: "
                    + e.getMessage() + "; nothing was changed", e);
        }
    }

    /** {@code bdf} in the scan, or the usual "unknown device" refusal. */
    private PciDevice find(PciInventory inv, PciAddress bdf) {
        for (PciDevice d : inv.devices()) {
            if (d.address().equals(bdf)) {
                return d;
            }
        }
        return host.require(bdf); // not in the scan: gone (throws), or appeared since; read it alone
    }

    private ResetPlan plan(PciDevice d, PciInventory inv) {
        return ResetSelector.select(d, inv, Set.of(d.address()), x -> host.usage(x, null));
    }

    /** Every other function behind {@code d}'s nearest bridge: what a secondary bus reset also hits. */
    private Set<PciAddress> behindSameBridge(PciDevice d, PciInventory inv) {
        Set<PciAddress> out = new TreeSet<>();
        List<PciAddress> bridges = d.parentBridges();
        if (bridges.isEmpty()) {
            return out;
        }
        PciAddress bridge = bridges.get(bridges.size() - 1);
        for (PciDevice other : inv.devices()) {
            if (other.parentBridges().contains(bridge)) {
                out.add(other.address());
            }
        }
        return out;
    }
}
