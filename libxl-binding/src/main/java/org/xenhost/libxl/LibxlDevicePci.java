package org.xenhost.libxl;

import java.util.Locale;
import java.util.Objects;

/**
 * One PCI device as libxl sees it: the fields of {@code libxl_device_pci} (Xen 4.17), used for the assignable
 * list, for attaching to a guest and for parsed xl.cfg PCI specs.
 *
 * <p>Unsigned C fields stay Java {@code int}s with the same bits: {@code vfuncMask == -1} is
 * {@code LIBXL_PCI_FUNC_ALL} (0xffffffff, every function of a multi-function device).
 *
 * @param domain       PCI segment, 0..0xffff
 * @param bus          0..0xff
 * @param dev          device (slot), 0..0x1f
 * @param func         function, 0..7
 * @param vdevfn       guest slot/function {@code vslot << 3 | vfunc}; 0 lets the device model choose
 * @param vfuncMask    which functions a multi-function assignment covers; 1 for a single function
 * @param msitranslate let the device model translate MSI to INTx (qemu-traditional only)
 * @param powerMgmt    let the guest use power management (qemu-traditional only)
 * @param permissive   let the guest write all of config space (pciback {@code permissive})
 * @param seize        bind the device to pciback on attach if it is not there yet
 * @param rdmPolicy    reserved-memory conflict policy
 * @param name         friendly name recorded under {@code /libxl/pci/<bdf>/name}, or null
 */
public record LibxlDevicePci(int domain, int bus, int dev, int func, int vdevfn, int vfuncMask,
                             boolean msitranslate, boolean powerMgmt, boolean permissive, boolean seize,
                             RdmPolicy rdmPolicy, String name) {

    /** {@code LIBXL_PCI_FUNC_ALL}: {@link #vfuncMask()} for "every function" ({@code BB:DD.*}). */
    public static final int FUNC_ALL = 0xffffffff;

    public LibxlDevicePci {
        check("domain", domain, 0xffff);
        check("bus", bus, 0xff);
        check("dev", dev, 0x1f);
        check("func", func, 7);
        Objects.requireNonNull(rdmPolicy, "rdmPolicy");
    }

    /**
     * A single function at {@code domain:bus:dev.func} with the defaults libxlutil gives a bare BDF spec:
     * vfuncMask 1, no flags, rdm policy {@link RdmPolicy#INVALID} (libxl applies strict on attach), no name.
     */
    public static LibxlDevicePci of(int domain, int bus, int dev, int func) {
        return new LibxlDevicePci(domain, bus, dev, func, 0, 1, false, false, false, false, RdmPolicy.INVALID, null);
    }

    /** The device's address as sysfs and libxl write it: {@code %04x:%02x:%02x.%01x}, e.g. {@code 0000:03:00.0}. */
    public String bdf() {
        return String.format(Locale.ROOT, "%04x:%02x:%02x.%01x", domain, bus, dev, func);
    }

    /** The key libxl uses under {@code /libxl/pci/} in xenstore: {@code 0000-03-00-0}. */
    public String xenstoreKey() {
        return String.format(Locale.ROOT, "%04x-%02x-%02x-%01x", domain, bus, dev, func);
    }

    /** True when this names every function of the device ({@code func=*}). */
    public boolean allFunctions() {
        return vfuncMask == FUNC_ALL;
    }

    /** The same device with another name (null removes it). */
    public LibxlDevicePci withName(String newName) {
        return new LibxlDevicePci(domain, bus, dev, func, vdevfn, vfuncMask, msitranslate, powerMgmt, permissive,
                seize, rdmPolicy, newName);
    }

    /** The same device with another guest slot/function ({@code vslot << 3 | vfunc}). */
    public LibxlDevicePci withVdevfn(int newVdevfn) {
        return new LibxlDevicePci(domain, bus, dev, func, newVdevfn, vfuncMask,
                msitranslate, powerMgmt, permissive, seize, rdmPolicy, name);
    }

    private static void check(String field, int value, int max) {
        if (value < 0 || value > max) {
            throw new IllegalArgumentException("PCI " + field + " 0x" + Integer.toHexString(value)
                    + " is out of range (0.." + "0x" + Integer.toHexString(max) + ")");
        }
    }
}
