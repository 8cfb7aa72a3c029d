package org.xenhost.emulator;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenhost.emulator.domain.DomainConfig;
import org.xenhost.emulator.domain.DomainState;
import org.xenhost.emulator.domain.EmulatedDomain;
import org.xenhost.emulator.kernel.EmulatedKernel;
import org.xenhost.emulator.memory.GuestMemory;
import org.xenhost.emulator.save.RestoredGuest;
import org.xenhost.emulator.save.SavedGuest;
import org.xenhost.emulator.save.Restorer;
import org.xenhost.emulator.save.Saver;
import org.xenhost.libxl.DomainInfo;
import org.xenhost.libxl.DomainType;
import org.xenhost.libxl.HostInfo;
import org.xenhost.libxl.Libxl;
import org.xenhost.libxl.LibxlDevicePci;
import org.xenhost.libxl.LibxlError;
import org.xenhost.libxl.LibxlException;
import org.xenhost.libxl.ProgressListener;
import org.xenhost.libxl.ShutdownReason;

/**
 * {@link Libxl} on the emulated Xen host: an {@link EmulatedHypervisor} kept in a state directory (domains,
 * memory, xenstore survive the process) and, optionally, an {@link EmulatedKernel} over a sysfs tree for PCI
 * passthrough. Same error codes, xenstore keys and stream bytes as libxl 4.17 where xenhost can observe them.
 *
 * <p>Thread-safe. Domain operations lock only their domain; PCI operations share one lock (libxl serialises them
 * per device, and they are rare); creating a domain holds a short host-wide lock for the name and domid.
 */
public final class EmulatedLibxl implements Libxl {
    private static final Logger LOG = LoggerFactory.getLogger(EmulatedLibxl.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The version libxl_get_version_info reports. */
    public static final String XEN_VERSION = "4.17.0";
    static final UUID DOM0_UUID = new UUID(0, 0);

    private final EmulatedHypervisor hv;
    private final EmulatedKernel kernel;
    private final LibxlPciOps pci;
    private final Object createLock = new Object();
    private final long startedNanos = System.nanoTime();
    private volatile boolean closed;

    private EmulatedLibxl(EmulatedHypervisor hv, EmulatedKernel kernel) {
        this.hv = hv;
        this.kernel = kernel;
        this.pci = new LibxlPciOps(hv, kernel);
    }

    /**
     * Opens (creating if new) the emulated host kept in {@code stateDir}, with its kernel's sysfs tree at
     * {@code sysfsRoot} (a working copy of a fixtures/sysfs tree; null for a host without PCI passthrough).
     *
     * @throws IOException if the directory is in use by another process or unreadable, or the sysfs root is
     *                     not one
     */
    public static EmulatedLibxl open(Path stateDir, Path sysfsRoot, HostSettings settings) throws IOException {
        EmulatedHypervisor hv = EmulatedHypervisor.open(stateDir, settings);
        try {
            EmulatedKernel kernel = null;
            if (sysfsRoot != null) {
                kernel = EmulatedKernel.open(sysfsRoot, stateDir.resolve("kernel-native-drivers.json"));
                kernel.setDefaultResetLatency(settings.resetLatency());
            }
            return new EmulatedLibxl(hv, kernel);
        } catch (IOException | RuntimeException e) {
            hv.close();
            throw e;
        }
    }

    /** The emulated hypervisor (tests, the daemon's wiring). */
    public EmulatedHypervisor hypervisor() {
        return hv;
    }

    /** The emulated kernel, or null when opened without a sysfs tree. */
    public EmulatedKernel kernel() {
        return kernel;
    }

    // ---- host ----------------------------------------------------------------------------------------

    @Override
    public HostInfo hostInfo() {
        checkOpen();
        HostSettings s = hv.settings();
        boolean iommu = kernel != null && Files.isDirectory(kernel.root().resolve("sys/kernel/iommu_groups"));
        return new HostInfo(XEN_VERSION, s.totalMemoryBytes() >> 10, hv.freeBytes() >> 10, s.nrCpus(), true, iommu, hv.hostId());
    }

    // ---- domains -------------------------------------------------------------------------------------

    @Override
    public List<DomainInfo> listDomains() {
        checkOpen();
        List<DomainInfo> out = new ArrayList<>();
        out.add(dom0());
        for (EmulatedDomain d : hv.domains()) {
            if (d.state() != DomainState.PROVISIONAL) {
                out.add(info(d));
            }
        }
        return out;
    }

    @Override
    public DomainInfo domainInfo(int domid) throws LibxlException {
        checkOpen();
        if (domid == 0) {
            return dom0();
        }
        return info(domain(domid));
    }

    private DomainInfo dom0() {
        HostSettings s = hv.settings();
        long kb = s.dom0MemoryBytes() >> 10;
        return new DomainInfo(0, DOM0_UUID, "Domain-0", org.xenhost.libxl.DomainState.RUNNING, ShutdownReason.UNKNOWN,
                kb, kb, s.nrCpus(), (System.nanoTime() - startedNanos) * s.nrCpus(), DomainType.PV);
    }

    private static DomainInfo info(EmulatedDomain d) {
        DomainConfig c = d.config();
        org.xenhost.libxl.DomainState state;
        ShutdownReason reason = ShutdownReason.UNKNOWN;
        switch (d.state()) {
            case RUNNING -> state = org.xenhost.libxl.DomainState.RUNNING;
            case PAUSED, PROVISIONAL -> state = org.xenhost.libxl.DomainState.PAUSED;
            case SUSPENDED -> {
                state = org.xenhost.libxl.DomainState.SUSPENDED;
                reason = ShutdownReason.SUSPEND;
            }
            default -> {
                state = org.xenhost.libxl.DomainState.SHUTDOWN;
                reason = ShutdownReason.POWEROFF;
            }
        }
        long kb = c.memoryBytes() >> 10;
        // libxl_dominfo flags PVH and HVM alike as HVM containers; the configured type is in the config JSON
        DomainType reported = c.type() == DomainType.PV ? DomainType.PV : DomainType.HVM;
        return new DomainInfo(d.domid(), c.uuid(), d.name(), state, reason, kb, kb, c.vcpus(), d.cpuTimeNs(), reported);
    }

    /** A listed (not provisional) domain, or DOMAIN_NOTFOUND. */
    private EmulatedDomain domain(int domid) throws LibxlException {
        if (domid < 0) {
            throw new IllegalArgumentException("domid must not be negative, got " + domid);
        }
        EmulatedDomain d = hv.domain(domid).orElse(null);
        if (d == null || d.state() == DomainState.PROVISIONAL) {
            throw new LibxlException(LibxlError.DOMAIN_NOTFOUND, "domain " + domid + " does not exist");
        }
        return d;
    }

    @Override
    public int createDomain(String domainConfigJson, boolean paused) throws LibxlException {
        checkOpen();
        DomainConfig config = parseConfig(domainConfigJson);
        EmulatedDomain d = provision(config, true);
        try {
            finishCreate(d, paused);
        } catch (IOException | RuntimeException e) {
            discard(d);
            throw new LibxlException(LibxlError.FAIL, "creating domain " + config.name() + ": " + e.getMessage(), e);
        }
        return d.domid();
    }

    private static DomainConfig parseConfig(String json) throws LibxlException {
        try {
            return DomainConfig.parse(json);
        } catch (IllegalArgumentException e) {
            throw new LibxlException(LibxlError.INVAL, "domain configuration: " + e.getMessage());
        }
    }

    /**
     * Steps 1-4 of a create or restore: the name is free, host memory is reserved, a domid is allocated and
     * the domain exists as PROVISIONAL (unlisted, removed if anything later fails or the process dies).
     */
    private EmulatedDomain provision(DomainConfig config, boolean bootImage) throws LibxlException {
        synchronized (createLock) {
            // 1. unique name
            for (EmulatedDomain other : hv.domains()) {
                if (other.name().equals(config.name())) {
                    throw new LibxlException(LibxlError.INVAL, "Domain with name \"" + config.name()
                            + "\" already exists (domain " + other.domid() + ")");
                }
            }
            // 2. memory
            if (!hv.reserve(config.memoryBytes())) {
                throw new LibxlException(LibxlError.NOMEM, "not enough free memory for domain " + config.name()
                        + ": it needs " + (config.memoryBytes() >> 20) + " MiB, the host has "
                        + (hv.freeBytes() >> 20) + " MiB free");
            }
            int domid;
            EmulatedDomain d;
            try {
                // 3. domid
                domid = hv.allocateDomid();
                // 4. the domain, provisional
                d = EmulatedDomain.create(domid, hv.domainDir(domid), config, DomainState.PROVISIONAL, bootImage);
            } catch (IOException | RuntimeException e) {
                hv.release(config.memoryBytes());
                throw new LibxlException(LibxlError.FAIL, "creating domain " + config.name() + ": " + e.getMessage(), e);
            }
            hv.register(d);
            return d;
        }
    }

    /** Steps 5-6: xenstore entries, then the final state (which starts the vCPUs if running). */
    private void finishCreate(EmulatedDomain d, boolean paused) throws IOException {
        d.lock().lock();
        try {
            int domid = d.domid();
            hv.xenstore().transaction(tx -> {
                tx.write("/local/domain/" + domid + "/name", d.name());
                tx.write("/local/domain/" + domid + "/domid", Integer.toString(domid));
                tx.write("/local/domain/" + domid + "/vm", "/vm/" + d.config().uuid());
                tx.write("/vm/" + d.config().uuid() + "/name", d.name());
            });
            d.transition(paused ? DomainState.PAUSED : DomainState.RUNNING);
        } finally {
            d.lock().unlock();
        }
    }

    /** Unwinds a provisional domain: unlisted, files deleted, memory released, xenstore cleaned. */
    private void discard(EmulatedDomain d) {
        hv.unregister(d);
        try {
            d.delete();
        } catch (IOException e) {
            LOG.warn("removing the files of failed domain {}: {}", d.domid(), e.toString());
        }
        hv.release(d.config().memoryBytes());
        cleanXenstore(d);
    }

    private void cleanXenstore(EmulatedDomain d) {
        try {
            hv.xenstore().transaction(tx -> {
                tx.rm("/local/domain/" + d.domid());
                tx.rm("/vm/" + d.config().uuid());
                tx.rm("/local/domain/0/backend/pci/" + d.domid());
            });
        } catch (IOException e) {
            LOG.warn("cleaning xenstore of domain {}: {}", d.domid(), e.toString());
        }
    }

    @Override
    public String domainConfigJson(int domid) throws LibxlException {
        checkOpen();
        EmulatedDomain d = domain(domid);
        try {
            ObjectNode root = (ObjectNode) JSON.readTree(d.config().json());
            if (root.has("c_info") && root.get("c_info").isObject()) {
                ((ObjectNode) root.get("c_info")).put("name", d.name());
            } else {
                root.put("name", d.name());
            }
            List<LibxlDevicePci> devices = pci.pciList(domid);
            if (devices.isEmpty()) {
                root.remove("pcidevs");
            } else {
                ArrayNode arr = root.putArray("pcidevs");
                for (LibxlDevicePci p : devices) {
                    ObjectNode n = arr.addObject();
                    n.put("func", p.func()).put("dev", p.dev()).put("bus", p.bus()).put("domain", p.domain())
                            .put("vdevfn", p.vdevfn()).put("permissive", p.permissive())
                            .put("rdm_policy", p.rdmPolicy().xlName());
                    if (p.name() != null) {
                        n.put("name", p.name());
                    }
                }
            }
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root);
        } catch (IOException e) {
            throw new LibxlException(LibxlError.FAIL, "domain " + domid + ": stored configuration unreadable: "
                    + e.getMessage(), e);
        }
    }

    @Override
    public void pause(int domid) throws LibxlException {
        checkOpen();
        EmulatedDomain d = domain(domid);
        changeState(d, DomainState.RUNNING, DomainState.PAUSED, "pause");
    }

    @Override
    public void unpause(int domid) throws LibxlException {
        checkOpen();
        EmulatedDomain d = domain(domid);
        changeState(d, DomainState.PAUSED, DomainState.RUNNING, "unpause");
    }

    /** Moves {@code from} → {@code to}; other states are left alone, as Xen's pause count is for them. */
    /**
     * The emulated guest honours a shutdown request at once, as a guest with PV drivers does: it stops running
     * and reports shut down (reason poweroff) until it is destroyed. A paused guest cannot act on it, as in Xen.
     */
    @Override
    public void shutdown(int domid) throws LibxlException {
        checkOpen();
        if (domid == 0) {
            throw new LibxlException(LibxlError.INVAL, "cannot shut down Domain-0 through libxl");
        }
        EmulatedDomain d = domain(domid);
        changeState(d, DomainState.RUNNING, DomainState.SHUTDOWN, "shutdown");
    }

    private void changeState(EmulatedDomain d, DomainState from, DomainState to, String what) throws LibxlException {
        d.lock().lock();
        try {
            if (d.state() == from) {
                d.transition(to);
            }
        } catch (IOException e) {
            throw new LibxlException(LibxlError.FAIL, what + " domain " + d.domid() + ": " + e.getMessage(), e);
        } finally {
            d.lock().unlock();
        }
    }

    @Override
    public void destroy(int domid) throws LibxlException {
        checkOpen();
        if (domid == 0) {
            throw new LibxlException(LibxlError.INVAL, "cannot destroy Domain-0");
        }
        EmulatedDomain d = domain(domid);
        // Releasing the memory first stops the vCPUs and makes a save in progress fail at its next batch.
        try {
            d.memory().close();
        } catch (IOException e) {
            LOG.warn("releasing memory of domain {}: {}", domid, e.toString());
        }
        d.lock().lock();
        try {
            if (hv.domain(domid).orElse(null) != d) {
                throw new LibxlException(LibxlError.DOMAIN_NOTFOUND, "domain " + domid + " does not exist");
            }
            pci.destroyAll(d);
            hv.unregister(d);
            pci.forget(d);
            try {
                d.delete();
            } catch (IOException e) {
                LOG.warn("deleting files of domain {}: {}", domid, e.toString());
            }
            hv.release(d.config().memoryBytes());
            cleanXenstore(d);
        } finally {
            d.lock().unlock();
        }
    }

    @Override
    public void resume(int domid) throws LibxlException {
        checkOpen();
        EmulatedDomain d = domain(domid);
        d.lock().lock();
        try {
            switch (d.state()) {
                case SUSPENDED, PAUSED -> d.transition(DomainState.RUNNING);
                case RUNNING -> { }
                default -> throw new LibxlException(LibxlError.FAIL, "domain " + domid + " has shut down; it cannot be resumed");
            }
        } catch (IOException e) {
            throw new LibxlException(LibxlError.FAIL, "resume domain " + domid + ": " + e.getMessage(), e);
        } finally {
            d.lock().unlock();
        }
    }

    @Override
    public void rename(int domid, String oldName, String newName) throws LibxlException {
        checkOpen();
        if (newName == null || newName.isEmpty() || !newName.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
            throw new LibxlException(LibxlError.INVAL, "new domain name '" + newName + "' is empty or has spaces");
        }
        EmulatedDomain d = domain(domid);
        synchronized (createLock) {
            d.lock().lock();
            try {
                if (oldName != null && !oldName.equals(d.name())) {
                    throw new LibxlException(LibxlError.FAIL, "domain " + domid + " is called '" + d.name()
                            + "', not '" + oldName + "' (racing ?)");
                }
                for (EmulatedDomain other : hv.domains()) {
                    if (other != d && other.name().equals(newName)) {
                        throw new LibxlException(LibxlError.INVAL, "domain with name \"" + newName
                                + "\" already exists (domain " + other.domid() + ")");
                    }
                }
                d.rename(newName);
                hv.xenstore().write("/local/domain/" + domid + "/name", newName);
                hv.xenstore().write("/vm/" + d.config().uuid() + "/name", newName);
            } catch (IOException e) {
                throw new LibxlException(LibxlError.FAIL, "rename domain " + domid + ": " + e.getMessage(), e);
            } finally {
                d.lock().unlock();
            }
        }
    }

    // ---- save / restore ------------------------------------------------------------------------------

    @Override
    public void suspend(int domid, WritableByteChannel target, boolean live, boolean debug, ProgressListener progress)
            throws LibxlException {
        suspendReporting(domid, target, live, debug, progress);
    }

    /** {@link #suspend} returning what was sent per round (tests and benchmarks). */
    public Saver.SaveReport suspendReporting(int domid, WritableByteChannel target, boolean live, boolean debug,
                                             ProgressListener progress) throws LibxlException {
        checkOpen();
        EmulatedDomain d = domain(domid);
        d.lock().lock();
        try {
            if (d.state() != DomainState.RUNNING && d.state() != DomainState.PAUSED) {
                throw new LibxlException(LibxlError.FAIL, "domain " + domid + " is " + d.state().name().toLowerCase()
                        + "; only a running or paused domain can be saved");
            }
            return Saver.save(savedGuest(d), target, live, debug, progress == null ? ProgressListener.NONE : progress);
        } finally {
            d.lock().unlock();
        }
    }

    private SavedGuest savedGuest(EmulatedDomain d) {
        return new SavedGuest() {
            @Override
            public int domid() {
                return d.domid();
            }

            @Override
            public DomainType type() {
                return d.config().type();
            }

            @Override
            public int vcpus() {
                return d.config().vcpus();
            }

            @Override
            public GuestMemory memory() {
                return d.memory();
            }

            @Override
            public int enableLogDirty() {
                return hv.enableLogDirty(d);
            }

            @Override
            public void suspend() throws IOException {
                d.transition(DomainState.SUSPENDED);
            }

            @Override
            public long workloadStep() {
                return d.workloadSteps();
            }

            @Override
            public long uptimeNs() {
                return d.cpuTimeNs();
            }
        };
    }

    @Override
    public int createRestore(String domainConfigJson, ReadableByteChannel source, int streamVersion, boolean paused,
                             ProgressListener progress) throws LibxlException {
        checkOpen();
        if (streamVersion != STREAM_VERSION) {
            throw new LibxlException(LibxlError.INVAL, "restore stream version " + streamVersion
                    + " is not supported: only libxl stream v2 (legacy v1 needs Xen's convert-legacy-stream)");
        }
        DomainConfig config = parseConfig(domainConfigJson);
        EmulatedDomain d = provision(config, false);
        try {
            Restorer.restore(new RestoredGuest() {
                @Override
                public int domid() {
                    return d.domid();
                }

                @Override
                public DomainType type() {
                    return config.type();
                }

                @Override
                public GuestMemory memory() {
                    return d.memory();
                }

                @Override
                public void setWorkloadStep(long step) {
                    d.setWorkloadStep(step);
                }
            }, source, progress == null ? ProgressListener.NONE : progress);
            finishCreate(d, paused);
        } catch (LibxlException e) {
            discard(d);
            throw e;
        } catch (IOException | RuntimeException e) {
            discard(d);
            throw new LibxlException(LibxlError.FAIL, "restoring domain " + config.name() + ": " + e, e);
        }
        return d.domid();
    }

    // ---- PCI -----------------------------------------------------------------------------------------

    @Override
    public void assignableAdd(LibxlDevicePci device, boolean rebind) throws LibxlException {
        checkOpen();
        pci.assignableAdd(device, rebind);
    }

    @Override
    public void assignableRemove(LibxlDevicePci device, boolean rebind) throws LibxlException {
        checkOpen();
        pci.assignableRemove(device, rebind);
    }

    @Override
    public List<LibxlDevicePci> assignableList() throws LibxlException {
        checkOpen();
        return pci.assignableList();
    }

    @Override
    public void pciReset(LibxlDevicePci device) throws LibxlException {
        checkOpen();
        pci.reset(device);
    }

    @Override
    public void pciAdd(int domid, LibxlDevicePci device) throws LibxlException {
        checkOpen();
        EmulatedDomain d = hv.domain(domid).filter(x -> x.state() != DomainState.PROVISIONAL).orElse(null);
        if (d == null) {
            throw new LibxlException(LibxlError.FAIL, "pci-attach " + device.bdf() + ": domain " + domid
                    + " does not exist");
        }
        // Not under the domain's lock: a device reset must not hold up the domain, nor other devices of it.
        pci.pciAdd(d, device, d.state() == DomainState.RUNNING);
    }

    @Override
    public void pciRemove(int domid, LibxlDevicePci device, boolean force) throws LibxlException {
        checkOpen();
        EmulatedDomain d = hv.domain(domid).filter(x -> x.state() != DomainState.PROVISIONAL).orElse(null);
        if (d == null) {
            throw new LibxlException(LibxlError.INVAL, "PCI device " + device.bdf() + " is not attached to domain "
                    + domid + " (no such domain)");
        }
        pci.pciRemove(d, device, force);
    }

    @Override
    public List<LibxlDevicePci> pciList(int domid) throws LibxlException {
        checkOpen();
        return pci.pciList(domid);
    }

    // ---- lifetime ------------------------------------------------------------------------------------

    /**
     * Stops the emulated host in this process: guests stop dirtying and mappings are released, but their state
     * stays in the directory; the next {@link #open} finds them as they were.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        hv.close();
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("this emulated libxl context is closed");
        }
    }
}
