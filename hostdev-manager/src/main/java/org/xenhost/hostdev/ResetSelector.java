package org.xenhost.hostdev;

import org.xenhost.pci.ConfigSpace;
import org.xenhost.pci.PciAddress;
import org.xenhost.pci.PciDevice;
import org.xenhost.pci.PciInventory;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * Chooses how a device is reset between owners, as libvirt's {@code virPCIDeviceReset} does, and says why:
 * <ol>
 *   <li>FLR when config space advertises it (PCIe DevCap bit 28 or the AF capability) or the device is an SR-IOV VF;
 *   <li>else PM reset (D3hot → D0) when the PM capability is present and NoSoftRst is clear: with NoSoftRst set the
 *       function keeps its state across D3hot → D0, so that transition resets nothing (the kernel's
 *       {@code pci_pm_reset} refuses it for the same reason);
 *   <li>else secondary bus reset through the parent bridge, only when no other function behind that bridge is in
 *       use by the host or a domain (a bus reset hits them all), never on a root bus (no parent bridge; found
 *       from the sysfs path, not by "bus 0", so multi-root hosts are right);
 *   <li>else none.
 * </ol>
 * On Xen the reset itself is done by pciback (on bind, guest release and unbind) and by libxl (before attach); the
 * plan is what makes xenhost refuse a device that no reset can clean, and what it reports.
 */
public final class ResetSelector {
    private ResetSelector() {
    }

    /**
     * The plan for {@code device}.
     *
     * @param inventory what sysfs shows now
     * @param moving    devices in the same request (their use does not block a bus reset)
     * @param usage     who uses a device besides the request: empty when nobody does
     */
    public static ResetPlan select(PciDevice device, PciInventory inventory, Set<PciAddress> moving,
                                   Function<PciDevice, Optional<String>> usage) {
        PciAddress bdf = device.address();
        ConfigSpace cs = device.config();
        if (cs != null && cs.pcie() != null && cs.pcie().flr()) {
            return new ResetPlan(bdf, ResetMethod.FLR, "PCIe Device Capabilities advertise Function Level Reset");
        }
        if (cs != null && cs.afFlr()) {
            return new ResetPlan(bdf, ResetMethod.FLR, "the Advanced Features capability advertises FLR");
        }
        if (device.physfn() != null) {
            return new ResetPlan(bdf, ResetMethod.FLR, "SR-IOV virtual function of " + device.physfn()
                    + " (VFs implement FLR)");
        }
        List<String> why = new ArrayList<>();
        why.add(cs == null ? "config space unreadable, so no FLR or PM capability is known" : "no FLR");
        if (cs != null && cs.powerManagement() != null) {
            if (!cs.powerManagement().noSoftReset()) {
                return new ResetPlan(bdf, ResetMethod.PM, "no FLR; PM capability with NoSoftRst clear, so "
                        + "D3hot -> D0 resets the function");
            }
            why.add("PM reset useless (NoSoftRst set: the function keeps its state across D3hot -> D0)");
        } else if (cs != null) {
            why.add("no PM capability");
        }
        List<PciAddress> bridges = device.parentBridges();
        if (bridges.isEmpty()) {
            why.add("on a root bus (no parent bridge), so no secondary bus reset");
            return new ResetPlan(bdf, ResetMethod.NONE, String.join("; ", why));
        }
        PciAddress bridge = bridges.get(bridges.size() - 1);
        List<String> blockers = new ArrayList<>();
        for (PciDevice other : inventory.devices()) {
            if (other.address().equals(bdf) || moving.contains(other.address())
                    || !other.parentBridges().contains(bridge)) {
                continue;
            }
            usage.apply(other).ifPresent(u -> blockers.add(other.address() + " (" + u + ")"));
        }
        if (blockers.isEmpty()) {
            return new ResetPlan(bdf, ResetMethod.BUS, String.join("; ", why) + "; secondary bus reset through "
                    + "bridge " + bridge + ": nothing else behind it is in use");
        }
        why.add("secondary bus reset through bridge " + bridge + " would also reset " + String.join(", ", blockers));
        return new ResetPlan(bdf, ResetMethod.NONE, String.join("; ", why));
    }
}
