package org.xenhost.hostdev;

import org.xenhost.libxl.DomainInfo;
import org.xenhost.libxl.Libxl;
import org.xenhost.libxl.LibxlDevicePci;
import org.xenhost.libxl.LibxlError;
import org.xenhost.libxl.LibxlException;
import org.xenhost.pci.PciAddress;
import org.xenhost.pci.PciDevice;
import org.xenhost.pci.PciInventory;
import org.xenhost.pci.SysfsPciReader;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * What every operation shares: libxl, the sysfs root and its reader, the journal, the device locks, the step hook
 * and the lookups built on them. Package-private: the operations are the API.
 */
final class Host {
    static final String PCIBACK = "pciback";

    final Libxl libxl;
    final Path sysfsRoot;
    final SysfsPciReader reader;
    final OwnershipJournal journal;
    final HostCriticalDevices critical;
    final DeviceLocks locks = new DeviceLocks();
    final StepHook hook;
    /**
     * Each device as first read, for the facts that belong to the function itself and never change while it exists
     * (config space: header type, class, capabilities; its IOMMU group, physfn and place under its bridges). Keyed by
     * BDF and valid as long as the device's sysfs directory is the same one (same inode): a function removed and
     * replaced by another at that address gets a new directory, so it is read again.
     */
    private final java.util.concurrent.ConcurrentHashMap<PciAddress, Facts> facts =
            new java.util.concurrent.ConcurrentHashMap<>();

    private record Facts(Object directoryKey, PciDevice device) {
    }

    Host(Libxl libxl, Path sysfsRoot, OwnershipJournal journal, HostCriticalDevices critical, StepHook hook) {
        this.libxl = libxl;
        this.sysfsRoot = sysfsRoot;
        this.reader = new SysfsPciReader(sysfsRoot);
        this.journal = journal;
        this.critical = critical;
        this.hook = hook;
    }

    /** The device as sysfs shows it now. */
    Optional<PciDevice> device(PciAddress bdf) {
        return reader.read(bdf);
    }

    /**
     * The device, or a refusal naming it.
     *
     * @throws IllegalArgumentException if sysfs has no such device
     */
    PciDevice require(PciAddress bdf) {
        return device(bdf).orElseThrow(() -> new IllegalArgumentException("unknown device " + bdf + ": there is no "
                + sysfsRoot.resolve("sys/bus/pci/devices").resolve(bdf.toString())
                + " (see `xenhost pci list` for the host's devices)"));
    }

    /**
     * The device with its fixed facts (config space, IOMMU group, physfn, bridges) from the first read of this
     * function and its binding ({@code driver}) read now: one stat and one readlink instead of a whole read, for
     * per-device operations whose checks need nothing that changes except the driver.
     *
     * @throws IllegalArgumentException if sysfs has no such device
     */
    PciDevice requireBound(PciAddress bdf) {
        Facts f = fixedFacts(bdf);
        if (f == null) {
            return require(bdf); // throws with the usual message
        }
        return withDriver(f.device(), driverOf(bdf));
    }

    /** The fixed facts of {@code bdf}'s current function (see {@link #facts}), or null if sysfs has no such device. */
    Optional<PciDevice> fixed(PciAddress bdf) {
        Facts f = fixedFacts(bdf);
        return f == null ? Optional.empty() : Optional.of(f.device());
    }

    private Facts fixedFacts(PciAddress bdf) {
        Path dev = sysfsRoot.resolve("sys/bus/pci/devices").resolve(bdf.toString());
        Object key;
        try {
            key = Files.readAttributes(dev, java.nio.file.attribute.BasicFileAttributes.class).fileKey();
        } catch (java.io.IOException e) {
            facts.remove(bdf);
            return null;
        }
        Facts known = facts.get(bdf);
        if (known != null && key != null && key.equals(known.directoryKey())) {
            return known;
        }
        Optional<PciDevice> read = device(bdf);
        if (read.isEmpty()) {
            facts.remove(bdf);
            return null;
        }
        Facts fresh = new Facts(key, read.get());
        if (key != null && read.get().config() != null) {
            facts.put(bdf, fresh); // an unreadable config space is read again next time
        }
        return fresh;
    }

    private static PciDevice withDriver(PciDevice d, String driver) {
        if (java.util.Objects.equals(d.driver(), driver)) {
            return d;
        }
        return new PciDevice(d.address(), d.vendor(), d.device(), d.pciClass(), d.subsystemVendor(),
                d.subsystemDevice(), d.revision(), driver, d.driverOverride(), d.iommuGroup(), d.iommuGroupPeers(),
                d.numaNode(), d.parentBridges(), d.sriovTotalVfs(), d.sriovNumVfs(), d.virtfns(), d.physfn(),
                d.resetMethods(), d.resettable(), d.config(), d.warnings());
    }

    /**
     * The driver {@code bdf} is bound to now, or null: two file-system calls, for operations that need nothing else
     * of the device (a whole {@link #require} reads its config space, resources and IOMMU group).
     *
     * @throws IllegalArgumentException if sysfs has no such device
     */
    String driverOf(PciAddress bdf) {
        Path dev = sysfsRoot.resolve("sys/bus/pci/devices").resolve(bdf.toString());
        if (!Files.exists(dev)) {
            require(bdf); // throws with the usual message
        }
        try {
            return Files.readSymbolicLink(dev.resolve("driver")).getFileName().toString();
        } catch (java.nio.file.NotLinkException | java.nio.file.NoSuchFileException e) {
            return null;
        } catch (java.io.IOException e) {
            return require(bdf).driver();
        }
    }

    PciInventory scan() {
        return reader.scan();
    }

    /**
     * Fails unless pciback is loaded and sysfs can be written: both are checked before anything changes, so the
     * operator gets the cause rather than a half-done operation.
     */
    void requireWritablePciback() throws HostdevException {
        Path pciback = sysfsRoot.resolve("sys/bus/pci/drivers").resolve(PCIBACK);
        if (!Files.isDirectory(pciback)) {
            throw new HostdevException("xen-pciback is not loaded (" + pciback + " does not exist): load it with "
                    + "`modprobe xen-pciback` and retry; nothing was changed");
        }
        Path bind = pciback.resolve("bind");
        if (!Files.isWritable(bind)) {
            throw new HostdevException("sysfs is read-only here (" + bind + " cannot be written): PCI devices "
                    + "cannot be moved; remount sysfs read-write (or run with the privileges to write it); nothing "
                    + "was changed");
        }
    }

    /**
     * Takes each of {@code devices} that is still on a dom0 driver (or none) into the pool through libxl (which
     * remembers the driver), registering on {@code s}, before each move, the undo that gives it back.
     */
    void takeFromDom0(Steps s, List<PciDevice> devices) throws LibxlException {
        for (PciDevice d : devices) {
            if (!PCIBACK.equals(d.driver())) {
                String original = d.driver();
                s.undo("give " + d.address() + " back to " + (original == null ? "no driver" : original),
                        () -> giveBackIfMoved(d.address(), original));
                libxl.assignableAdd(pci(d.address()), true);
            }
        }
    }

    /**
     * The undo of a move off dom0: if libxl moved {@code bdf} away from {@code original} at all, it returns it
     * (assignable-remove with rebind). A device that is gone, never left or is already back is left alone.
     */
    void giveBackIfMoved(PciAddress bdf, String original) throws LibxlException {
        Optional<PciDevice> now = device(bdf);
        if (now.isPresent() && !java.util.Objects.equals(now.get().driver(), original)) {
            libxl.assignableRemove(pci(bdf), true);
        }
    }

    /** libxl's view of a single function. */
    static LibxlDevicePci pci(PciAddress a) {
        return LibxlDevicePci.of(a.domain(), a.bus(), a.device(), a.function());
    }

    static PciAddress address(LibxlDevicePci p) {
        return new PciAddress(p.domain(), p.bus(), p.dev(), p.func());
    }

    /**
     * The domain named by {@code ref}: a domid (digits) or a name.
     *
     * @throws IllegalArgumentException for dom0 or a domain libxl does not know
     */
    Owner resolveDomain(String ref) throws LibxlException {
        if (ref == null || ref.isBlank()) {
            throw new IllegalArgumentException("domain is missing: give a domain name or domid (see `xl list`)");
        }
        Optional<DomainInfo> info;
        if (ref.chars().allMatch(Character::isDigit) && ref.length() < 6) {
            int domid = Integer.parseInt(ref);
            try {
                info = Optional.of(libxl.domainInfo(domid));
            } catch (LibxlException e) {
                if (e.error() != LibxlError.DOMAIN_NOTFOUND) {
                    throw e;
                }
                info = Optional.empty();
            } catch (IllegalArgumentException e) {
                info = Optional.empty();
            }
        } else {
            info = libxl.findByName(ref);
        }
        DomainInfo d = info.orElseThrow(() -> new IllegalArgumentException("unknown domain '" + ref
                + "': no running domain has that name or domid (see `xl list`)"));
        if (d.domid() == 0) {
            throw new IllegalArgumentException("domain '" + ref + "' is dom0, the host itself: devices are given "
                    + "back to dom0 with `xenhost pci assignable-remove --rebind`, not attached to it");
        }
        return new Owner(d.uuid(), d.name() == null ? "domid" + d.domid() : d.name(), d.domid());
    }

    /** The device of that friendly name: from the journal, else from libxl's assignable list. */
    Optional<PciAddress> byName(String name) throws LibxlException {
        for (Ownership o : journal.entries().values()) {
            if (name.equals(o.name())) {
                return Optional.of(o.bdf());
            }
        }
        for (LibxlDevicePci p : libxl.assignableList()) {
            if (name.equals(p.name())) {
                return Optional.of(address(p));
            }
        }
        return Optional.empty();
    }

    /**
     * Who uses a device other than {@code requester}: {@code domain NAME (domid N)} from the journal, or
     * {@code the host (driver X)} for a function bound to a dom0 driver. Empty when nobody (on pciback and free,
     * or unbound) or the requester itself.
     */
    Optional<String> usage(PciDevice d, UUID requester) {
        Optional<Ownership> o = journal.get(d.address());
        if (o.isPresent() && o.get().owner() != null && (o.get().state() == DeviceState.ATTACHED
                || o.get().pending() == Pending.ATTACH || o.get().pending() == Pending.START)) {
            Owner owner = o.get().owner();
            return owner.uuid().equals(requester) ? Optional.empty() : Optional.of("domain " + owner);
        }
        if (d.driver() != null && !PCIBACK.equals(d.driver())) {
            return Optional.of("the host (driver " + d.driver() + ")");
        }
        return Optional.empty();
    }

    /**
     * Every device some domain has, by libxl's own account (its PCI backends), with the domain. Used to catch
     * ownership xenhost did not record (xl, or a journal lost with its disk).
     */
    Map<PciAddress, DomainInfo> attachedByLibxl() throws LibxlException {
        Map<PciAddress, DomainInfo> out = new HashMap<>();
        for (DomainInfo d : libxl.listDomains()) {
            if (d.domid() == 0) {
                continue;
            }
            List<LibxlDevicePci> list;
            try {
                list = libxl.pciList(d.domid());
            } catch (LibxlException e) {
                if (e.error() == LibxlError.DOMAIN_NOTFOUND) {
                    continue; // died while we listed
                }
                throw e;
            }
            for (LibxlDevicePci p : list) {
                out.put(address(p), d);
            }
        }
        return out;
    }

    /**
     * What an operation that checks groups must lock besides {@code devices}: every other member of each one's IOMMU
     * group and, for a function that is not an SR-IOV VF, the other non-VF functions of its slot (the multi-function
     * check reads them). Holding these for the whole operation means no peer can change hands between the check
     * and the move; {@link DeviceLocks#lock} takes them in address order, so overlapping requests cannot deadlock.
     * Group membership is topology and does not change while the host runs.
     */
    java.util.Set<PciAddress> lockSet(java.util.Collection<PciAddress> devices) {
        java.util.Set<PciAddress> out = new java.util.TreeSet<>(devices);
        for (PciAddress a : devices) {
            Optional<PciDevice> d = fixed(a);
            if (d.isEmpty()) {
                continue; // refused later as unknown; nothing of it to protect
            }
            out.addAll(d.get().iommuGroupPeers());
            if (d.get().physfn() != null) {
                continue;
            }
            for (int f = 0; f < 8; f++) {
                PciAddress sib = new PciAddress(a.domain(), a.bus(), a.device(), f);
                // topology only (present, not a VF): the siblings' fixed facts, not a fresh read of each
                if (f != a.function() && fixed(sib).filter(x -> x.physfn() == null).isPresent()) {
                    out.add(sib);
                }
            }
        }
        return out;
    }

    /** The functions a spec covers: one, or every present function of the slot for {@code BB:DD.*}. */
    List<PciAddress> functions(LibxlDevicePci spec) {
        PciAddress first = address(spec);
        if (!spec.allFunctions()) {
            return List.of(first);
        }
        List<PciAddress> out = new ArrayList<>();
        for (int f = 0; f < 8; f++) {
            PciAddress a = new PciAddress(first.domain(), first.bus(), first.device(), f);
            if (device(a).isPresent()) {
                out.add(a);
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("unknown device " + first.toString().substring(0, 10)
                    + ".*: no function of that slot exists (see `xenhost pci list`)");
        }
        return out;
    }

    /**
     * The libxl devices to add for a spec: the spec itself for one function; for {@code BB:DD.*} one device per
     * function with {@code vdevfn = vslot << 3 | func}, function 0 last (a guest discovers a multi-function device
     * when function 0 appears). This is the loop libxl's own multi-function add is meant to run; doing it here
     * keeps it correct on libxl versions whose loop adds only one function.
     */
    static List<LibxlDevicePci> perFunction(LibxlDevicePci spec, List<PciAddress> functions) {
        if (!spec.allFunctions()) {
            return List.of(spec);
        }
        List<LibxlDevicePci> out = new ArrayList<>();
        for (int i = functions.size() - 1; i >= 0; i--) {
            PciAddress a = functions.get(i);
            out.add(new LibxlDevicePci(a.domain(), a.bus(), a.device(), a.function(),
                    (spec.vdevfn() & ~7) | a.function(), 1, spec.msitranslate(), spec.powerMgmt(), spec.permissive(),
                    spec.seize(), spec.rdmPolicy(), null));
        }
        out.sort(java.util.Comparator.comparingInt(p -> p.func() == 0 ? 1 : 0));
        return out;
    }
}
