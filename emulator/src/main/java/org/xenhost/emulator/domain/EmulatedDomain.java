package org.xenhost.emulator.domain;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.locks.ReentrantLock;
import org.xenhost.pci.io.AtomicFiles;
import org.xenhost.emulator.memory.GuestMemory;

/**
 * One emulated domain: its configuration, run state, memory and vCPU workload, persisted in its own directory
 * ({@code domain.json}, {@code memory}, {@code populated}, {@code vcpu-context}).
 *
 * <p>Operations on a domain take {@link #lock()}; operations on different domains never share a lock.
 */
public final class EmulatedDomain {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final int domid;
    private final Path dir;
    private final DomainConfig config;
    private final GuestMemory memory;
    private final Workload workload;
    private final ReentrantLock lock = new ReentrantLock();
    private volatile String name;
    private volatile DomainState state;
    private long cpuTimeNs;
    private long runningSince;

    private EmulatedDomain(int domid, Path dir, DomainConfig config, String name, DomainState state, long cpuTimeNs,
                           GuestMemory memory, Workload workload) {
        this.domid = domid;
        this.dir = dir;
        this.config = config;
        this.name = name;
        this.state = state;
        this.cpuTimeNs = cpuTimeNs;
        this.memory = memory;
        this.workload = workload;
    }

    /**
     * Creates a new domain's files in {@code dir}. {@code bootImage}: write the deterministic boot image (a
     * fresh guest); a restore leaves memory empty and fills it from the stream.
     */
    public static EmulatedDomain create(int domid, Path dir, DomainConfig config, DomainState initial, boolean bootImage)
            throws IOException {
        Files.createDirectories(dir);
        GuestMemory memory = GuestMemory.open(dir, config.memoryBytes());
        Workload workload;
        try {
            workload = new Workload(config.name(), memory, dir.resolve("vcpu-context"), config.seed(),
                    config.workingSet(), config.dirtyRate());
        } catch (IOException | RuntimeException e) {
            memory.close();
            throw e;
        }
        EmulatedDomain d = new EmulatedDomain(domid, dir, config, config.name(), initial, 0, memory, workload);
        if (bootImage) {
            workload.writeBootImage();
        }
        d.persist();
        return d;
    }

    /** Reopens a domain from its directory (emulator restart). */
    public static EmulatedDomain load(Path dir) throws IOException {
        JsonNode n = JSON.readTree(Files.readAllBytes(dir.resolve("domain.json")));
        DomainConfig config = DomainConfig.parse(n.get("config").asText());
        GuestMemory memory = GuestMemory.open(dir, config.memoryBytes());
        Workload workload;
        try {
            workload = new Workload(config.name(), memory, dir.resolve("vcpu-context"), config.seed(),
                    config.workingSet(), config.dirtyRate());
        } catch (IOException | RuntimeException e) {
            memory.close();
            throw e;
        }
        return new EmulatedDomain(n.get("domid").asInt(), dir, config, n.get("name").asText(),
                DomainState.valueOf(n.get("state").asText()), n.path("cpu_time_ns").asLong(), memory, workload);
    }

    /** Writes domain.json (write-temp, fsync, rename). Caller holds the lock or owns the domain exclusively. */
    public void persist() throws IOException {
        ObjectNode n = JSON.createObjectNode();
        n.put("domid", domid);
        n.put("name", name);
        n.put("state", state.name());
        n.put("cpu_time_ns", cpuTimeNs());
        n.put("config", config.json());
        AtomicFiles.write(dir.resolve("domain.json"), JSON.writerWithDefaultPrettyPrinter()
                .writeValueAsString(n).getBytes(StandardCharsets.UTF_8));
    }

    public int domid() {
        return domid;
    }

    public Path dir() {
        return dir;
    }

    public DomainConfig config() {
        return config;
    }

    public GuestMemory memory() {
        return memory;
    }

    public String name() {
        return name;
    }

    public DomainState state() {
        return state;
    }

    public ReentrantLock lock() {
        return lock;
    }

    /** Workload steps done so far (each dirties one page). */
    public long workloadSteps() {
        return workload.steps();
    }

    public synchronized long cpuTimeNs() {
        return cpuTimeNs + (runningSince != 0 ? (System.nanoTime() - runningSince) * config.vcpus() : 0);
    }

    /** Renames; caller holds the lock. */
    public void rename(String newName) throws IOException {
        String old = name;
        name = newName;
        try {
            persist();
        } catch (IOException e) {
            name = old;
            throw e;
        }
    }

    /**
     * Moves to {@code next}, starting or halting the vCPUs; persisted before the vCPUs start and after they
     * stopped, so a crash never shows a running guest as paused. Caller holds the lock.
     */
    public void transition(DomainState next) throws IOException {
        DomainState prev = state;
        if (prev == next) {
            return;
        }
        if (!next.runs()) {
            workload.halt();
            synchronized (this) {
                if (runningSince != 0) {
                    cpuTimeNs += (System.nanoTime() - runningSince) * config.vcpus();
                    runningSince = 0;
                }
            }
        }
        state = next;
        try {
            persist();
        } catch (IOException e) {
            state = prev;
            if (prev.runs()) {
                startVcpus();
            }
            throw e;
        }
        if (next.runs()) {
            startVcpus();
        }
    }

    /** Starts the workload if the persisted state says the guest runs (after load). */
    public void startVcpus() {
        if (state.runs()) {
            synchronized (this) {
                if (runningSince == 0) {
                    runningSince = System.nanoTime();
                }
            }
            workload.start();
        }
    }

    /** Stops the vCPUs without changing the recorded state (emulator shutdown: Xen would keep running). */
    public void freeze() {
        workload.halt();
    }

    /** Releases memory mappings (emulator shutdown); files stay. */
    public void close() throws IOException {
        workload.close();
        memory.close();
    }

    /** Releases everything and deletes the domain's directory (destroy, failed restore). */
    public void delete() throws IOException {
        workload.close();
        memory.closeAndDelete();
        try (var files = Files.list(dir)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                Files.deleteIfExists(p);
            }
        }
        Files.deleteIfExists(dir);
    }

    /** Sets the vCPU state (workload step) carried by a restored stream. */
    public void setWorkloadStep(long step) {
        workload.setSteps(step);
    }
}
