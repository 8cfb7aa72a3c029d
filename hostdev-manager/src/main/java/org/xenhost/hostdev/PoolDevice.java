package org.xenhost.hostdev;

import org.xenhost.pci.PciAddress;

/**
 * A device in the assignable pool: on pciback and used by no domain.
 *
 * @param bdf            the device
 * @param name           its friendly name, or null
 * @param originalDriver the dom0 driver {@code assignable-remove --rebind} gives it back to, null if unknown
 */
public record PoolDevice(PciAddress bdf, String name, String originalDriver) {
}
