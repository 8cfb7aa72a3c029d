package org.xenhost.driver.api;

/**
 * What {@code xenhost nodedev-reset} found: the reset a function gets between owners and who performs it.
 *
 * <p>On Xen the reset itself belongs to pciback (when it binds a device, when a guest releases it, when it
 * unbinds it) and to libxl (before every attach); like libvirt's Xen driver for an FLR-capable device,
 * xenhost does not write the reset itself but checks that a safe one exists and reports it.
 *
 * @param bdf         the function
 * @param method      {@code FLR}, {@code PM}, {@code BUS} or {@code NONE}
 * @param reason      why that method, in words an operator can check against lspci
 * @param performedBy who resets it and when, e.g. "pciback, when the device is next bound or released"
 */
public record ResetReport(String bdf, String method, String reason, String performedBy) {
}
