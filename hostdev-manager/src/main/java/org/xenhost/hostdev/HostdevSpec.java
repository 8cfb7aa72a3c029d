package org.xenhost.hostdev;

import org.xenhost.libxl.LibxlDevicePci;

import java.util.Objects;

/**
 * A PCI device in a domain's configuration: the xl.cfg spec and whether xenhost manages it (libvirt's
 * {@code managed='yes'}: taken from its dom0 driver at domain start, given back at stop) or the operator does
 * ({@code managed='no'}: it must already be assignable and stays in the pool afterwards).
 *
 * @param pci          the libxl device, every xl.cfg option honoured
 * @param managed      taken from dom0 at start, given back at stop
 * @param strictReset  a device without a safe reset (no FLR, no PM reset, no usable secondary bus reset) is refused;
 *                     false is Qubes' {@code nostrictreset}: it is given to the guest anyway, unreset, with a warning
 * @param returnToHost for a managed device that waits in the pool at start: give it back to the dom0 driver the
 *                     journal remembers at stop all the same (a migration's replug re-attaching a managed device its
 *                     unplug left in the pool); a managed device taken from a dom0 driver always goes back
 */
public record HostdevSpec(LibxlDevicePci pci, boolean managed, boolean strictReset, boolean returnToHost) {
    public HostdevSpec {
        Objects.requireNonNull(pci, "pci");
    }

    /** A device with the default, strict, reset rule. */
    public HostdevSpec(LibxlDevicePci pci, boolean managed) {
        this(pci, managed, true, false);
    }
}
