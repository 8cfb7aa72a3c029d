package org.xenhost.hostdev;

import org.xenhost.pci.PciAddress;

/**
 * Whether a device could be given to a guest now, as {@code pci list} shows it.
 *
 * @param bdf        the device
 * @param assignable true when nothing stands in the way
 * @param reason     when not, every reason (joined with "; "); null when assignable
 * @param owner      the domain that has it, or null
 */
public record DeviceVerdict(PciAddress bdf, boolean assignable, String reason, String owner) {
}
