package org.xenhost.hostdev;

import org.xenhost.pci.PciAddress;

import java.util.List;

/**
 * What an attach or a managed start did.
 *
 * @param owner   the domain that now has the devices
 * @param devices the functions given to it
 * @param resets  the reset each function gets between owners, and why
 */
public record AttachResult(Owner owner, List<PciAddress> devices, List<ResetPlan> resets) {
    public AttachResult {
        devices = List.copyOf(devices);
        resets = List.copyOf(resets);
    }
}
