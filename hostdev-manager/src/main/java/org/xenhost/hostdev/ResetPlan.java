package org.xenhost.hostdev;

import org.xenhost.pci.PciAddress;

/**
 * The reset a device will get between owners and why that one.
 *
 * @param bdf    the device
 * @param method chosen method, {@link ResetMethod#NONE} when none is safe
 * @param reason one sentence an operator can check against lspci
 */
public record ResetPlan(PciAddress bdf, ResetMethod method, String reason) {
    /** True when some reset is available. */
    public boolean available() {
        return method != ResetMethod.NONE;
    }

    @Override
    public String toString() {
        return bdf + ": " + method + " (" + reason + ")";
    }
}
