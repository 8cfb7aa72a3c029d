package org.xenhost.hostdev;

import org.xenhost.libxl.LibxlDevicePci;

import java.util.Objects;

/**
 * A PCI device in a domain's configuration: the xl.cfg spec and whether xenhost manages it (libvirt's
 * {@code managed='yes'}: taken from its dom0 driver at domain start, given back at stop) or the operator does
 * ({@code managed='no'}: it must already be assignable and stays in the pool afterwards).
 */
public record HostdevSpec(LibxlDevicePci pci, boolean managed) {
    public HostdevSpec {
        Objects.requireNonNull(pci, "pci");
    }
}
