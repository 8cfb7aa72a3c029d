package org.xenhost.driver.xen;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenhost.hostdev.DeviceVerdict;
import org.xenhost.hostdev.HostdevException;
import org.xenhost.hostdev.HostdevManager;
import org.xenhost.hostdev.HostdevSpec;
import org.xenhost.hostdev.Ownership;
import org.xenhost.hostdev.PoolDevice;
import org.xenhost.libxl.Libxl;
import org.xenhost.libxl.LibxlDevicePci;
import org.xenhost.libxl.LibxlException;
import org.xenhost.migration.MigrationCookie;
import org.xenhost.migration.MigrationException;
import org.xenhost.migration.PassedDevice;
import org.xenhost.pci.PciAddress;
import org.xenhost.pci.PciDevice;
import org.xenhost.pci.PciInventory;
import org.xenhost.pci.SysfsPciReader;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * The device half of {@code --hostdev-policy=replug}: which devices a guest has and what they are (source), which
 * local device takes each one's place (destination, in prepare), and the moves themselves, all through the
 * host-device manager's public operations so that its journal records every step and its start-up reconciliation
 * repairs a crash in the middle of one. Each move skips what is already done, so migration recovery may repeat it.
 */
final class HostdevReplug {
    private static final Logger log = LoggerFactory.getLogger(HostdevReplug.class);

    private final Libxl libxl;
    private final HostdevManager manager;
    private final SysfsPciReader reader;

    HostdevReplug(Libxl libxl, HostdevManager manager, Path sysfsRoot) {
        this.libxl = libxl;
        this.manager = manager;
        this.reader = new SysfsPciReader(sysfsRoot);
    }

    // ---- source -------------------------------------------------------------------------------------

    /**
     * What each device attached to {@code domid} is: its type for the destination's match, its options, and
     * whether it goes back to its dom0 driver once the guest has left (the manager's managed flag, else the
     * domain configuration's {@code managed=}).
     */
    List<PassedDevice> describe(int domid, Map<String, Boolean> configuredManaged) throws LibxlException {
        List<PassedDevice> out = new ArrayList<>();
        for (LibxlDevicePci p : libxl.pciList(domid)) {
            PciAddress a = PciAddress.parse(p.bdf());
            Optional<PciDevice> d = reader.read(a);
            String type = d.map(HostdevReplug::type).orElse(null);
            String parent = d.map(PciDevice::physfn).flatMap(reader::read).map(HostdevReplug::type).orElse(null);
            boolean managed = manager.ownership(a).map(o -> o.managed() && o.originalDriver() != null)
                    .orElse(configuredManaged.getOrDefault(p.bdf(), false));
            out.add(new PassedDevice(p.bdf(), type, parent, p, managed));
        }
        return out;
    }

    /** Detaches the devices the destination mapped; each stays in this host's assignable pool for now. */
    void unplug(MigrationCookie c, int domid) {
        try {
            Set<String> attached = attached(domid);
            for (String src : c.replug().keySet()) {
                if (attached.contains(src)) {
                    manager.detach(Integer.toString(domid), PciAddress.parse(src), false);
                    log.info("migration {}: {} detached from {} for the move to {}", c.id(), src, c.name(), c.replug().get(src));
                }
            }
        } catch (HostdevException | LibxlException e) {
            throw new MigrationException(MigrationException.Kind.FAILED, e.getMessage(), e);
        }
    }

    /**
     * The guest stays: it gets back every device it had that it lacks now, in one move each: straight from the
     * pool where the unplug left it, a managed device still recorded as managed (back to its dom0 driver when the
     * guest stops), not first given back to dom0 and taken again. A device that went back to dom0 meanwhile (a
     * restart's reconciliation) is taken from there.
     */
    void replug(MigrationCookie c, int domid) {
        try {
            Set<String> attached = attached(domid);
            List<HostdevSpec> specs = new ArrayList<>();
            for (PassedDevice d : c.hostdevs()) {
                if (!attached.contains(d.bdf())) {
                    specs.add(new HostdevSpec(d.spec(), d.managed(), true, d.managed()));
                }
            }
            if (!specs.isEmpty()) {
                manager.startDomainDevices(Integer.toString(domid), specs);
                log.info("migration {}: {} has its devices {} again", c.id(), c.name(), specs.stream().map(s -> s.pci().bdf()).toList());
            }
        } catch (HostdevException | LibxlException e) {
            throw new MigrationException(MigrationException.Kind.FAILED, e.getMessage(), e);
        }
    }

    /** The guest runs on the destination: its detached devices go back to dom0 (managed) or stay in the pool. */
    void release(MigrationCookie c) {
        // the source copy is gone: whatever it still had comes back (managed ones to dom0), as after any stop
        DomainDevices.release(manager, c.uuid(), c.name());
        try {
            for (PassedDevice d : c.hostdevs()) {
                if (d.managed()) {
                    manager.giveBackToHost(PciAddress.parse(d.bdf())).ifPresent(o ->
                            log.info("migration {}: {} went back to {}", c.id(), d.bdf(), o.originalDriver()));
                }
            }
        } catch (HostdevException | RuntimeException e) {
            // the guest runs elsewhere whatever happens here: say what to do, do not undo the migration
            log.warn("migration {}: the devices {} of {} could not all be given back: {}; see 'xenhost pci assignable-list'",
                    c.id(), c.replug().keySet(), c.name(), e.getMessage());
        }
    }

    // ---- destination --------------------------------------------------------------------------------

    /**
     * Resolves each source device to one of this host's: the operator's {@code --hostdev-map} entry, or the first
     * assignable device (BDF order) of the same type. A device must be in the pool (on pciback, in no domain),
     * pass the manager's safety checks and not be promised to another incoming migration.
     */
    Map<String, String> plan(MigrationCookie c, Set<String> reserved) {
        // one scan of sysfs serves the pool, the verdicts and every candidate's type
        PciInventory inventory = reader.scan();
        Map<PciAddress, PciDevice> here = new LinkedHashMap<>();
        inventory.devices().forEach(d -> here.put(d.address(), d));
        Map<PciAddress, PoolDevice> pool = new LinkedHashMap<>();
        for (PoolDevice p : manager.assignableList(inventory)) {
            pool.put(p.bdf(), p);
        }
        Map<PciAddress, DeviceVerdict> verdicts = manager.verdicts(inventory);
        Set<String> taken = new HashSet<>(reserved);
        Map<String, String> out = new LinkedHashMap<>();
        List<String> problems = new ArrayList<>();
        for (PassedDevice d : c.hostdevs()) {
            String explicit = c.options().hostdevMap().get(d.bdf());
            if (explicit != null) {
                String why = unusable(d, PciAddress.parse(explicit), here, pool, verdicts, taken);
                if (why != null) {
                    problems.add("--hostdev-map " + d.bdf() + "=" + explicit + ": " + why);
                    continue;
                }
                out.put(d.bdf(), explicit);
                taken.add(explicit);
                continue;
            }
            String match = null;
            for (PciAddress a : new TreeSet<>(pool.keySet())) {
                if (unusable(d, a, here, pool, verdicts, taken) == null && sameParent(d, a, here)) {
                    match = a.toString();
                    break;
                }
            }
            if (match == null) {
                problems.add(d.bdf() + " (" + d.kind() + "): this host has no assignable device of that type"
                        + " (assignable here: " + pool.keySet().stream().map(a -> a + " " + Optional.ofNullable(here.get(a)).map(HostdevReplug::type).orElse("?")).toList()
                        + "; make one assignable with 'xenhost pci assignable-add BDF', or name one with --hostdev-map)");
                continue;
            }
            out.put(d.bdf(), match);
            taken.add(match);
        }
        if (!problems.isEmpty()) {
            throw new MigrationException(MigrationException.Kind.REFUSED, "cannot take the passed-through devices of '"
                    + c.name() + "': " + String.join("; ", problems));
        }
        return out;
    }

    /** Why {@code a} cannot stand in for {@code d}, or null if it can (the SR-IOV parent is checked separately). */
    private String unusable(PassedDevice d, PciAddress a, Map<PciAddress, PciDevice> devices, Map<PciAddress, PoolDevice> pool,
                            Map<PciAddress, DeviceVerdict> verdicts, Set<String> taken) {
        Optional<PciDevice> here = Optional.ofNullable(devices.get(a));
        if (here.isEmpty()) {
            return "this host has no PCI device " + a;
        }
        if (!pool.containsKey(a)) {
            Optional<Ownership> o = manager.ownership(a);
            if (o.isPresent() && o.get().owner() == null && !o.get().free()) {
                // adding it to the pool would race the operation that is moving it: say what to wait for instead
                return a + " is not assignable here (it is being moved: " + o.get().pending() + " in progress); wait until "
                        + "'xenhost nodedev-list' no longer shows it as moving, or name another device with --hostdev-map";
            }
            String where = o.filter(x -> x.owner() != null).map(x -> "it belongs to domain " + x.owner())
                    .orElse(here.get().driver() == null ? "it is bound to no driver" : "it is bound to " + here.get().driver());
            return a + " is not assignable here (" + where + "); make it assignable with 'xenhost pci assignable-add " + a + "'";
        }
        if (taken.contains(a.toString())) {
            return a + " is promised to another incoming migration";
        }
        DeviceVerdict v = verdicts.get(a);
        if (v != null && !v.assignable()) {
            return a + " cannot be given to a guest: " + v.reason();
        }
        if (d.vendorDevice() != null && !d.vendorDevice().equals(type(here.get()))) {
            return a + " is a " + type(here.get()) + ", the guest's device is a " + d.vendorDevice()
                    + " (its driver in the guest would not drive it)";
        }
        return null;
    }

    private static boolean sameParent(PassedDevice d, PciAddress a, Map<PciAddress, PciDevice> devices) {
        String parent = Optional.ofNullable(devices.get(a)).map(PciDevice::physfn).map(devices::get).map(HostdevReplug::type).orElse(null);
        return java.util.Objects.equals(d.sriovParent(), parent);
    }

    /** Attaches the mapped devices to the received (paused) copy, all or none; options as on the source. */
    void plug(MigrationCookie c, int domid) {
        try {
            Set<String> attached = attached(domid);
            List<HostdevSpec> specs = new ArrayList<>();
            for (PassedDevice d : c.hostdevs()) {
                String dst = c.replug().get(d.bdf());
                if (dst == null || attached.contains(dst)) {
                    continue;
                }
                specs.add(new HostdevSpec(at(d.spec(), PciAddress.parse(dst)), false));
            }
            if (!specs.isEmpty()) {
                manager.startDomainDevices(Integer.toString(domid), specs);
                log.info("migration {}: {} given {} in place of {}", c.id(), c.destinationName(), c.replug().values(), c.replug().keySet());
            }
        } catch (HostdevException | LibxlException e) {
            throw new MigrationException(MigrationException.Kind.FAILED, "attaching " + c.replug().values() + " failed: " + e.getMessage(), e);
        }
    }

    /** The copy was destroyed: the devices it had go back to the pool. */
    void unplugIncoming(MigrationCookie c) {
        DomainDevices.release(manager, c.uuid(), c.destinationName());
    }

    /** The destination's spec: the source's options (vslot, permissive, ...) at this host's address. */
    static LibxlDevicePci at(LibxlDevicePci s, PciAddress a) {
        return new LibxlDevicePci(a.domain(), a.bus(), a.device(), a.function(), s.vdevfn(), s.vfuncMask(), s.msitranslate(),
                s.powerMgmt(), s.permissive(), false, s.rdmPolicy(), null);
    }

    private Set<String> attached(int domid) throws LibxlException {
        Set<String> out = new HashSet<>();
        for (LibxlDevicePci p : libxl.pciList(domid)) {
            out.add(p.bdf());
        }
        return out;
    }

    private static String type(PciDevice d) {
        return d.vendor() == null || d.device() == null ? "?" : String.format(Locale.ROOT, "%04x:%04x", d.vendor(), d.device());
    }
}
