package org.xenhost.daemon.demo;

import org.xenhost.driver.api.NodeDevice;
import org.xenhost.pci.PciAddress;
import org.xenhost.pci.PciDevice;
import org.xenhost.pci.SysfsPciReader;

import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The demo's passed-through device on each host: which one the guest gets and which one the destination offers
 * for it, chosen from what the daemons themselves report ({@code nodedev-list}). The fixture tree the daemons
 * start from is read only for what nodedev-list does not carry: which functions are SR-IOV virtual functions.
 */
final class HostDevices {
    private HostDevices() {
    }

    /**
     * The device the guest gets: the first function the source's daemon says a guest could have, preferring an
     * SR-IOV virtual function of a NIC (the usual passthrough device), then any NIC, then anything but a system
     * peripheral, then that.
     */
    static NodeDevice pickGuestDevice(List<NodeDevice> source, Path fixture) {
        Map<String, PciDevice> facts = sysfs(fixture);
        return source.stream()
                .filter(d -> d.vendor() != null && d.device() != null && d.assignable() && d.owner() == null)
                .min(Comparator.comparingInt((NodeDevice d) -> preference(d, facts.get(d.bdf()))).thenComparing(NodeDevice::bdf))
                .orElseThrow(() -> new IllegalArgumentException("the fixture tree " + fixture + " has no device a guest "
                        + "could be given; pass --sysfs-root a tree with an assignable device, e.g. fixtures/sysfs/sriov-82576"));
    }

    private static int preference(NodeDevice d, PciDevice facts) {
        boolean nic = d.pciClass() != null && d.pciClass().startsWith("02");
        boolean vf = facts != null && facts.physfn() != null;
        // system peripherals (PICs, timers, chipset functions) are assignable on paper but nobody passes them through
        boolean system = d.pciClass() != null && d.pciClass().startsWith("08");
        return nic && vf ? 0 : nic ? 1 : system ? 3 : 2;
    }

    /**
     * The destination's device to make assignable for the guest's: another function of the same vendor:device
     * (and, for a VF, a parent of the same model) when the destination has one, so the migration's match visibly
     * goes by identity, not by address; else the same address.
     */
    static NodeDevice counterpart(NodeDevice guestDevice, List<NodeDevice> destination, Path fixture) {
        Map<String, PciDevice> facts = sysfs(fixture);
        String parentModel = parentModel(facts, guestDevice.bdf());
        List<NodeDevice> same = destination.stream()
                .filter(d -> sameModel(d, guestDevice) && d.assignable() && d.owner() == null)
                .filter(d -> Objects.equals(parentModel(facts, d.bdf()), parentModel))
                .toList();
        return same.stream().filter(d -> !d.bdf().equals(guestDevice.bdf())).findFirst()
                .or(() -> same.stream().findFirst())
                .orElseThrow(() -> new IllegalArgumentException("the destination has no device like " + guestDevice.bdf()
                        + " [" + vendorDevice(guestDevice) + "] that could be made assignable; pass --sysfs-root a tree "
                        + "with two functions of one model, e.g. fixtures/sysfs/sriov-82576"));
    }

    /** vendor:device of a VF's physical function, null for a function that is not a VF. */
    private static String parentModel(Map<String, PciDevice> facts, String bdf) {
        PciDevice d = facts.get(bdf);
        if (d == null || d.physfn() == null) {
            return null;
        }
        PciDevice pf = facts.get(d.physfn().toString());
        return pf == null || pf.vendor() == null || pf.device() == null ? "?" : String.format("%04x:%04x", pf.vendor(), pf.device());
    }

    private static Map<String, PciDevice> sysfs(Path fixture) {
        return new SysfsPciReader(fixture).scan().devices().stream()
                .collect(Collectors.toMap(d -> d.address().toString(), Function.identity(), (x, y) -> x));
    }

    static Optional<NodeDevice> find(List<NodeDevice> devices, String bdf) {
        String want = PciAddress.parse(bdf).toString();
        return devices.stream().filter(d -> d.bdf().equals(want)).findFirst();
    }

    static String vendorDevice(NodeDevice d) {
        return d.vendor() + ":" + d.device();
    }

    private static boolean sameModel(NodeDevice a, NodeDevice b) {
        return Objects.equals(a.vendor(), b.vendor()) && Objects.equals(a.device(), b.device());
    }
}
