package org.xenhost.driver.api;

/**
 * What {@code xenhost nodedev-reset} did: the reset a function got and why that one.
 *
 * <p>xenhost performs the reset the way libxl does inside attach and detach (pciback's {@code do_flr} when the
 * kernel has it, else {@code 1} to the function's sysfs {@code reset}, after which the kernel picks its method);
 * the method reported is the one config space shows the kernel has, which xenhost checked is safe first.
 *
 * @param bdf         the function
 * @param method      {@code FLR}, {@code PM} or {@code BUS}
 * @param reason      why that method, in words an operator can check against lspci
 * @param performedBy who reset it and how
 * @param performed   true once the reset was done (a refused or failed reset is an error, not a report)
 */
public record ResetReport(String bdf, String method, String reason, String performedBy, boolean performed) {
}
