package org.xenhost.emulator;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenhost.emulator.domain.DomainState;
import org.xenhost.emulator.domain.EmulatedDomain;
import org.xenhost.pci.io.AtomicFiles;
import org.xenhost.emulator.io.GroupCommit;
import org.xenhost.emulator.xenstore.Xenstore;

/**
 * The emulated hypervisor: domain table, domid allocation, host memory accounting, the device assignment
 * table ({@code xc_assign_device}) and xenstore, all kept under one directory so they outlive the process that
 * opened them, as Xen outlives its toolstack:
 *
 * <pre>
 *   DIR/lock                      held (flock) while a process runs this host; a second opener is refused
 *   DIR/host.json                 memory, CPUs, the domid rover
 *   DIR/xenstore.json             the xenstore tree
 *   DIR/assignments.json          BDF → owning domid (0x7ff1 = DOMID_IO, quarantine)
 *   DIR/kernel-native-drivers.json  which dom0 driver drives which device (learnt from the sysfs tree)
 *   DIR/domains/&lt;domid&gt;/         domain.json, memory (sparse), populated (bitmap), vcpu-context
 * </pre>
 *
 * While no process has it open, time stands still: guests resume dirtying when the next process opens it.
 */
public final class EmulatedHypervisor implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EmulatedHypervisor.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Xen: domids 1..0x7fef; 0x7ff0 upwards are reserved (DOMID_SELF, DOMID_IO, ...). */
    static final int DOMID_FIRST_RESERVED = 0x7ff0;
    public static final int DOMID_IO = 0x7ff1;

    private final Path dir;
    private final FileChannel lockFile;
    private final FileLock lock;
    private final HostSettings settings;
    private final Map<Integer, EmulatedDomain> domains = new ConcurrentHashMap<>();
    private final Xenstore xenstore;
    private final Map<String, Integer> assignments;
    private final String hostId;
    private int domidRover;
    private long reservedBytes;
    private volatile boolean closed;
    private final GroupCommit<Map<String, Integer>> assignmentsFile;

    private EmulatedHypervisor(Path dir, FileChannel lockFile, FileLock lock, HostSettings settings, String hostId,
                               int rover, Xenstore xenstore, Map<String, Integer> assignments) {
        this.dir = dir;
        this.hostId = hostId;
        this.lockFile = lockFile;
        this.lock = lock;
        this.settings = settings;
        this.domidRover = rover;
        this.xenstore = xenstore;
        this.assignments = assignments;
        this.assignmentsFile = new GroupCommit<>(new TreeMap<>(assignments),
                a -> AtomicFiles.write(dir.resolve("assignments.json"), JSON.writeValueAsBytes(a)),
                (onDisk, markFailed) -> {
                    synchronized (this) { // a failed write takes back every change it would have carried
                        markFailed.run();
                        this.assignments.clear();
                        this.assignments.putAll(onDisk);
                    }
                });
    }

    /**
     * Opens the emulated host kept in {@code dir}, creating it with {@code settings} if the directory is new.
     * Domains left mid-restore by a crashed process are removed; running domains start dirtying again.
     *
     * @throws IOException if another process has this host open, or its files are unreadable
     */
    public static EmulatedHypervisor open(Path dir, HostSettings settings) throws IOException {
        Files.createDirectories(dir.resolve("domains"));
        FileChannel lockFile = FileChannel.open(dir.resolve("lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = lockFile.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null;
        }
        if (lock == null) {
            lockFile.close();
            throw new IOException("emulated Xen host in " + dir + " is already open in another process "
                    + "(or in this one); give each emulated host its own directory");
        }
        try {
            Path hostFile = dir.resolve("host.json");
            HostSettings effective = settings;
            int rover = 0;
            // one id per emulated machine, kept for its life: two daemons on it see the same Xen (a same-host migration)
            String hostId = "emulated:" + java.util.UUID.randomUUID();
            if (Files.exists(hostFile)) {
                JsonNode n = JSON.readTree(hostFile.toFile());
                effective = new HostSettings(n.get("total_memory").asLong(), n.get("dom0_memory").asLong(),
                        n.get("nr_cpus").asInt(), settings.resetLatency());
                rover = n.get("domid_rover").asInt();
                if (n.hasNonNull("host_id")) {
                    hostId = n.get("host_id").asText();
                }
            }
            Xenstore xs = Xenstore.open(dir.resolve("xenstore.json"));
            Map<String, Integer> assignments = new TreeMap<>();
            Path assignFile = dir.resolve("assignments.json");
            if (Files.exists(assignFile)) {
                assignments.putAll(JSON.readValue(assignFile.toFile(), new TypeReference<Map<String, Integer>>() { }));
            }
            EmulatedHypervisor h = new EmulatedHypervisor(dir, lockFile, lock, effective, hostId, rover, xs, assignments);
            h.persistHost();
            h.loadDomains();
            return h;
        } catch (IOException | RuntimeException e) {
            lock.release();
            lockFile.close();
            throw e;
        }
    }

    private void loadDomains() throws IOException {
        try (var entries = Files.list(dir.resolve("domains"))) {
            for (Path d : (Iterable<Path>) entries::iterator) {
                if (!Files.exists(d.resolve("domain.json"))) {
                    LOG.warn("removing {}: a domain directory without domain.json (creation interrupted)", d);
                    deleteTree(d);
                    continue;
                }
                EmulatedDomain dom = EmulatedDomain.load(d);
                if (dom.state() == DomainState.PROVISIONAL) {
                    LOG.warn("removing domain {} ({}): its creation or restore was interrupted", dom.domid(), dom.name());
                    dom.delete();
                    continue;
                }
                domains.put(dom.domid(), dom);
                reservedBytes += dom.config().memoryBytes();
            }
        }
        for (EmulatedDomain d : domains.values()) {
            d.startVcpus();
        }
    }

    public Path dir() {
        return dir;
    }

    /** This emulated machine's identity, the same for every process that opens it (see {@code HostInfo.hostId}). */
    public String hostId() {
        return hostId;
    }

    public HostSettings settings() {
        return settings;
    }

    public Xenstore xenstore() {
        return xenstore;
    }

    /** Host memory not held by dom0 or any domain. */
    public synchronized long freeBytes() {
        return settings.totalMemoryBytes() - settings.dom0MemoryBytes() - reservedBytes;
    }

    /** Takes {@code bytes} of host memory for a new domain; false if there is not enough free. */
    synchronized boolean reserve(long bytes) {
        if (bytes > freeBytes()) {
            return false;
        }
        reservedBytes += bytes;
        return true;
    }

    synchronized void release(long bytes) {
        reservedBytes -= bytes;
    }

    /**
     * Allocates a domid as Xen does: a rover that moves forward from the last one given, wraps below the reserved
     * range and skips ids in use, so an id is never reused while its domain exists.
     */
    synchronized int allocateDomid() throws IOException {
        for (int tries = 0; tries < DOMID_FIRST_RESERVED; tries++) {
            domidRover++;
            if (domidRover >= DOMID_FIRST_RESERVED) {
                domidRover = 1;
            }
            if (!domains.containsKey(domidRover) && !Files.exists(domainDir(domidRover))) {
                persistHost();
                return domidRover;
            }
        }
        throw new IOException("no free domain id");
    }

    Path domainDir(int domid) {
        return dir.resolve("domains").resolve(Integer.toString(domid));
    }

    void register(EmulatedDomain d) {
        domains.put(d.domid(), d);
    }

    void unregister(EmulatedDomain d) {
        domains.remove(d.domid(), d);
    }

    /** A domain by id, including provisional ones. */
    public Optional<EmulatedDomain> domain(int domid) {
        return Optional.ofNullable(domains.get(domid));
    }

    /** Every domain, provisional ones included, in domid order. */
    public List<EmulatedDomain> domains() {
        List<EmulatedDomain> out = new ArrayList<>(domains.values());
        out.sort((a, b) -> Integer.compare(a.domid(), b.domid()));
        return out;
    }

    // ---- device assignment (xc_assign_device / xc_deassign_device / xc_test_assign_device) ------------

    /** The domain a device is assigned to in the IOMMU (DOMID_IO when quarantined), if any. */
    public synchronized Optional<Integer> assignedTo(String bdf) {
        return Optional.ofNullable(assignments.get(bdf));
    }

    /**
     * Assigns {@code bdf} to {@code domid}: from nobody or quarantine to anyone; a device owned by a guest cannot
     * move to another guest. Returns 0 or a negative errno (-EBUSY).
     */
    int assignDevice(int domid, String bdf) throws IOException {
        long ticket;
        synchronized (this) {
            Integer owner = assignments.get(bdf);
            if (owner != null && owner != DOMID_IO && owner != domid) {
                return -16;
            }
            assignments.put(bdf, domid);
            ticket = assignmentsFile.publish(new TreeMap<>(assignments));
        }
        assignmentsFile.await(ticket);
        return 0;
    }

    /** Deassigns from {@code domid}: a guest's device goes back to quarantine, a quarantined device is freed. */
    int deassignDevice(int domid, String bdf) throws IOException {
        long ticket;
        synchronized (this) {
            Integer owner = assignments.get(bdf);
            if (owner == null || owner != domid) {
                return -22;
            }
            if (domid == DOMID_IO) {
                assignments.remove(bdf);
            } else {
                assignments.put(bdf, DOMID_IO);
            }
            ticket = assignmentsFile.publish(new TreeMap<>(assignments));
        }
        // durable before returning, written outside the table's lock (shared with other devices' changes)
        assignmentsFile.await(ticket);
        return 0;
    }

    /** Devices assigned to {@code domid}. */
    public synchronized List<String> devicesOf(int domid) {
        List<String> out = new ArrayList<>();
        assignments.forEach((bdf, owner) -> {
            if (owner == domid) {
                out.add(bdf);
            }
        });
        return out;
    }

    /**
     * XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY: refused with -EINVAL for a domain with assigned devices (the IOMMU
     * shares the p2m, DMA writes cannot be tracked; paging_log_dirty_enable).
     */
    int enableLogDirty(EmulatedDomain d) {
        if (!devicesOf(d.domid()).isEmpty()) {
            return -22;
        }
        d.memory().enableLogDirty();
        return 0;
    }


    private synchronized void persistHost() throws IOException {
        ObjectNode n = JSON.createObjectNode();
        n.put("total_memory", settings.totalMemoryBytes());
        n.put("dom0_memory", settings.dom0MemoryBytes());
        n.put("nr_cpus", settings.nrCpus());
        n.put("domid_rover", domidRover);
        n.put("host_id", hostId);
        AtomicFiles.write(dir.resolve("host.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(n));
    }

    /** Stops every guest's vCPUs and releases mappings; the files (and so the guests) stay for the next open. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        Collection<EmulatedDomain> all = List.copyOf(domains.values());
        for (EmulatedDomain d : all) {
            d.freeze();
        }
        for (EmulatedDomain d : all) {
            try {
                d.close();
            } catch (IOException e) {
                LOG.warn("closing domain {}: {}", d.domid(), e.toString());
            }
        }
        try {
            lock.release();
            lockFile.close();
        } catch (IOException e) {
            LOG.warn("releasing {}: {}", dir.resolve("lock"), e.toString());
        }
    }

    public boolean closed() {
        return closed;
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (var walk = Files.walk(p)) {
            for (Path q : (Iterable<Path>) walk.sorted(java.util.Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(q);
            }
        }
    }
}
