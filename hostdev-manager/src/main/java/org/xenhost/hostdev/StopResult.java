package org.xenhost.hostdev;

import org.xenhost.pci.PciAddress;

import java.util.List;

/**
 * What a domain stop did with its devices.
 *
 * @param owner    the domain
 * @param returned managed devices given back to their dom0 driver
 * @param pooled   devices left in the assignable pool (unmanaged ones, and managed ones that could not go back)
 * @param resets   the reset each device gets from pciback on release, and why
 * @param problems what went wrong, one line per device; empty when everything went back
 */
public record StopResult(Owner owner, List<PciAddress> returned, List<PciAddress> pooled, List<ResetPlan> resets,
                         List<String> problems) {
    public StopResult {
        returned = List.copyOf(returned);
        pooled = List.copyOf(pooled);
        resets = List.copyOf(resets);
        problems = List.copyOf(problems);
    }
}
