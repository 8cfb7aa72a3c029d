package org.xenhost.migration;

import org.xenhost.libxl.LibxlDevicePci;

/**
 * A PCI device passed through to a migrating guest, as the source describes it so that the destination can find
 * its own match ({@code --hostdev-policy=replug}).
 *
 * @param bdf          the device on the source
 * @param vendorDevice {@code vendor:device}, e.g. {@code 8086:10ca}
 * @param sriovParent  for an SR-IOV virtual function, the {@code vendor:device} of its physical function; else null
 * @param spec         the guest's attachment with its options (vslot, permissive, ...), as libxl lists it
 * @param managed      on the source, the device goes back to its dom0 driver when the guest leaves (libvirt's
 *                     managed='yes'); otherwise it stays in the assignable pool
 */
public record PassedDevice(String bdf, String vendorDevice, String sriovParent, LibxlDevicePci spec, boolean managed) {

    /** vendor:device, plus the parent's for a VF: what an automatic match must equal. */
    public String kind() {
        return sriovParent == null ? vendorDevice : vendorDevice + " (VF of " + sriovParent + ")";
    }
}
