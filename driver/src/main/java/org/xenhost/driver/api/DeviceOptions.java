package org.xenhost.driver.api;

/**
 * How {@code attach-device} / {@code detach-device} apply, as virsh's flags: {@code live} changes the running
 * domain, {@code config} its stored definition (the next start). Neither set means "current": live when the
 * domain runs, config when it is shut off.
 *
 * @param force attach: even a host-critical device or one without a safe reset; detach: do not wait for the
 *              guest (libxl pci-destroy)
 */
public record DeviceOptions(boolean live, boolean config, boolean force) {
    /** The running domain only if it runs, else its definition. */
    public static final DeviceOptions CURRENT = new DeviceOptions(false, false, false);
}
