package org.xenhost.daemon.demo;

import org.xenhost.daemon.LocalHost;
import org.xenhost.hostdev.DeviceVerdict;
import org.xenhost.pci.PciAddress;
import org.xenhost.pci.PciDevice;
import org.xenhost.pci.SysfsPciReader;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The demo's passed-through device on each host: which one the guest gets, making it (and the destination's
 * counterpart) assignable before the daemons start, finding the destination's match, and reading where a device
 * is now. Everything is read from sysfs (the daemons' own copies of the fixture tree), not assumed.
 */
final class HostDevices {
    /** The dom0 driver of a device that is assignable (xen-pciback). */
    static final String PCIBACK = "pciback";

    private HostDevices() {
    }

    /**
     * The device the guest gets: the first function the host-device manager would let a guest have, preferring
     * an SR-IOV virtual function of a NIC (the usual passthrough device), then any NIC, then anything but a system
     * peripheral, then that.
     *
     * @param scratchState an empty directory for the read-only verdicts
     */
    static PciDevice pickGuestDevice(Path fixture, Path scratchState) throws Exception {
        Map<PciAddress, DeviceVerdict> verdicts = LocalHost.verdicts(fixture, scratchState);
        List<PciDevice> devices = new SysfsPciReader(fixture).scan().devices();
        return devices.stream()
                .filter(d -> d.vendor() != null && d.device() != null)
                .filter(d -> verdicts.containsKey(d.address()) && verdicts.get(d.address()).assignable())
                .min(Comparator.comparingInt(HostDevices::preference).thenComparing(PciDevice::address))
                .orElseThrow(() -> new IllegalArgumentException("the fixture tree " + fixture + " has no device a guest "
                        + "could be given; pass --sysfs-root a tree with an assignable device, e.g. fixtures/sysfs/sriov-82576"));
    }

    private static int preference(PciDevice d) {
        int base = d.pciClass() == null ? -1 : d.pciClass() >> 16;
        boolean nic = base == 0x02;
        // system peripherals (PICs, timers, chipset functions) are assignable on paper but nobody passes them through
        return nic && d.physfn() != null ? 0 : nic ? 1 : base == 0x08 ? 3 : 2;
    }

    /**
     * The destination's device to stage: another function with the same vendor:device when the tree has one (so
     * the match below visibly goes by identity, not by address), else the same address.
     */
    static PciAddress counterpart(PciDevice guestDevice, Path fixture) {
        return new SysfsPciReader(fixture).scan().devices().stream()
                .filter(d -> sameModel(d, guestDevice) && !d.address().equals(guestDevice.address()))
                .map(PciDevice::address)
                .findFirst().orElse(guestDevice.address());
    }

    /**
     * {@code xenhost pci assignable-add BDF} on a private copy of the fixture tree (the host-device manager over an
     * emulated host in {@code stageDir}), returning that copy for a daemon to start over. The daemons of this
     * build do not make devices assignable themselves.
     */
    static Path stageAssignable(Path fixture, Path stageDir, PciAddress bdf) throws Exception {
        try (LocalHost h = LocalHost.open(fixture, stageDir)) {
            h.manager().assignableAdd(bdf, null, false);
            return h.sysfsRoot();
        }
    }

    /**
     * The devices as the daemon's host sees them now: xenhostd's emulated kernel works on its own copy of the tree
     * it was given, in {@code <state>/emulated-xen/sysfs} (see Xenhostd); before it made that copy, the tree itself.
     */
    static List<PciDevice> scan(ChildDaemon host) {
        return new SysfsPciReader(tree(host)).scan().devices();
    }

    /** The sysfs tree the daemon's host works on (see {@link #scan}). */
    static Path tree(ChildDaemon host) {
        Path copy = host.stateDir().resolve("emulated-xen").resolve("sysfs");
        return Files.isDirectory(copy) ? copy : host.sysfsRoot();
    }

    /**
     * The destination's device for the guest's: assignable (bound to pciback), used by no domain there, and the
     * same vendor:device as the source's.
     */
    static Optional<PciDevice> match(PciDevice source, List<PciDevice> destination, Set<String> inUse) {
        return destination.stream()
                .filter(d -> sameModel(d, source) && PCIBACK.equals(d.driver()) && !inUse.contains(d.address().toString()))
                .findFirst();
    }

    static Optional<PciDevice> find(List<PciDevice> devices, String bdf) {
        return devices.stream().filter(d -> d.address().toString().equals(bdf)).findFirst();
    }

    static String vendorDevice(PciDevice d) {
        return String.format("%04x:%04x", d.vendor(), d.device());
    }

    private static boolean sameModel(PciDevice a, PciDevice b) {
        return a.vendor() != null && a.vendor().equals(b.vendor()) && a.device() != null && a.device().equals(b.device());
    }
}
