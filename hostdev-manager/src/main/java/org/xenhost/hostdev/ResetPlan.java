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
    /**
     * The plan for a device with no safe reset that is given to a guest all the same because its spec says
     * {@code nostrictreset=1}: still {@link ResetMethod#NONE}, with a reason that says so.
     */
    public ResetPlan notReset() {
        return new ResetPlan(bdf, ResetMethod.NONE, reason + "; NOT RESET: assigned without a reset because its spec "
                + "says nostrictreset=1, so the guest may find state its previous user left in it");
    }

    /** True when some reset is available. */
    public boolean available() {
        return method != ResetMethod.NONE;
    }

    @Override
    public String toString() {
        return bdf + ": " + method + " (" + reason + ")";
    }
}
