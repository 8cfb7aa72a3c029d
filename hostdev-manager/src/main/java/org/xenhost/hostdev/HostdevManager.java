package org.xenhost.hostdev;

import org.xenhost.libxl.Libxl;
import org.xenhost.libxl.LibxlDevicePci;
import org.xenhost.libxl.LibxlException;
import org.xenhost.pci.PciAddress;
import org.xenhost.pci.PciDevice;
import org.xenhost.pci.PciInventory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The PCI passthrough lifecycle of one host: the assignable pool, hotplug, a domain's managed devices at start and
 * stop, safety checks, reset selection and the ownership journal. It reaches Xen only through {@link Libxl} and
 * sysfs only through the PCI reader over a sysfs root, so the same code runs on a Xen dom0 and on the emulated host.
 *
 * <p>Thread-safe. Operations lock only the devices they move (in address order), so operations on different
 * devices run in parallel; queries lock nothing and never wait behind a slow reset.
 *
 * <p>Create with {@link #start}: it replays the journal under {@code <stateDir>/hostdev}, reconciles it with sysfs
 * and libxl, and keeps what it found in {@link #startupFindings()}.
 */
public final class HostdevManager implements AutoCloseable {
    private final Host host;
    private final PoolOperations pool;
    private final HotplugOperations hotplug;
    private final ManagedDevices managed;
    private final DeviceReset reset;
    private final List<Finding> startupFindings;

    private HostdevManager(Host host) throws LibxlException {
        this.host = host;
        this.pool = new PoolOperations(host);
        this.hotplug = new HotplugOperations(host);
        this.managed = new ManagedDevices(host);
        this.reset = new DeviceReset(host);
        this.startupFindings = List.copyOf(new Reconciler(host).run());
    }

    /**
     * Opens the journal in {@code stateDir}, reconciles it and returns a manager ready for operations.
     *
     * @param sysfsRoot the sysfs root ({@code /} on a real host)
     * @param critical  where to learn the root filesystem and default route ({@link HostCriticalDevices.Sources#ofHost})
     * @param hook      {@link StepHook#NONE}, or a test's fault injector
     * @throws IllegalArgumentException if the sysfs root or the state directory is unusable
     */
    public static HostdevManager start(Libxl libxl, Path sysfsRoot, Path stateDir, HostCriticalDevices.Sources critical,
                                       StepHook hook) throws HostdevException {
        OwnershipJournal journal = new OwnershipJournal(stateDir);
        try {
            return new HostdevManager(new Host(libxl, sysfsRoot, journal, new HostCriticalDevices(critical), hook));
        } catch (LibxlException e) {
            journal.close();
            throw new HostdevException("start-up reconciliation failed: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            journal.close();
            throw e;
        }
    }

    /** What start-up reconciliation found in unexpected places and did about it; empty after a clean stop. */
    public List<Finding> startupFindings() {
        return startupFindings;
    }

    // ---- the pool --------------------------------------------------------------------------------------

    /** {@code xl pci-assignable-add [-n NAME] BDF}; see {@link PoolOperations#add} for the steps. */
    public Ownership assignableAdd(PciAddress bdf, String name, boolean force) throws HostdevException {
        return pool.add(bdf, name, force);
    }

    /** {@code xl pci-assignable-remove [-r] BDF|NAME}; returns the device removed. */
    public PciAddress assignableRemove(String bdfOrName, boolean rebind) throws HostdevException {
        return pool.remove(bdfOrName, rebind);
    }

    /**
     * Devices on pciback, used by no domain and in no hand-over (the journal has nothing pending for them), by
     * address. Takes no lock.
     */
    public List<PoolDevice> assignableList() {
        return assignableList(host.scan());
    }

    /** The same, from {@code inventory}, a scan of this host's sysfs the caller has just made. */
    public List<PoolDevice> assignableList(PciInventory inventory) {
        Map<PciAddress, Ownership> journal = host.journal.entries();
        List<PoolDevice> out = new ArrayList<>();
        for (PciDevice d : inventory.devices()) {
            if (!Host.PCIBACK.equals(d.driver())) {
                continue;
            }
            Ownership o = journal.get(d.address());
            if (o != null && !o.free()) {
                continue;
            }
            out.add(new PoolDevice(d.address(), o == null ? null : o.name(), o == null ? null : o.originalDriver()));
        }
        return out;
    }

    // ---- hotplug ---------------------------------------------------------------------------------------

    /** Attaches a device (xl.cfg PCI spec, every option honoured) to a running domain (name or domid). */
    public AttachResult attach(String domain, LibxlDevicePci spec, boolean force) throws HostdevException {
        return hotplug.attach(domain, spec, force, true);
    }

    /**
     * The same; {@code strictReset} false is {@code nostrictreset=1}: a device without a safe reset is attached
     * unreset, with a warning (logged, and in the result's reset plans), instead of being refused.
     */
    public AttachResult attach(String domain, LibxlDevicePci spec, boolean force, boolean strictReset)
            throws HostdevException {
        return hotplug.attach(domain, spec, force, strictReset);
    }

    /** Detaches a device from a domain; {@code force} does not wait for the guest. It stays in the pool. */
    public PciAddress detach(String domain, PciAddress bdf, boolean force) throws HostdevException {
        return hotplug.detach(domain, bdf, force);
    }

    /**
     * The second half of a managed device's hot-detach (libvirt's reattach): a device the detach left in the pool
     * goes back to the dom0 driver it came from ({@code assignable-remove --rebind}). A device that is not settled
     * in the pool (attached, mid-hand-over, or with the host already) is left alone.
     *
     * @return the pool entry the device left (its {@code originalDriver} says where it went), empty if nothing moved
     */
    public Optional<Ownership> giveBackToHost(PciAddress bdf) throws HostdevException {
        Optional<Ownership> o = host.journal.get(bdf).filter(x -> x.free() && x.state() == DeviceState.ASSIGNABLE);
        if (o.isEmpty()) {
            return Optional.empty();
        }
        pool.remove(bdf.toString(), true);
        return o;
    }

    // ---- managed devices -------------------------------------------------------------------------------

    /** Gives a created (paused) domain its configured devices; all or nothing. */
    public AttachResult startDomainDevices(String domain, List<HostdevSpec> devices) throws HostdevException {
        return managed.start(domain, devices);
    }

    /** Takes back a stopping (or already destroyed) domain's devices; managed ones go back to dom0. */
    public StopResult stopDomainDevices(String domain) throws HostdevException {
        return managed.stop(domain);
    }

    // ---- queries ---------------------------------------------------------------------------------------

    /** The journal's entry for a device, if xenhost holds it. */
    public Optional<Ownership> ownership(PciAddress bdf) {
        return host.journal.get(bdf);
    }

    /** Every journal entry. */
    public Map<PciAddress, Ownership> ownerships() {
        return host.journal.entries();
    }

    /** The journal entries of {@code domain}'s devices: attached to it, or being given to it or taken from it. */
    public List<Ownership> ownerships(java.util.UUID domain) {
        return host.journal.entries().values().stream().filter(o -> o.ownedBy(domain)).toList();
    }

    /** The reset {@code bdf} would get now, and why. */
    public ResetPlan resetPlan(PciAddress bdf) {
        PciDevice d = host.require(bdf);
        PciInventory inv = host.scan();
        return ResetSelector.select(d, inv, Set.of(bdf), x -> host.usage(x, null));
    }

    /**
     * Resets a device nobody uses, now ({@code virsh nodedev-reset}), by libxl's reset recipe; see
     * {@link DeviceReset#reset} for the steps. Locks the device (and, for a bus reset, what shares its bridge).
     *
     * @return the plan carried out: method and why
     * @throws DeviceRefusedException for a device a domain has, one still on a dom0 driver other than pciback
     *                                (detach it first), or one without a safe reset
     * @throws HostdevException       when the reset itself fails
     */
    public ResetPlan reset(PciAddress bdf) throws HostdevException {
        return reset.reset(bdf);
    }

    /** For every device in sysfs: could it be given to a guest now, and if not why; who owns it. Takes no lock. */
    public Map<PciAddress, DeviceVerdict> verdicts() {
        return verdicts(host);
    }

    /** The same, judged against {@code inventory}, a scan of this host's sysfs the caller has just made. */
    public Map<PciAddress, DeviceVerdict> verdicts(PciInventory inventory) {
        return verdicts(host, inventory);
    }

    /**
     * The same verdicts without a running manager: sysfs and the journal as they are, read only (no libxl, no
     * reconciliation, nothing written). For {@code pci list}, which must work on any host.
     */
    public static Map<PciAddress, DeviceVerdict> verdicts(Path sysfsRoot, Path stateDir,
                                                          HostCriticalDevices.Sources critical) {
        return verdicts(sysfsRoot, stateDir, critical, null);
    }

    /**
     * The same, judged against {@code inventory}, a scan of {@code sysfsRoot} the caller has just made (so
     * {@code pci list} reads sysfs once, not twice); null scans here.
     */
    public static Map<PciAddress, DeviceVerdict> verdicts(Path sysfsRoot, Path stateDir,
                                                          HostCriticalDevices.Sources critical, PciInventory inventory) {
        OwnershipJournal journal = OwnershipJournal.readOnly(stateDir);
        return verdicts(new Host(null, sysfsRoot, journal, new HostCriticalDevices(critical), StepHook.NONE), inventory);
    }

    private static Map<PciAddress, DeviceVerdict> verdicts(Host host) {
        return verdicts(host, null);
    }

    private static Map<PciAddress, DeviceVerdict> verdicts(Host host, PciInventory inventory) {
        SafetyChecks checks = new SafetyChecks(host, inventory);
        Map<PciAddress, DeviceVerdict> out = new LinkedHashMap<>();
        for (PciDevice d : checks.inventory().devices()) {
            List<Refusal> r = checks.verdict(d);
            Optional<Ownership> o = host.journal.get(d.address());
            String owner = o.map(Ownership::owner).map(Owner::name).orElse(null);
            out.put(d.address(), new DeviceVerdict(d.address(), r.isEmpty(),
                    r.isEmpty() ? null : r.stream().map(Refusal::reason).collect(Collectors.joining("; ")), owner));
        }
        return out;
    }

    @Override
    public void close() {
        host.journal.close();
    }
}
