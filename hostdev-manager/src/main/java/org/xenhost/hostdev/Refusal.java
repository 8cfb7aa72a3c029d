package org.xenhost.hostdev;

import org.xenhost.pci.PciAddress;

/**
 * Why xenhost will not do something with one device.
 *
 * @param bdf    the device refused
 * @param reason what is wrong and, where possible, what to do about it
 */
public record Refusal(PciAddress bdf, String reason) {
    @Override
    public String toString() {
        return bdf + " " + reason;
    }
}
