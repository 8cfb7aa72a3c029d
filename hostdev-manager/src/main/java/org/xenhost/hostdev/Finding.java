package org.xenhost.hostdev;

import org.xenhost.pci.PciAddress;

/**
 * One thing start-up reconciliation found and what it did about it.
 *
 * @param bdf      the device
 * @param expected what the journal said
 * @param found    what sysfs and libxl show
 * @param action   what xenhost did (and so where the device is now)
 */
public record Finding(PciAddress bdf, String expected, String found, String action) {
    @Override
    public String toString() {
        return bdf + ": journal said " + expected + "; found " + found + "; " + action;
    }
}
