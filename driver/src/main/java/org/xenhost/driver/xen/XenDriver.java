package org.xenhost.driver.xen;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenhost.driver.api.DomainDetails;
import org.xenhost.driver.api.DomainSummary;
import org.xenhost.driver.api.Driver;
import org.xenhost.driver.api.DriverError;
import org.xenhost.driver.api.DriverException;
import org.xenhost.driver.api.HostDescription;
import org.xenhost.driver.api.JobInfo;
import org.xenhost.driver.api.SaveResult;
import org.xenhost.driver.config.DomainConfig;
import org.xenhost.driver.config.XlCfgException;
import org.xenhost.driver.config.XlCfgParser;
import org.xenhost.driver.job.BusyException;
import org.xenhost.driver.job.DomainJobs;
import org.xenhost.driver.job.Job;
import org.xenhost.driver.job.JobKind;
import org.xenhost.driver.state.DomainRecord;
import org.xenhost.driver.state.DomainRecord.RunState;
import org.xenhost.driver.state.DomainStore;
import org.xenhost.libxl.DomainInfo;
import org.xenhost.libxl.DomainState;
import org.xenhost.libxl.HostInfo;
import org.xenhost.libxl.Libxl;
import org.xenhost.libxl.LibxlError;
import org.xenhost.libxl.LibxlException;
import org.xenhost.libxl.ProgressListener;
import org.xenhost.libxl.stream.XlSaveHeader;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The {@link Driver} over Xen: domains through {@link Libxl} (native or emulated, it cannot tell), their state
 * kept in a {@link DomainStore} because libxl keeps none, each long operation a per-domain job.
 *
 * <p>At construction it reconciles the store with what libxl reports: a domain we recorded as running that Xen
 * no longer has is shut off (or forgotten, if transient); a job the previous daemon was running is reported as
 * interrupted and its effect settled (a save that did not finish resumes the guest); domains Xen has and we do
 * not are listed as foreign until adopted.
 */
public final class XenDriver implements Driver {
    private static final Logger log = LoggerFactory.getLogger(XenDriver.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Libxl libxl;
    private final DomainStore store;
    private final DomainJobs jobs;
    private final Supplier<HostFacts> hostFacts;
    /** Our domains by uuid. Entries are replaced whole (records are immutable), so readers need no lock. */
    private final Map<String, Entry> domains = new ConcurrentHashMap<>();
    /** Jobs found interrupted at start-up, by uuid, until the domain's next job. */
    private final Map<String, String> interrupted = new ConcurrentHashMap<>();

    /** A domain we manage: what is on disk, and its parsed configuration. */
    private record Entry(DomainRecord record, DomainConfig config) {
    }

    public XenDriver(Libxl libxl, Path stateDir, DomainJobs jobs, Supplier<HostFacts> hostFacts) {
        this.libxl = libxl;
        this.store = new DomainStore(stateDir);
        this.jobs = jobs;
        this.hostFacts = hostFacts;
        reconcile();
    }

    // ---- start-up -----------------------------------------------------------------------------------------

    private void reconcile() {
        DomainStore.Loaded loaded = store.loadAll();
        loaded.problems().forEach(p -> log.warn("state: {}", p));
        Map<UUID, DomainInfo> xen = new HashMap<>();
        for (DomainInfo d : xenDomains()) {
            xen.put(d.uuid(), d);
        }
        for (DomainStore.LoadedDomain ld : loaded.domains()) {
            DomainRecord r = ld.record();
            DomainConfig cfg;
            try {
                cfg = DomainConfig.from(XlCfgParser.parse("domain " + r.name(), ld.config() == null ? "" : ld.config()));
            } catch (IllegalArgumentException e) {
                log.warn("state: domain {} ({}) has an unreadable config, left alone: {}", r.name(), r.uuid(), e.getMessage());
                continue;
            }
            DomainInfo live = xen.get(UUID.fromString(r.uuid()));
            if (r.job() != null) {
                String what = r.job().kind() + " (phase " + r.job().phase() + ") interrupted at " + r.job().since()
                        + " by a daemon restart";
                interrupted.put(r.uuid(), what);
                log.warn("domain {}: {}", r.name(), what);
                live = settleInterrupted(r, live);
            }
            DomainRecord now;
            if (live != null) {
                now = r.withRuntime(live.domid(), runState(live)).withJob(null);
            } else if (!r.persistent()) {
                log.info("domain {} ({}) is gone from Xen and was transient: forgotten", r.name(), r.uuid());
                deleteQuietly(r.uuid());
                continue;
            } else {
                if (r.state() != RunState.SHUT_OFF) {
                    log.info("domain {} ({}) is gone from Xen: shut off", r.name(), r.uuid());
                }
                now = r.withRuntime(null, RunState.SHUT_OFF).withJob(null);
            }
            domains.put(r.uuid(), new Entry(now, cfg.withUuid(UUID.fromString(r.uuid()))));
            if (!now.equals(r)) {
                persist(now);
            }
        }
    }

    /** Finishes what an interrupted job left half done; returns the domain as Xen has it afterwards. */
    private DomainInfo settleInterrupted(DomainRecord r, DomainInfo live) {
        if (live == null) {
            return null;
        }
        if (r.job().kind().equals(JobKind.SAVE.label()) && live.state() == DomainState.SUSPENDED) {
            // the save file cannot be trusted; the guest is still whole in memory: give it back its CPUs
            try {
                libxl.resume(live.domid());
                log.info("domain {}: resumed after the interrupted save", r.name());
                return libxl.domainInfo(live.domid());
            } catch (LibxlException e) {
                log.warn("domain {}: could not resume after the interrupted save: {}", r.name(), e.getMessage());
            }
        }
        return live;
    }

    // ---- queries ------------------------------------------------------------------------------------------

    @Override
    public HostDescription hostInfo() {
        HostInfo h = call("read host information", libxl::hostInfo);
        HostFacts os = hostFacts.get();
        return new HostDescription(os.hostname(), h.xenVersion(), h.totalMemoryKb() / 1024, h.freeMemoryKb() / 1024,
                h.nrCpus(), os.cpuModel(), os.cpuFlags(), os.numaNodes(), h.iommu());
    }

    @Override
    public List<DomainSummary> list(boolean all) {
        List<DomainSummary> out = new ArrayList<>();
        Set<String> ours = new HashSet<>();
        for (Entry e : domains.values()) {
            ours.add(e.record().uuid());
            if (all || e.record().state() != RunState.SHUT_OFF) {
                out.add(summary(e));
            }
        }
        for (DomainInfo d : xenDomains()) {
            if (!ours.contains(d.uuid().toString())) {
                out.add(new DomainSummary(d.name() == null ? "(domid " + d.domid() + ")" : d.name(), d.uuid().toString(),
                        d.domid(), "foreign", false, d.maxMemoryKb() / 1024, d.vcpus(), null));
            }
        }
        out.sort(Comparator.comparing((DomainSummary s) -> s.domid() == null ? Integer.MAX_VALUE : s.domid())
                .thenComparing(DomainSummary::name));
        return out;
    }

    @Override
    public DomainDetails info(String dom) {
        Entry e = find(dom);
        List<String> devices = new ArrayList<>();
        e.config().pci().forEach(p -> devices.add(p.device().bdf() + (p.managed() ? " (managed)" : "")));
        return new DomainDetails(summary(e), e.config().type().name().toLowerCase(), e.config().maxMemoryMiB(), devices,
                interrupted.get(e.record().uuid()));
    }

    @Override
    public String dumpConfig(String dom, boolean json) {
        Entry e = find(dom);
        return json ? e.config().toLibxlJson() : e.config().cfg().format();
    }

    @Override
    public JobInfo jobInfo(String dom) {
        Entry e = find(dom);
        Optional<Job> j = jobs.current(e.record().uuid());
        if (j.isPresent()) {
            var s = j.get().snapshot();
            return new JobInfo(e.record().name(), s.kind().label(), "running", s.phase(), s.started().toString(), s.abortable());
        }
        String gone = interrupted.get(e.record().uuid());
        return gone == null ? new JobInfo(e.record().name(), null, "none", null, null, false)
                : new JobInfo(e.record().name(), null, "interrupted", gone, null, false);
    }

    @Override
    public boolean abortJob(String dom) {
        Entry e = find(dom);
        return jobs.current(e.record().uuid()).map(Job::abort).orElseThrow(() ->
                new DriverException(DriverError.REFUSED, "domain '" + e.record().name() + "' has no job running"));
    }

    // ---- definitions --------------------------------------------------------------------------------------

    @Override
    public DomainSummary define(String xlCfg, String source) {
        DomainConfig cfg = parse(xlCfg, source);
        UUID uuid = cfg.uuid() != null ? cfg.uuid() : UUID.randomUUID();
        cfg = cfg.withUuid(uuid);
        Entry existing = domains.get(uuid.toString());
        synchronized (this) { // define/undefine only: name uniqueness spans domains, held for microseconds
            checkUnique(cfg, existing);
            DomainRecord r = existing != null
                    ? existing.record().withPersistent(true)
                    : new DomainRecord(uuid.toString(), cfg.name(), null, RunState.SHUT_OFF, true, List.of(), null);
            if (existing != null && existing.record().state() != RunState.SHUT_OFF && !existing.config().name().equals(cfg.name())) {
                throw new DriverException(DriverError.REFUSED, "domain '" + existing.record().name()
                        + "' is running; it cannot be renamed by a new definition");
            }
            r = new DomainRecord(r.uuid(), cfg.name(), r.domid(), r.state(), true, r.ownedDevices(), r.job());
            saveConfig(uuid.toString(), xlCfg);
            persist(r);
            domains.put(r.uuid(), new Entry(r, cfg));
            log.info("domain {} ({}) defined", cfg.name(), uuid);
            return summary(domains.get(r.uuid()));
        }
    }

    @Override
    public void undefine(String dom) {
        Entry e = find(dom);
        try (Job job = begin(e, JobKind.UNDEFINE)) {
            Entry now = domains.get(e.record().uuid());
            if (now.record().state() != RunState.SHUT_OFF) {
                // a running domain stays, transient from now on, as virsh undefine does
                persist(now.record().withPersistent(false));
                domains.put(now.record().uuid(), new Entry(now.record().withPersistent(false), now.config()));
                log.info("domain {} undefined; it keeps running as a transient domain", now.record().name());
                return;
            }
            deleteQuietly(now.record().uuid());
            domains.remove(now.record().uuid());
            interrupted.remove(now.record().uuid());
            log.info("domain {} ({}) undefined", now.record().name(), now.record().uuid());
        }
    }

    @Override
    public DomainSummary createTransient(String xlCfg, String source) {
        DomainConfig cfg = parse(xlCfg, source);
        UUID uuid = cfg.uuid() != null ? cfg.uuid() : UUID.randomUUID();
        cfg = cfg.withUuid(uuid);
        Entry e;
        synchronized (this) {
            checkUnique(cfg, domains.get(uuid.toString()));
            if (domains.containsKey(uuid.toString())) {
                throw new DriverException(DriverError.INVALID_INPUT, "a domain with uuid " + uuid + " is already defined; use 'xenhost create "
                        + cfg.name() + "' to start it");
            }
            DomainRecord r = new DomainRecord(uuid.toString(), cfg.name(), null, RunState.SHUT_OFF, false, List.of(), null);
            saveConfig(uuid.toString(), xlCfg);
            persist(r);
            e = new Entry(r, cfg);
            domains.put(r.uuid(), e);
        }
        try {
            return start(uuid.toString());
        } catch (RuntimeException ex) {
            Entry now = domains.get(uuid.toString());
            if (now != null && now.record().state() == RunState.SHUT_OFF) {
                domains.remove(uuid.toString());
                deleteQuietly(uuid.toString());
            }
            throw ex;
        }
    }

    // ---- lifecycle ----------------------------------------------------------------------------------------

    @Override
    public DomainSummary start(String dom) {
        Entry e = find(dom);
        try (Job job = begin(e, JobKind.START)) {
            Entry now = domains.get(e.record().uuid());
            DomainRecord r = now.record();
            if (r.state() != RunState.SHUT_OFF) {
                throw new DriverException(DriverError.REFUSED, "domain '" + r.name() + "' is already " + stateName(r.state()));
            }
            // 1. the guest must fit: refuse with both numbers rather than let libxl fail half-way
            HostInfo host = call("read host memory", libxl::hostInfo);
            long needKb = now.config().memoryMiB() * 1024;
            if (needKb > host.freeMemoryKb()) {
                throw new DriverException(DriverError.REFUSED, "domain '" + r.name() + "' needs " + now.config().memoryMiB()
                        + " MiB but the host has only " + host.freeMemoryKb() / 1024 + " MiB free");
            }
            // 2. journal the intent: a crash from here on is settled at start-up by asking Xen for this uuid
            job.phase("creating");
            persist(r.withJob(jobMark(job)));
            // 3. create
            int domid;
            try {
                domid = libxl.createDomain(now.config().toLibxlJson(), false);
            } catch (LibxlException ex) {
                persist(r);
                throw failed("start domain '" + r.name() + "'", ex);
            }
            // 4. record it running
            DomainRecord running = r.withRuntime(domid, RunState.RUNNING).withJob(null);
            persist(running);
            domains.put(r.uuid(), new Entry(running, now.config()));
            interrupted.remove(r.uuid());
            log.info("domain {} started as domid {}", r.name(), domid);
            return summary(domains.get(r.uuid()));
        }
    }

    @Override
    public void destroy(String dom) {
        Entry e = find(dom);
        try (Job job = begin(e, JobKind.DESTROY)) {
            Entry now = domains.get(e.record().uuid());
            DomainRecord r = requireLive(now.record());
            job.phase("destroying");
            try {
                libxl.destroy(r.domid());
            } catch (LibxlException ex) {
                if (ex.error() != LibxlError.DOMAIN_NOTFOUND) {
                    throw failed("destroy domain '" + r.name() + "'", ex);
                }
            }
            stopped(now, "destroyed");
        }
    }

    @Override
    public void shutdown(String dom, int timeoutSeconds) {
        // libxl's cooperative shutdown needs the guest's PV drivers; until the Libxl interface carries it, a
        // shutdown is a destroy, and says so
        log.info("shutdown of {} is carried out as destroy (no guest-cooperative shutdown yet)", dom);
        destroy(dom);
    }

    @Override
    public void pause(String dom) {
        transition(dom, JobKind.PAUSE, RunState.RUNNING, RunState.PAUSED, libxl::pause);
    }

    @Override
    public void resume(String dom) {
        transition(dom, JobKind.RESUME, RunState.PAUSED, RunState.RUNNING, libxl::unpause);
    }

    private interface DomidCall {
        void apply(int domid) throws LibxlException;
    }

    private void transition(String dom, JobKind kind, RunState from, RunState to, DomidCall op) {
        Entry e = find(dom);
        try (Job job = begin(e, kind)) {
            Entry now = domains.get(e.record().uuid());
            DomainRecord r = requireLive(now.record());
            if (r.state() != from) {
                throw new DriverException(DriverError.REFUSED, "domain '" + r.name() + "' is " + stateName(r.state())
                        + ", not " + stateName(from));
            }
            try {
                op.apply(r.domid());
            } catch (LibxlException ex) {
                throw failed(kind.label() + " domain '" + r.name() + "'", ex);
            }
            DomainRecord moved = r.withRuntime(r.domid(), to);
            persist(moved);
            domains.put(r.uuid(), new Entry(moved, now.config()));
            log.info("domain {} {}", r.name(), stateName(to));
        }
    }

    // ---- save / restore -----------------------------------------------------------------------------------

    @Override
    public SaveResult save(String dom, String file) {
        Entry e = find(dom);
        Path path = Path.of(file).toAbsolutePath();
        try (Job job = begin(e, JobKind.SAVE)) {
            Entry now = domains.get(e.record().uuid());
            DomainRecord r = requireLive(now.record());
            if (Files.exists(path)) {
                throw new DriverException(DriverError.INVALID_INPUT, "save file " + path + " already exists; choose a new name or remove it");
            }
            long start = System.nanoTime();
            // 1. journal the intent, so a crash mid-save resumes the guest at start-up
            job.phase("saving");
            persist(r.withJob(jobMark(job)));
            long[] pages = {0};
            try (FileChannel out = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                // 2. the xl header carries the configuration, as xl save writes it
                XlSaveHeader.forConfig(now.config().toLibxlJson()).write(Channels.newOutputStream(out));
                // 3. the libxl stream, non-live (pause first, copy once), as xl save does
                libxl.suspend(r.domid(), out, false, false, p -> pages[0] = Math.max(pages[0], p.done()));
                out.force(true);
            } catch (IOException | LibxlException ex) {
                // unwind: the file is not a save; the guest gets its CPUs back
                deleteQuietly(path);
                resumeQuietly(r);
                persist(r);
                throw failed("save domain '" + r.name() + "' to " + path, ex);
            }
            // 4. the guest now lives in the file: destroy the suspended copy
            job.phase("destroying the saved domain");
            try {
                libxl.destroy(r.domid());
            } catch (LibxlException ex) {
                log.warn("domain {}: saved, but destroying the suspended domain failed: {}", r.name(), ex.getMessage());
            }
            stopped(now, "saved to " + path);
            long bytes = size(path);
            return new SaveResult(path.toString(), bytes, pages[0], (System.nanoTime() - start) / 1_000_000);
        }
    }

    @Override
    public DomainSummary restore(String file, boolean paused) {
        Path path = Path.of(file).toAbsolutePath();
        try (InputStream in = new BufferedInputStream(Files.newInputStream(path), 1 << 16)) {
            XlSaveHeader header;
            try {
                header = XlSaveHeader.read(in);
            } catch (IOException ex) {
                throw new DriverException(DriverError.INVALID_INPUT, path + " is not an xl save file: " + ex.getMessage());
            }
            if (!header.streamV2()) {
                throw new DriverException(DriverError.INVALID_INPUT, path + " holds a legacy (v1) stream; only stream v2 save files can be restored");
            }
            String json = header.config();
            JsonNode cInfo = JSON.readTree(json).path("c_info");
            String name = cInfo.path("name").asText(null);
            String uuid = cInfo.path("uuid").asText(null);
            if (name == null || uuid == null) {
                throw new DriverException(DriverError.INVALID_INPUT, path + ": the saved configuration has no name or uuid");
            }
            Entry e = domains.get(uuid);
            if (e == null) {
                e = transientFromJson(json, uuid, name, false);
            }
            try (Job job = begin(e, JobKind.RESTORE)) {
                Entry now = domains.get(uuid);
                DomainRecord r = now.record();
                if (r.state() != RunState.SHUT_OFF) {
                    throw new DriverException(DriverError.REFUSED, "domain '" + r.name() + "' is " + stateName(r.state())
                            + "; destroy it before restoring another copy");
                }
                job.phase("restoring");
                persist(r.withJob(jobMark(job)));
                int domid;
                try {
                    domid = libxl.createRestore(json, Channels.newChannel(in), Libxl.STREAM_VERSION, paused, ProgressListener.NONE);
                } catch (LibxlException ex) {
                    persist(r);
                    if (!r.persistent()) {
                        domains.remove(uuid);
                        deleteQuietly(uuid);
                    }
                    throw failed("restore " + path, ex);
                }
                DomainRecord running = r.withRuntime(domid, paused ? RunState.PAUSED : RunState.RUNNING).withJob(null);
                persist(running);
                domains.put(uuid, new Entry(running, now.config()));
                log.info("domain {} restored from {} as domid {}", r.name(), path, domid);
                return summary(domains.get(uuid));
            }
        } catch (NoSuchFileException ex) {
            throw new DriverException(DriverError.NOT_FOUND, "save file " + path + " does not exist");
        } catch (IOException ex) {
            throw new DriverException(DriverError.FAILED, "cannot read save file " + path + ": " + ex.getMessage(), ex);
        }
    }

    /** A restored or adopted domain we have no definition of: transient, with a configuration rebuilt from JSON. */
    private Entry transientFromJson(String json, String uuid, String name, boolean adopting) throws IOException {
        String xlCfg = LibxlJson.toXlCfg(json);
        DomainConfig cfg = parse(xlCfg, "saved configuration of " + name);
        synchronized (this) {
            checkUnique(cfg, null, adopting ? UUID.fromString(uuid) : null);
            DomainRecord r = new DomainRecord(uuid, cfg.name(), null, RunState.SHUT_OFF, false, List.of(), null);
            saveConfig(uuid, xlCfg);
            persist(r);
            Entry e = new Entry(r, cfg.withUuid(UUID.fromString(uuid)));
            domains.put(uuid, e);
            return e;
        }
    }

    @Override
    public DomainSummary adopt(int domid) {
        DomainInfo d = call("look up domid " + domid, () -> libxl.domainInfo(domid));
        if (domid == 0) {
            throw new DriverException(DriverError.INVALID_INPUT, "Domain-0 is the host itself; it cannot be adopted");
        }
        String uuid = d.uuid().toString();
        if (domains.containsKey(uuid)) {
            throw new DriverException(DriverError.INVALID_INPUT, "domid " + domid + " is already managed as '" + domains.get(uuid).record().name() + "'");
        }
        String json = call("read the configuration of domid " + domid, () -> libxl.domainConfigJson(domid));
        try {
            Entry e = transientFromJson(json, uuid, d.name(), true);
            DomainRecord running = e.record().withRuntime(domid, runState(d));
            persist(running);
            domains.put(uuid, new Entry(running, e.config()));
            log.info("domain {} (domid {}) adopted", d.name(), domid);
            return summary(domains.get(uuid));
        } catch (IOException ex) {
            throw new DriverException(DriverError.FAILED, "cannot adopt domid " + domid + ": " + ex.getMessage(), ex);
        }
    }

    @Override
    public void close() {
        // domains belong to Xen and keep running; the state directory already holds everything
    }

    // ---- helpers ------------------------------------------------------------------------------------------

    private void stopped(Entry now, String how) {
        DomainRecord r = now.record();
        if (!r.persistent()) {
            domains.remove(r.uuid());
            deleteQuietly(r.uuid());
            log.info("domain {} {}; it was transient and is forgotten", r.name(), how);
            return;
        }
        DomainRecord off = r.withRuntime(null, RunState.SHUT_OFF).withJob(null);
        persist(off);
        domains.put(r.uuid(), new Entry(off, now.config()));
        log.info("domain {} {}", r.name(), how);
    }

    private Job begin(Entry e, JobKind kind) {
        try {
            return jobs.begin(e.record().uuid(), e.record().name(), kind);
        } catch (BusyException ex) {
            throw new DriverException(DriverError.BUSY, ex.getMessage());
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            throw new DriverException(DriverError.FAILED, "interrupted while waiting for domain '" + e.record().name() + "'");
        }
    }

    private static DomainRecord.InterruptedJob jobMark(Job job) {
        return new DomainRecord.InterruptedJob(job.kind().label(), job.phase(), job.started());
    }

    /** Finds one of our domains by name, uuid or domid. */
    private Entry find(String dom) {
        if (dom == null || dom.isBlank()) {
            throw new DriverException(DriverError.INVALID_INPUT, "a domain name, uuid or domid is required");
        }
        for (Entry e : domains.values()) {
            DomainRecord r = e.record();
            if (r.name().equals(dom) || r.uuid().equalsIgnoreCase(dom) || (r.domid() != null && String.valueOf(r.domid()).equals(dom))) {
                return e;
            }
        }
        String hint = "";
        for (DomainInfo d : xenDomains()) {
            if (dom.equals(d.name()) || dom.equals(String.valueOf(d.domid()))) {
                hint = "; Xen has it as domid " + d.domid() + ", made outside xenhost: 'xenhost adopt " + d.domid() + "' manages it";
            }
        }
        throw new DriverException(DriverError.NOT_FOUND, "no domain '" + dom + "'" + hint + " (see 'xenhost list --all')");
    }

    private void checkUnique(DomainConfig cfg, Entry sameUuid) {
        checkUnique(cfg, sameUuid, null);
    }

    /** @param adopted the uuid of the Xen domain being adopted, which may of course match itself */
    private void checkUnique(DomainConfig cfg, Entry sameUuid, UUID adopted) {
        for (Entry e : domains.values()) {
            if (e != sameUuid && e.record().name().equals(cfg.name())) {
                throw new DriverException(DriverError.INVALID_INPUT, "a domain named '" + cfg.name() + "' already exists (uuid "
                        + e.record().uuid() + "); choose another name");
            }
        }
        for (DomainInfo d : xenDomains()) {
            boolean ours = domains.containsKey(d.uuid().toString()) || d.uuid().equals(adopted);
            if (!ours && (cfg.name().equals(d.name()) || d.uuid().equals(cfg.uuid()))) {
                throw new DriverException(DriverError.INVALID_INPUT, "Xen already runs a domain named '" + d.name() + "' (domid "
                        + d.domid() + ", uuid " + d.uuid() + ") made outside xenhost");
            }
        }
    }

    private DomainConfig parse(String xlCfg, String source) {
        try {
            return DomainConfig.from(XlCfgParser.parse(source == null ? "config" : source, xlCfg));
        } catch (XlCfgException ex) {
            throw new DriverException(DriverError.INVALID_INPUT, ex.getMessage());
        }
    }

    private DomainRecord requireLive(DomainRecord r) {
        if (r.domid() == null || r.state() == RunState.SHUT_OFF) {
            throw new DriverException(DriverError.REFUSED, "domain '" + r.name() + "' is not running (start it with 'xenhost create " + r.name() + "')");
        }
        return r;
    }

    private List<DomainInfo> xenDomains() {
        return call("list Xen's domains", libxl::listDomains);
    }

    private DomainSummary summary(Entry e) {
        DomainRecord r = e.record();
        String job = jobs.current(r.uuid()).map(j -> j.kind().label()).orElse(null);
        return new DomainSummary(r.name(), r.uuid(), r.domid(), stateName(r.state()), r.persistent(), e.config().memoryMiB(),
                e.config().vcpus(), job);
    }

    private static String stateName(RunState s) {
        return s.name().toLowerCase().replace('_', '-');
    }

    private static RunState runState(DomainInfo d) {
        return switch (d.state()) {
            case RUNNING -> RunState.RUNNING;
            case PAUSED -> RunState.PAUSED;
            case SUSPENDED -> RunState.SUSPENDED;
            case SHUTDOWN, DYING -> RunState.CRASHED;
        };
    }

    private interface LibxlCall<T> {
        T get() throws LibxlException;
    }

    private static <T> T call(String what, LibxlCall<T> c) {
        try {
            return c.get();
        } catch (LibxlException e) {
            throw failed(what, e);
        }
    }

    private static DriverException failed(String what, Exception e) {
        DriverError kind = e instanceof LibxlException le && le.error() == LibxlError.DOMAIN_NOTFOUND ? DriverError.NOT_FOUND : DriverError.FAILED;
        return new DriverException(kind, "cannot " + what + ": " + e.getMessage(), e);
    }

    private void persist(DomainRecord r) {
        try {
            store.save(r);
        } catch (IOException e) {
            throw new DriverException(DriverError.FAILED, "cannot write the state of domain '" + r.name() + "': " + e.getMessage(), e);
        }
    }

    private void saveConfig(String uuid, String text) {
        try {
            store.saveConfig(uuid, text);
        } catch (IOException e) {
            throw new DriverException(DriverError.FAILED, "cannot write the configuration of " + uuid + ": " + e.getMessage(), e);
        }
    }

    private void deleteQuietly(String uuid) {
        try {
            store.delete(uuid);
        } catch (IOException e) {
            log.warn("could not remove the state of {}: {}", uuid, e.getMessage());
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            log.warn("could not remove {}: {}", p, e.getMessage());
        }
    }

    private void resumeQuietly(DomainRecord r) {
        try {
            DomainInfo d = libxl.domainInfo(r.domid());
            if (d.state() == DomainState.SUSPENDED) {
                libxl.resume(r.domid());
            } else if (d.state() == DomainState.PAUSED && r.state() == RunState.RUNNING) {
                libxl.unpause(r.domid());
            }
        } catch (LibxlException e) {
            log.warn("domain {}: could not resume after a failed save: {}", r.name(), e.getMessage());
        }
    }

    private static long size(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            return -1;
        }
    }
}
