package org.xenhost.driver.xen;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenhost.driver.api.DeviceChange;
import org.xenhost.driver.api.DeviceOptions;
import org.xenhost.driver.api.DomainDetails;
import org.xenhost.driver.api.DomainSummary;
import org.xenhost.driver.api.Driver;
import org.xenhost.driver.api.DriverError;
import org.xenhost.driver.api.DriverException;
import org.xenhost.driver.api.HostDescription;
import org.xenhost.driver.api.JobInfo;
import org.xenhost.driver.api.NodeDevice;
import org.xenhost.driver.api.ResetReport;
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
import org.xenhost.hostdev.AttachResult;
import org.xenhost.hostdev.DeviceState;
import org.xenhost.hostdev.HostdevException;
import org.xenhost.hostdev.HostdevManager;
import org.xenhost.hostdev.HostdevSpec;
import org.xenhost.hostdev.Ownership;
import org.xenhost.libxl.DomainInfo;
import org.xenhost.libxl.DomainState;
import org.xenhost.libxl.HostInfo;
import org.xenhost.libxl.Libxl;
import org.xenhost.libxl.LibxlError;
import org.xenhost.libxl.LibxlException;
import org.xenhost.libxl.ProgressListener;
import org.xenhost.libxl.stream.StreamTap;
import org.xenhost.libxl.stream.TapSnapshot;
import org.xenhost.libxl.stream.XlSaveHeader;
import org.xenhost.pci.HostFacts;
import org.xenhost.pci.PciAddress;
import org.xenhost.migration.MigrationCookie;
import org.xenhost.migration.MigrationException;
import org.xenhost.migration.MigrationHost;
import org.xenhost.migration.MigrationJournal;
import org.xenhost.migration.MigrationOptions;
import org.xenhost.migration.MigrationService;
import org.xenhost.migration.MigrationStats;
import org.xenhost.migration.OutgoingGuest;
import org.xenhost.migration.SourceSession;
import org.xenhost.transport.PeerAcceptor;
import org.xenhost.transport.Transport;

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
 * not are listed as foreign until adopted; Domain-0 is listed as the host it is, and refused as a guest.
 *
 * <p>PCI passthrough goes through the host-device manager: a domain's configured devices are handed over after
 * it is created paused and before it runs (the manager's all-or-nothing managed start), taken back when it
 * stops, and hot-plugged by {@link #attachDevice}; the manager's journal is where device ownership survives a
 * daemon crash.
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

    /** Migrations in and out; settles what a previous daemon left open once the domains are reconciled. */
    private final MigrationService migrations;
    /** Moves passed-through devices for {@code --hostdev-policy=replug}; null without a host-device manager. */
    private final HostdevReplug replug;
    /** Outgoing migrations by domain uuid, for jobInfo. */
    private final Map<String, SourceSession> outgoing = new ConcurrentHashMap<>();

    /** The host's PCI functions through the host-device manager; null on a host without PCI passthrough. */
    private final NodeDevices nodeDevices;
    /** A TLS migration port is configured (a host capability). */
    private final boolean migrationPort;

    /** A domain we manage: what is on disk, and its parsed configuration. */
    private record Entry(DomainRecord record, DomainConfig config) {
    }

    public XenDriver(Libxl libxl, Path stateDir, DomainJobs jobs, Supplier<HostFacts> hostFacts) {
        this(libxl, stateDir, jobs, hostFacts, null, null);
    }

    /** A host without PCI passthrough (no host-device manager). */
    public XenDriver(Libxl libxl, Path stateDir, DomainJobs jobs, Supplier<HostFacts> hostFacts, Transport transport,
                     String endpoint) {
        this(libxl, stateDir, jobs, hostFacts, null, null, transport, endpoint);
    }

    /**
     * @param devices   the host-device manager (already reconciled with sysfs and libxl), or null for a host
     *                  without PCI passthrough; the caller closes it after this driver
     * @param sysfsRoot the sysfs root the manager reads (its devices are listed from there)
     * @param transport the daemon's TLS transport for migrations, or null (no migration)
     * @param endpoint  HOST:PORT where peers reach this daemon's migration listener (told to them for recovery), or null
     */
    public XenDriver(Libxl libxl, Path stateDir, DomainJobs jobs, Supplier<HostFacts> hostFacts, HostdevManager devices,
                     Path sysfsRoot, Transport transport, String endpoint) {
        this.replug = devices == null ? null : new HostdevReplug(libxl, devices, sysfsRoot);
        this.libxl = libxl;
        this.store = new DomainStore(stateDir);
        this.jobs = jobs;
        this.hostFacts = hostFacts;
        this.nodeDevices = devices == null ? null : new NodeDevices(devices, sysfsRoot);
        this.migrationPort = transport != null;
        reconcile();
        this.migrations = new MigrationService(libxl, transport, new MigrationJournal(stateDir), new Migrations(), endpoint);
        migrations.recoverAll();
    }

    /** Serves incoming migrations on the daemon's listener. */
    public void serveMigrations(PeerAcceptor acceptor) {
        migrations.serve(acceptor);
    }

    // ---- start-up -----------------------------------------------------------------------------------------

    private void reconcile() {
        DomainStore.Loaded loaded = store.loadAll();
        loaded.problems().forEach(p -> log.warn("state: {}", p));
        Map<UUID, List<DomainInfo>> xen = new HashMap<>();
        for (DomainInfo d : xenDomains()) {
            xen.computeIfAbsent(d.uuid(), u -> new ArrayList<>()).add(d);
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
            DomainInfo live = liveCopy(r, xen.getOrDefault(UUID.fromString(r.uuid()), List.of()));
            if (r.job() != null) {
                String what = r.job().kind() + " (phase " + r.job().phase() + ") interrupted at " + r.job().since()
                        + " by a daemon restart";
                interrupted.put(r.uuid(), what);
                log.warn("domain {}: {}", r.name(), what);
                live = settleInterrupted(r, live);
            }
            DomainRecord now;
            if (live != null) {
                // the device journal (reconciled with sysfs and libxl before us) says what the domain owns now
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
        boolean starting = r.job().kind().equals(JobKind.START.label());
        if (starting && r.state() == RunState.SHUT_OFF && live.state() == DomainState.PAUSED) {
            // created paused, its devices perhaps half handed over, never unpaused: undo the start as its own
            // unwind would have (the manager's reconciliation has already settled each device's own steps)
            try {
                libxl.destroy(live.domid());
            } catch (LibxlException e) {
                log.warn("domain {}: could not destroy the half-started domid {}: {}", r.name(), live.domid(), e.getMessage());
                return live;
            }
            releaseDevices(r.uuid(), r.name());
            log.info("domain {}: the interrupted start was undone (domid {} destroyed, devices given back)", r.name(), live.domid());
            return null;
        }
        boolean saving = r.job().kind().equals(JobKind.SAVE.label());
        if (saving && live.state() == DomainState.PAUSED && r.state() == RunState.RUNNING) {
            // a non-live save pauses the guest first; the crash came before it finished
            try {
                libxl.unpause(live.domid());
                log.info("domain {}: unpaused after the interrupted save", r.name());
                return libxl.domainInfo(live.domid());
            } catch (LibxlException e) {
                log.warn("domain {}: could not unpause after the interrupted save: {}", r.name(), e.getMessage());
            }
        }
        if (saving && live.state() == DomainState.SUSPENDED) {
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
        List<String> caps = new ArrayList<>(List.of("pv"));
        if (h.hvm()) {
            caps.addAll(List.of("pvh", "hvm"));
        }
        if (h.iommu() && nodeDevices != null) {
            caps.add("pci-passthrough");
        }
        caps.add("save-restore");
        if (migrationPort) {
            caps.add("migration");
        }
        return new HostDescription(os.hostname(), h.xenVersion(), h.totalMemoryKb() / 1024, h.freeMemoryKb() / 1024,
                h.nrCpus(), os.cpuModel(), os.cpuFlags(), Math.max(1, os.numaNodes().size()), h.iommu(), caps);
    }

    @Override
    public List<DomainSummary> list(boolean all) {
        List<DomainInfo> xen = xenDomains();
        settleVanished(xen);
        List<DomainSummary> out = new ArrayList<>();
        Set<String> ours = new HashSet<>();
        for (Entry e : domains.values()) {
            // by uuid and domid: two daemons on one Xen (a same-host migration) see the two copies of one uuid
            ours.add(e.record().uuid() + "/" + e.record().domid());
            if (all || e.record().state() != RunState.SHUT_OFF) {
                out.add(summary(e));
            }
        }
        for (DomainInfo d : xen) {
            if (d.domid() == 0) {
                // the host itself: always running, never a guest to adopt or destroy
                out.add(new DomainSummary(d.name() == null ? DOM0_NAME : d.name(), d.uuid().toString(), 0, "running", true,
                        d.maxMemoryKb() / 1024, d.vcpus(), null));
            } else if (!ours.contains(d.uuid() + "/" + d.domid())) {
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
        if (isDom0(dom)) {
            DomainInfo d = call("look up Domain-0", () -> libxl.domainInfo(0));
            return new DomainDetails(new DomainSummary(d.name() == null ? DOM0_NAME : d.name(), d.uuid().toString(), 0,
                    "running", true, d.maxMemoryKb() / 1024, d.vcpus(), null), d.type().name().toLowerCase(),
                    d.maxMemoryKb() / 1024, List.of(), null);
        }
        Entry e = find(dom);
        List<String> devices = new ArrayList<>();
        if (e.record().domid() != null && nodeDevices != null) {
            // a running domain: what it has now (hot-plugged ones included), from the device journal
            nodeDevices.manager().ownerships(UUID.fromString(e.record().uuid())).stream()
                    .filter(o -> o.state() == DeviceState.ATTACHED)
                    .forEach(o -> devices.add(o.bdf() + (o.managed() ? " (managed)" : "")));
        } else {
            e.config().pci().forEach(p -> devices.add(p.device().bdf() + (p.managed() ? " (managed)" : "")));
        }
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
        Optional<MigrationStats> m = migrations.stats(dom);
        if (m.isPresent() && m.get().role().equals("destination")) {
            // an arriving guest is not a domain of this host until it is committed
            MigrationStats st = m.get();
            return new JobInfo(dom, JobKind.MIGRATE_IN.label(), st.outcome() == null ? "running" : st.outcome(), st.phase(), null, false, st);
        }
        Entry e = find(dom);
        Optional<Job> j = jobs.current(e.record().uuid());
        if (j.isPresent()) {
            var s = j.get().snapshot();
            SourceSession out = outgoing.get(e.record().uuid());
            MigrationStats st = out == null ? null : out.stats();
            return new JobInfo(e.record().name(), s.kind().label(), "running", st != null ? st.phase() : s.phase(),
                    s.started().toString(), s.abortable(), st);
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
        settleGone();
        Entry existing = domains.get(uuid.toString());
        synchronized (this) { // define/undefine only: name uniqueness spans domains, held for microseconds
            checkUnique(cfg, existing);
            DomainRecord r = existing != null
                    ? existing.record().withPersistent(true)
                    : new DomainRecord(uuid.toString(), cfg.name(), null, RunState.SHUT_OFF, true, null);
            if (existing != null && existing.record().state() != RunState.SHUT_OFF && !existing.config().name().equals(cfg.name())) {
                throw new DriverException(DriverError.REFUSED, "domain '" + existing.record().name()
                        + "' is running; it cannot be renamed by a new definition");
            }
            r = new DomainRecord(r.uuid(), cfg.name(), r.domid(), r.state(), true, r.job());
            saveConfig(uuid.toString(), xlCfg);
            persist(r);
            domains.put(r.uuid(), new Entry(r, cfg));
            log.info("domain {} ({}) defined", cfg.name(), uuid);
            return summary(domains.get(r.uuid()));
        }
    }

    @Override
    public void undefine(String dom) {
        Entry e = find(dom, "undefined");
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
        settleGone();
        synchronized (this) {
            checkUnique(cfg, domains.get(uuid.toString()));
            if (domains.containsKey(uuid.toString())) {
                throw new DriverException(DriverError.INVALID_INPUT, "a domain with uuid " + uuid + " is already defined; use 'xenhost create "
                        + cfg.name() + "' to start it");
            }
            DomainRecord r = new DomainRecord(uuid.toString(), cfg.name(), null, RunState.SHUT_OFF, false, null);
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
        Entry e = find(dom, "started");
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
            // 3. create it paused and without its PCI devices: handing those over is the host-device manager's
            //    job (libvirt's order), and nothing has moved yet if creation fails
            int domid;
            try {
                domid = libxl.createDomain(withoutPci(now.config().toLibxlJson()), true);
            } catch (LibxlException ex) {
                persist(r);
                throw failed("start domain '" + r.name() + "'", ex);
            } catch (RuntimeException ex) {
                persist(r);
                throw ex;
            }
            // 4. its devices, all or nothing: check all, detach all from dom0 (managed), reset all, attach all,
            //    mark active; the manager unwinds its own steps, so every device is back where it was on failure
            // 5. unpause
            try {
                giveDevices(domid, now.config(), r.name(), job);
                job.phase("unpausing");
                try {
                    libxl.unpause(domid);
                } catch (LibxlException ex) {
                    throw failed("unpause domain '" + r.name() + "'", ex);
                }
            } catch (RuntimeException ex) {
                // unwind 5..3: the domain goes, then every device the journal still gives it (also when the
                // manager's own unwind stopped halfway, so nothing was reported as owned)
                boolean gone = destroyQuietly(domid, r.name());
                releaseDevices(r.uuid(), r.name());
                persist(r);
                log.warn("domain {} did not start: {}", r.name(), ex.getMessage());
                throw gone ? ex : leftPaused(ex, domid);
            }
            // 6. record it running
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
        Entry e = find(dom, "destroyed");
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
        Entry e = find(dom, "shut down");
        try (Job job = begin(e, JobKind.SHUTDOWN)) {
            Entry now = domains.get(e.record().uuid());
            DomainRecord r = requireLive(now.record());
            if (r.state() == RunState.PAUSED) {
                throw new DriverException(DriverError.REFUSED, "domain '" + r.name()
                        + "' is paused and cannot act on a shutdown request; resume it first, or destroy it");
            }
            // 1. ask the guest
            job.phase("waiting for the guest to shut down");
            try {
                libxl.shutdown(r.domid());
            } catch (LibxlException ex) {
                throw failed("shut down domain '" + r.name() + "'", ex);
            }
            // 2. wait for it to stop; a guest that ignores the request is destroyed when the time is up
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(timeoutSeconds);
            boolean down = false;
            while (!down && System.nanoTime() < deadline) {
                try {
                    down = libxl.domainInfo(r.domid()).state() == DomainState.SHUTDOWN;
                } catch (LibxlException ex) {
                    down = ex.error() == LibxlError.DOMAIN_NOTFOUND;
                }
                if (!down) {
                    sleep(100);
                }
            }
            if (!down) {
                log.warn("domain {} ignored the shutdown request for {} s; destroying it", r.name(), timeoutSeconds);
            }
            // 3. a shut-down domain still holds its memory until it is destroyed (xl does the same)
            try {
                libxl.destroy(r.domid());
            } catch (LibxlException ex) {
                if (ex.error() != LibxlError.DOMAIN_NOTFOUND) {
                    throw failed("clean up domain '" + r.name() + "' after shutdown", ex);
                }
            }
            stopped(now, down ? "shut down" : "destroyed after ignoring shutdown for " + timeoutSeconds + " s");
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            throw new DriverException(DriverError.FAILED, "interrupted");
        }
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
        Entry e = find(dom, stateName(to));
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
        Entry e = find(dom, "saved");
        Path path = Path.of(file).toAbsolutePath();
        try (Job job = begin(e, JobKind.SAVE)) {
            Entry now = domains.get(e.record().uuid());
            DomainRecord r = requireLive(now.record());
            // a named pipe is a valid target (stream the save to another program); a file is never overwritten
            boolean pipe = Files.exists(path) && !Files.isRegularFile(path) && !Files.isDirectory(path);
            if (Files.exists(path) && !pipe) {
                throw new DriverException(DriverError.INVALID_INPUT, "save file " + path + " already exists; choose a new name or remove it");
            }
            long start = System.nanoTime();
            // 1. journal the intent, so a crash mid-save resumes the guest at start-up
            job.phase("saving");
            persist(r.withJob(jobMark(job)));
            // the tap reads the record headers as they pass: pages actually written, not libxc's frame count
            StreamTap tap = new StreamTap(StreamTap.Format.XL_SAVE_FILE);
            try (FileChannel target = pipe ? FileChannel.open(path, StandardOpenOption.WRITE)
                    : FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                java.nio.channels.WritableByteChannel out = tapped(target, tap);
                // 2. the xl header carries the configuration, as xl save writes it
                XlSaveHeader.forConfig(now.config().toLibxlJson()).write(Channels.newOutputStream(out));
                // 3. the libxl stream, non-live (pause first, copy once), as xl save does
                libxl.suspend(r.domid(), out, false, false, ProgressListener.NONE);
                if (!pipe) {
                    target.force(true);
                }
            } catch (IOException | LibxlException ex) {
                // unwind: the file is not a save; the guest gets its CPUs back
                if (!pipe) {
                    deleteQuietly(path);
                }
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
            TapSnapshot written = tap.snapshot();
            return new SaveResult(path.toString(), written.bytes(), written.pagesWithData(), (System.nanoTime() - start) / 1_000_000);
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
                // restored paused and without pcidevs, then given its devices as at start, then let run
                int domid;
                try {
                    try {
                        domid = libxl.createRestore(withoutPci(json), Channels.newChannel(in), Libxl.STREAM_VERSION, true,
                                ProgressListener.NONE);
                    } catch (LibxlException ex) {
                        throw failed("restore " + path, ex);
                    }
                    try {
                        giveDevices(domid, now.config(), r.name(), job);
                        if (!paused) {
                            libxl.unpause(domid);
                        }
                    } catch (LibxlException | RuntimeException ex) {
                        boolean gone = destroyQuietly(domid, r.name());
                        releaseDevices(uuid, r.name());
                        RuntimeException why = ex instanceof LibxlException le
                                ? failed("unpause the restored domain '" + r.name() + "'", le) : (RuntimeException) ex;
                        throw gone ? why : leftPaused(why, domid);
                    }
                } catch (RuntimeException ex) {
                    persist(r);
                    if (!r.persistent()) {
                        domains.remove(uuid);
                        deleteQuietly(uuid);
                    }
                    throw ex;
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
        settleGone();
        synchronized (this) {
            checkUnique(cfg, null, adopting ? UUID.fromString(uuid) : null);
            DomainRecord r = new DomainRecord(uuid, cfg.name(), null, RunState.SHUT_OFF, false, null);
            saveConfig(uuid, xlCfg);
            persist(r);
            Entry e = new Entry(r, cfg.withUuid(UUID.fromString(uuid)));
            domains.put(uuid, e);
            return e;
        }
    }

    // ---- node devices and hotplug --------------------------------------------------------------------------

    @Override
    public List<NodeDevice> nodeDeviceList() {
        return nodeDevices().list();
    }

    @Override
    public NodeDevice nodeDeviceDetach(String bdf, String name, boolean force) {
        return nodeDevices().detach(bdf, name, force);
    }

    @Override
    public NodeDevice nodeDeviceReattach(String device, boolean rebind) {
        return nodeDevices().reattach(device, rebind);
    }

    @Override
    public ResetReport nodeDeviceReset(String bdf) {
        return nodeDevices().reset(bdf);
    }

    /** Where a device change applies, resolved from the operator's flags and the domain's state. */
    private record Scope(boolean live, boolean config) {
        static Scope of(DomainRecord r, DeviceOptions o, String verb) {
            boolean running = r.domid() != null && r.state() != RunState.SHUT_OFF;
            boolean live = o.live();
            boolean config = o.config();
            if (!live && !config) { // virsh's "current"
                live = running;
                config = !running;
            }
            if (live && !running) {
                throw new DriverException(DriverError.REFUSED, "domain '" + r.name() + "' is not running: there is nothing to "
                        + verb + " live; use --config to change its definition");
            }
            if (config && !r.persistent()) {
                throw new DriverException(DriverError.REFUSED, "domain '" + r.name() + "' is transient: it has no definition to "
                        + "change (drop --config)");
            }
            return new Scope(live, config);
        }
    }

    @Override
    public DeviceChange attachDevice(String dom, String pciSpec, DeviceOptions options) {
        DeviceOptions opts = options == null ? DeviceOptions.CURRENT : options;
        if (pciSpec == null || pciSpec.isBlank()) {
            throw new DriverException(DriverError.INVALID_INPUT, "a PCI spec is required, e.g. 0000:04:00.0 or 04:00.0,managed=yes");
        }
        DomainConfig.DomainPci pci;
        try {
            pci = DomainConfig.pciEntry(pciSpec.trim());
        } catch (IllegalArgumentException ex) {
            throw new DriverException(DriverError.INVALID_INPUT, ex.getMessage());
        }
        if (pci.managed() && opts.force()) {
            throw new DriverException(DriverError.INVALID_INPUT, "pci entry \"" + pciSpec + "\": --force applies to unmanaged "
                    + "devices; a managed one is taken from dom0 only when it is safe (drop --force or managed=yes)");
        }
        Entry e = find(dom, "given devices");
        try (Job job = begin(e, JobKind.ATTACH_DEVICE)) {
            Entry now = domains.get(e.record().uuid());
            DomainRecord r = now.record();
            Scope scope = Scope.of(r, opts, "attach");
            // 1. the new definition, checked before anything moves (a device listed twice is refused here)
            String newText = null;
            DomainConfig newCfg = null;
            if (scope.config()) {
                List<String> entries = new ArrayList<>(now.config().cfg().list("pci"));
                entries.add(pci.spec());
                newText = now.config().cfg().withList("pci", entries).format();
                newCfg = parse(newText, "definition of domain '" + r.name() + "'").withUuid(UUID.fromString(r.uuid()));
            }
            // 2. hot-plug: a managed device through the manager's all-or-nothing start (taken from dom0, given
            //    back when it leaves), an unmanaged one must already be assignable (or seize=1)
            List<String> moved = List.of(pci.device().bdf());
            List<String> resets = new ArrayList<>();
            if (scope.live() && !now.config().passthroughEnabled()) {
                // refused here rather than by xc_assign_device's bare "Operation not supported"
                throw new DriverException(DriverError.INVALID_INPUT, "domain '" + r.name() + "' was started without PCI "
                        + "passthrough: Xen assigns devices only to domains created with an IOMMU context. Add "
                        + "passthrough = \"enabled\" (or the device itself) to its configuration and start it again; "
                        + "--config alone adds the device for its next start");
            }
            if (scope.live()) {
                job.phase("hot-plugging " + pci.device().bdf());
                String domid = String.valueOf(r.domid());
                AttachResult a = DeviceErrors.call(() -> pci.managed()
                        ? devices().startDomainDevices(domid, List.of(new HostdevSpec(pci.device(), true, pci.strictReset(), false)))
                        : devices().attach(domid, pci.device(), opts.force(), pci.strictReset()));
                moved = a.devices().stream().map(PciAddress::toString).toList();
                a.resets().forEach(p -> resets.add(p.toString()));
                logResets(r.name(), a);
            }
            // 3. the definition; if it cannot be written, unplug what step 2 plugged
            if (scope.config()) {
                try {
                    saveConfig(r.uuid(), newText);
                } catch (DriverException ex) {
                    if (scope.live()) {
                        for (String bdf : moved) {
                            unplugQuietly(r, PciAddress.parse(bdf), pci.managed());
                        }
                    }
                    throw ex;
                }
            }
            // 4. the record
            DomainRecord next = r;
            persist(next);
            domains.put(r.uuid(), new Entry(next, scope.config() ? newCfg : now.config()));
            log.info("domain {}: {} attached{}{}{}", r.name(), moved, pci.managed() ? " (managed)" : "",
                    scope.live() ? " live" : "", scope.config() ? (scope.live() ? " and" : "") + " to its definition" : "");
            return new DeviceChange(r.name(), moved, scope.live(), scope.config(), resets, null, List.of());
        }
    }

    @Override
    public DeviceChange detachDevice(String dom, String bdf, DeviceOptions options) {
        DeviceOptions opts = options == null ? DeviceOptions.CURRENT : options;
        PciAddress a;
        try {
            a = PciAddress.parse(bdf == null ? "" : bdf.trim());
        } catch (IllegalArgumentException ex) {
            throw new DriverException(DriverError.INVALID_INPUT, ex.getMessage());
        }
        Entry e = find(dom, "have devices detached");
        try (Job job = begin(e, JobKind.DETACH_DEVICE)) {
            Entry now = domains.get(e.record().uuid());
            DomainRecord r = now.record();
            Scope scope = Scope.of(r, opts, "detach");
            List<String> warnings = new ArrayList<>();
            // 1. the definition without the entry naming this device
            String newText = null;
            DomainConfig newCfg = null;
            if (scope.config()) {
                List<DomainConfig.DomainPci> configured = now.config().pci();
                int index = -1;
                for (int i = 0; i < configured.size(); i++) {
                    ConfiguredEntry d = new ConfiguredEntry(configured.get(i));
                    if (d.covers(a)) {
                        index = i;
                    }
                }
                if (index < 0) {
                    throw new DriverException(DriverError.NOT_FOUND, a + " is not in the definition of domain '" + r.name()
                            + "' (see 'xenhost dumpconfig " + r.name() + "')");
                }
                if (configured.get(index).device().allFunctions()) {
                    warnings.add("the definition's entry \"" + configured.get(index).spec() + "\" names every function of the "
                            + "device; it was removed whole");
                }
                List<String> entries = new ArrayList<>(now.config().cfg().list("pci"));
                entries.remove(index);
                newText = now.config().cfg().withList("pci", entries).format();
                newCfg = parse(newText, "definition of domain '" + r.name() + "'").withUuid(UUID.fromString(r.uuid()));
            }
            // 2. hot-unplug; a managed device then goes back to its dom0 driver
            String returnedTo = null;
            if (scope.live()) {
                job.phase("hot-unplugging " + a);
                Optional<Ownership> before = devices().ownership(a).filter(o -> o.state() == DeviceState.ATTACHED
                        && o.owner().uuid().toString().equals(r.uuid()));
                DeviceErrors.call(() -> devices().detach(String.valueOf(r.domid()), a, opts.force()));
                if (before.isPresent() && before.get().managed()) {
                    try {
                        returnedTo = devices().giveBackToHost(a).map(Ownership::originalDriver).orElse(null);
                    } catch (HostdevException | IllegalArgumentException ex) {
                        warnings.add(a + " was managed but could not be given back to " + before.get().originalDriver()
                                + " (" + ex.getMessage() + "); it stays assignable: 'xenhost nodedev-reattach " + a + "'");
                    }
                }
            }
            // 3. the definition
            if (scope.config()) {
                saveConfig(r.uuid(), newText);
            }
            // 4. the record
            DomainRecord next = r;
            persist(next);
            domains.put(r.uuid(), new Entry(next, scope.config() ? newCfg : now.config()));
            warnings.forEach(w -> log.warn("domain {}: {}", r.name(), w));
            log.info("domain {}: {} detached{}{}{}", r.name(), a, scope.live() ? " live" : "",
                    scope.config() ? (scope.live() ? " and" : "") + " from its definition" : "",
                    returnedTo == null ? "" : "; back on " + returnedTo);
            return new DeviceChange(r.name(), List.of(a.toString()), scope.live(), scope.config(), List.of(), returnedTo, warnings);
        }
    }

    /** Whether a configured entry names a function (one function, or {@code BB:DD.*}). */
    private record ConfiguredEntry(DomainConfig.DomainPci p) {
        boolean covers(PciAddress a) {
            var d = p.device();
            return d.domain() == a.domain() && d.bus() == a.bus() && d.dev() == a.device()
                    && (d.allFunctions() || d.func() == a.function());
        }
    }

    /** Undo of a hot-plug whose definition could not be written. */
    private void unplugQuietly(DomainRecord r, PciAddress a, boolean managed) {
        try {
            devices().detach(String.valueOf(r.domid()), a, true);
            if (managed) {
                devices().giveBackToHost(a);
            }
        } catch (HostdevException | IllegalArgumentException ex) {
            log.warn("domain {}: could not unplug {} again: {}", r.name(), a, ex.getMessage());
        }
    }

    // ---- migration ----------------------------------------------------------------------------------------

    @Override
    public MigrationStats migrate(String dom, String destination, MigrationOptions options) {
        // peer to peer, in one job: begin and perform here, the destination's prepare (asked by perform) and
        // finish (on "go"), then confirm here
        return perform(dom, destination, options, null, true);
    }

    @Override
    public MigrationCookie migrateBegin(String dom, MigrationOptions options) {
        requireOptions(options);
        Entry e = find(dom);
        OutgoingGuest guest = outgoingGuest(domains.get(e.record().uuid()), options);
        try {
            return migrations.begin(guest, options);
        } catch (MigrationException ex) {
            throw driverError(ex);
        }
    }

    @Override
    public MigrationCookie migratePrepare(MigrationCookie cookie) {
        if (cookie == null) {
            throw new DriverException(DriverError.INVALID_INPUT, "a migration cookie (from migrateBegin) is required");
        }
        try {
            return migrations.prepare(cookie);
        } catch (MigrationException ex) {
            throw driverError(ex);
        }
    }

    @Override
    public MigrationStats migratePerform(String dom, MigrationCookie cookie, String destination) {
        if (cookie == null) {
            throw new DriverException(DriverError.INVALID_INPUT, "a migration cookie (from migrateBegin) is required");
        }
        Entry e = find(dom);
        if (!e.record().uuid().equalsIgnoreCase(cookie.uuid())) {
            throw new DriverException(DriverError.INVALID_INPUT, "the cookie of migration " + cookie.id() + " is for domain "
                    + cookie.name() + " (" + cookie.uuid() + "), not '" + e.record().name() + "'");
        }
        return perform(dom, destination, cookie.options(), cookie.id(), false);
    }

    @Override
    public String migrateFinish(String migrationId) {
        try {
            return migrations.finish(migrationId).label();
        } catch (MigrationException ex) {
            throw driverError(ex);
        }
    }

    @Override
    public MigrationStats migrateConfirm(String migrationId) {
        try {
            return migrations.confirm(migrationId);
        } catch (MigrationException ex) {
            throw driverError(ex);
        }
    }

    private static void requireOptions(MigrationOptions options) {
        if (options == null) {
            throw new DriverException(DriverError.INVALID_INPUT, "migration options are required");
        }
    }

    /**
     * Perform as the domain's migrate-out job: the guest as it is now, then the session's perform (and its
     * confirm when {@code confirm}); {@code id} is the begin cookie's, or null for a fresh one.
     */
    private MigrationStats perform(String dom, String destination, MigrationOptions options, String id, boolean confirm) {
        requireOptions(options);
        Entry e = find(dom);
        try (Job job = begin(e, JobKind.MIGRATE_OUT)) {
            Entry now = domains.get(e.record().uuid());
            DomainRecord r = now.record();
            OutgoingGuest guest = outgoingGuest(now, options);
            SourceSession session;
            try {
                session = id == null ? migrations.outgoing(guest, destination, options)
                        : migrations.outgoing(guest, destination, options, id);
            } catch (MigrationException ex) {
                throw driverError(ex);
            }
            job.phase("migrating to " + destination);
            persist(r.withJob(jobMark(job)));
            outgoing.put(r.uuid(), session);
            job.onAbort(() -> session.abort("aborted by the operator"));
            try {
                MigrationStats performed = session.perform();
                return confirm ? session.confirm() : performed;
            } catch (MigrationException ex) {
                throw driverError(ex);
            } finally {
                outgoing.remove(r.uuid());
                Entry after = domains.get(r.uuid());
                if (after != null && after.record().job() != null) {
                    persist(after.record().withJob(null));
                    domains.put(r.uuid(), new Entry(after.record().withJob(null), after.config()));
                }
            }
        }
    }

    /** The guest a migration moves, as it is now (a running domain) or as defined (offline). */
    private OutgoingGuest outgoingGuest(Entry now, MigrationOptions options) {
        DomainRecord r = now.record();
        if (options.offline()) {
            if (r.state() != RunState.SHUT_OFF) {
                throw new DriverException(DriverError.REFUSED, "domain '" + r.name() + "' is " + stateName(r.state())
                        + "; --offline moves the definition of a shut-off domain");
            }
            return new OutgoingGuest(null, r.name(), r.uuid(), now.config().toLibxlJson(), now.config().memoryMiB(),
                    now.config().vcpus(), configuredDevices(now));
        }
        requireLive(r);
        String json = call("read the configuration of '" + r.name() + "'", () -> libxl.domainConfigJson(r.domid()));
        return new OutgoingGuest(r.domid(), r.name(), r.uuid(), json, now.config().memoryMiB(), now.config().vcpus(),
                attachedDevices(now, r.domid()));
    }

    /** The devices of a shut-off domain's definition (an offline migration moves the definition as it is). */
    private static List<org.xenhost.migration.PassedDevice> configuredDevices(Entry e) {
        return e.config().pci().stream().map(p -> new org.xenhost.migration.PassedDevice(p.device().bdf(), null, null,
                p.device(), p.managed())).toList();
    }

    /** The devices a running domain has, as Xen lists them, described for a replug (or named in a refusal). */
    private List<org.xenhost.migration.PassedDevice> attachedDevices(Entry e, int domid) {
        if (replug == null) {
            // no device manager: what Xen lists is still enough to refuse by name
            List<org.xenhost.migration.PassedDevice> out = new ArrayList<>();
            for (org.xenhost.libxl.LibxlDevicePci p : call("list the devices of '" + e.record().name() + "'", () -> libxl.pciList(domid))) {
                out.add(new org.xenhost.migration.PassedDevice(p.bdf(), null, null, p, false));
            }
            return out;
        }
        Map<String, Boolean> managed = new HashMap<>();
        e.config().pci().forEach(p -> managed.put(p.device().bdf(), p.managed()));
        return call("describe the devices of '" + e.record().name() + "'", () -> replug.describe(domid, managed));
    }

    private static DriverException driverError(MigrationException ex) {
        DriverError kind = switch (ex.kind()) {
            case INVALID_INPUT -> DriverError.INVALID_INPUT;
            case REFUSED -> DriverError.REFUSED;
            case FAILED, ABORTED -> DriverError.FAILED;
        };
        return new DriverException(kind, ex.getMessage(), ex);
    }

    /** What the migration service asks of this driver: host facts, and the domain list when guests come and go. */
    private final class Migrations implements MigrationHost {
        @Override
        public String hostName() {
            return hostFacts.get().hostname();
        }

        @Override
        public List<String> cpuFlags() {
            return hostFacts.get().cpuFlags();
        }

        @Override
        public long freeMemoryMiB() {
            return call("read host memory", libxl::hostInfo).freeMemoryKb() / 1024;
        }

        @Override
        public String hostId() {
            return call("read host identity", libxl::hostInfo).hostId();
        }

        @Override
        public String conflict(String name, String uuid) {
            return conflict(name, uuid, null);
        }

        @Override
        public String conflict(MigrationCookie c) {
            boolean sameHost = c.sameHostAs(hostId());
            if (sameHost && domains.containsKey(c.uuid())) {
                return "domain '" + c.name() + "' (uuid " + c.uuid() + ") is this daemon's own: the migration's destination "
                        + "is the daemon it runs on; give the listener of another daemon";
            }
            return conflict(c.destinationName(), c.uuid(), sameHost ? c : null);
        }

        /** {@code sameHostSource}: the cookie of a same-host migration, whose source copy this Xen shows and is no conflict. */
        private String conflict(String name, String uuid, MigrationCookie sameHostSource) {
            for (Entry e : domains.values()) {
                if (e.record().name().equals(name) || e.record().uuid().equalsIgnoreCase(uuid)) {
                    return "a domain named '" + e.record().name() + "' (uuid " + e.record().uuid() + ") is already defined here"
                            + (e.record().name().equals(name) ? "; choose another name with --dest-name" : "");
                }
            }
            for (DomainInfo d : xenDomains()) {
                if (sameHostSource != null && d.uuid().toString().equalsIgnoreCase(sameHostSource.uuid())
                        && (sameHostSource.name().equals(d.name()) || sameHostSource.migratedAwayName().equals(d.name()))) {
                    continue; // the guest itself, still on its source daemon: xl's localhost migration case
                }
                if (name.equals(d.name()) || d.uuid().toString().equalsIgnoreCase(uuid)) {
                    return "Xen here already runs a domain named '" + d.name() + "' (domid " + d.domid() + ", uuid " + d.uuid() + ")";
                }
            }
            return null;
        }

        @Override
        public void incomingCommitted(MigrationCookie c, int domid, boolean paused) {
            if (domains.containsKey(c.uuid())) {
                return; // recovery may report a guest registered before the restart
            }
            Entry e = register(c, c.options().persist());
            DomainRecord running = e.record().withRuntime(domid, paused ? RunState.PAUSED : RunState.RUNNING);
            persist(running);
            domains.put(c.uuid(), new Entry(running, e.config()));
        }

        @Override
        public void incomingDefined(MigrationCookie c) {
            register(c, true);
        }

        private Entry register(MigrationCookie c, boolean persistent) {
            try {
                com.fasterxml.jackson.databind.node.ObjectNode root = (com.fasterxml.jackson.databind.node.ObjectNode) JSON.readTree(c.configJson());
                root.with("c_info").put("name", c.destinationName());
                if (root.has("name")) {
                    root.put("name", c.destinationName());
                }
                if (!c.replug().isEmpty()) {
                    // the definition names this host's devices, with the options the guest had on the source
                    com.fasterxml.jackson.databind.node.ArrayNode devs = root.putArray("pcidevs");
                    for (org.xenhost.migration.PassedDevice d : c.hostdevs()) {
                        String dst = c.replug().get(d.bdf());
                        if (dst != null) {
                            devs.add(DomainConfig.pciJson(HostdevReplug.at(d.spec(), org.xenhost.pci.PciAddress.parse(dst))));
                        }
                    }
                }
                String xlCfg = LibxlJson.toXlCfg(JSON.writeValueAsString(root));
                DomainConfig cfg = parse(xlCfg, "configuration of " + c.destinationName() + " migrated from " + c.sourceHost())
                        .withUuid(UUID.fromString(c.uuid()));
                synchronized (XenDriver.this) {
                    DomainRecord r = new DomainRecord(c.uuid(), c.destinationName(), null, RunState.SHUT_OFF, persistent, null);
                    saveConfig(c.uuid(), xlCfg);
                    persist(r);
                    Entry e = new Entry(r, cfg);
                    domains.put(c.uuid(), e);
                    log.info("domain {} ({}) arrived from {}{}", c.destinationName(), c.uuid(), c.sourceHost(), persistent ? ", defined" : "");
                    return e;
                }
            } catch (IOException ex) {
                throw new DriverException(DriverError.FAILED, "cannot record the migrated domain " + c.destinationName() + ": " + ex.getMessage(), ex);
            }
        }

        @Override
        public void outgoingCommitted(String uuid, MigrationOptions options) {
            Entry e = domains.get(uuid);
            if (e == null) {
                return;
            }
            if (options.undefineSource() || !e.record().persistent()) {
                domains.remove(uuid);
                deleteQuietly(uuid);
                interrupted.remove(uuid);
                log.info("domain {} migrated away{}", e.record().name(), e.record().persistent() ? " and undefined here" : "");
            } else {
                stopped(new Entry(e.record().withJob(null), e.config()), "migrated away; its definition stays");
            }
        }

        @Override
        public Map<String, String> planReplug(MigrationCookie c, Set<String> reserved) {
            return replug == null ? MigrationHost.super.planReplug(c, reserved) : replug.plan(c, reserved);
        }

        @Override
        public void unplugOutgoing(MigrationCookie c, int domid) {
            if (replug == null) {
                MigrationHost.super.unplugOutgoing(c, domid);
            } else {
                replug.unplug(c, domid);
            }
        }

        @Override
        public void replugOutgoing(MigrationCookie c, int domid) {
            if (replug != null) {
                replug.replug(c, domid);
            }
        }

        @Override
        public void releaseOutgoing(MigrationCookie c) {
            if (replug != null) {
                replug.release(c);
            }
        }

        @Override
        public void plugIncoming(MigrationCookie c, int domid) {
            if (replug == null) {
                MigrationHost.super.plugIncoming(c, domid);
            } else {
                replug.plug(c, domid);
            }
        }

        @Override
        public void unplugIncoming(MigrationCookie c) {
            if (replug != null) {
                replug.unplugIncoming(c);
            }
        }

        @Override
        public void outgoingRolledBack(String uuid, int domid) {
            Entry e = domains.get(uuid);
            if (e == null) {
                return;
            }
            DomainRecord r = e.record().withRuntime(domid, RunState.RUNNING).withJob(null);
            persist(r);
            domains.put(uuid, new Entry(r, e.config()));
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
        migrations.close();
    }

    // ---- helpers ------------------------------------------------------------------------------------------

    private void stopped(Entry now, String how) {
        // the domain is gone from Xen: its devices come back (managed ones to their dom0 driver)
        releaseDevices(now.record().uuid(), now.record().name());
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

    /**
     * Settles our domains that left Xen without us (xl destroy, a crashed guest cleaned up by another tool) the way
     * our own destroy would have: devices back to the host, a transient domain forgotten, a persistent one shut off.
     * The startup reconciliation does the same for what left while no daemon ran; this covers what leaves while one
     * runs. {@link #list}, define, create and restore call it first, so a name is free as soon as Xen has let go, and
     * xenhostd's domain watch calls it every few seconds, so devices come back with nobody asking (libvirt's libxl
     * driver learns this from libxl's domain-death event). A domain with a job in progress is its job's business and
     * is left alone. Reads Xen's domain list only when one of ours is running.
     *
     * @return how many domains were settled
     */
    public int settleGone() {
        return settleVanished(null);
    }

    /** @param xen Xen's domains if the caller has just read them; null: read them if any domain needs it */
    private int settleVanished(List<DomainInfo> xen) {
        int settled = 0;
        for (Entry e : domains.values()) {
            DomainRecord r = e.record();
            if (r.domid() == null || r.state() == RunState.SHUT_OFF || jobs.current(r.uuid()).isPresent()) {
                continue;
            }
            if (xen == null) {
                xen = xenDomains();
            }
            if (liveCopy(r, xen.stream().filter(d -> d.uuid().toString().equalsIgnoreCase(r.uuid())).toList()) != null) {
                continue;
            }
            Job job;
            try {
                job = jobs.begin(r.uuid(), r.name(), JobKind.DESTROY);
            } catch (BusyException | InterruptedException busy) {
                if (busy instanceof InterruptedException) {
                    Thread.currentThread().interrupt();
                }
                continue; // a job took the domain meanwhile: it settles it
            }
            try (job) {
                Entry now = domains.get(r.uuid());
                if (now != null && now.record().domid() != null && now.record().domid().equals(r.domid())) {
                    log.warn("domain {} (domid {}) is gone from Xen without xenhost (destroyed by another tool, or crashed"
                            + " and cleaned up)", r.name(), r.domid());
                    stopped(now, "settled after leaving Xen");
                    settled++;
                }
            }
        }
        return settled;
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
        return find(dom, null);
    }

    /**
     * Finds one of our domains by name, uuid or domid for an action ("destroyed", "paused"); Domain-0 is refused
     * with a message naming the action, since it is the host itself.
     */
    private Entry find(String dom, String action) {
        if (dom == null || dom.isBlank()) {
            throw new DriverException(DriverError.INVALID_INPUT, "a domain name, uuid or domid is required");
        }
        if (isDom0(dom)) {
            throw new DriverException(DriverError.INVALID_INPUT, "domain '" + dom + "' is Domain-0 (domid 0), the host itself: "
                    + (action == null ? "xenhost does not manage it as a guest" : "it cannot be " + action));
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

    private static final String DOM0_NAME = "Domain-0";
    private static final String DOM0_UUID = new UUID(0, 0).toString();

    /** Domain-0 by domid, its usual name, or its all-zero uuid. */
    private static boolean isDom0(String dom) {
        return dom != null && (dom.equals("0") || dom.equals(DOM0_NAME) || dom.equalsIgnoreCase(DOM0_UUID));
    }

    // ---- PCI devices of domains ---------------------------------------------------------------------------

    private HostdevManager devices() {
        return nodeDevices().manager();
    }

    private NodeDevices nodeDevices() {
        if (nodeDevices == null) {
            throw new DriverException(DriverError.REFUSED, "this xenhostd has no PCI devices to manage: run it on a Xen dom0, "
                    + "or with the emulated hypervisor over a sysfs tree (--sysfs-root fixtures/sysfs/HOST)");
        }
        return nodeDevices;
    }

    /** Takes a stopped domain's devices back, managed ones to their dom0 driver ({@link DomainDevices#release}). */
    private void releaseDevices(String uuid, String name) {
        DomainDevices.release(nodeDevices == null ? null : nodeDevices.manager(), uuid, name);
    }

    /** @return whether the domain is gone */
    private boolean destroyQuietly(int domid, String name) {
        try {
            libxl.destroy(domid);
        } catch (LibxlException e) {
            if (e.error() != LibxlError.DOMAIN_NOTFOUND) {
                log.warn("domain {}: could not destroy domid {} while unwinding: {}", name, domid, e.getMessage());
                return false;
            }
        }
        return true;
    }

    /** The unwind's failure, plus what the operator must do about a half-made domain Xen would not destroy. */
    private static DriverException leftPaused(RuntimeException why, int domid) {
        DriverError kind = why instanceof DriverException d ? d.error() : DriverError.FAILED;
        return new DriverException(kind, why.getMessage() + "; domid " + domid + " could not be destroyed and stays "
                + "paused: remove it with 'xl destroy " + domid + "'", why);
    }

    /**
     * Step "devices" of start and restore: hands a created, paused domain its configured PCI devices through the
     * manager (all or nothing; the manager unwinds its own steps). The journal records what the domain owns.
     */
    private void giveDevices(int domid, DomainConfig cfg, String name, Job job) {
        if (cfg.pci().isEmpty()) {
            return;
        }
        job.phase("assigning PCI devices");
        List<HostdevSpec> specs = cfg.pci().stream()
                .map(p -> new HostdevSpec(p.device(), p.managed(), p.strictReset(), false)).toList();
        AttachResult given = DeviceErrors.call(() -> devices().startDomainDevices(String.valueOf(domid), specs));
        logResets(name, given);
    }

    /** Each device's reset plan; one given unreset ({@code nostrictreset=1}) is a warning. */
    private static void logResets(String name, AttachResult given) {
        for (var p : given.resets()) {
            if (p.available()) {
                log.info("domain {}: reset {}", name, p);
            } else {
                log.warn("domain {}: reset {}", name, p);
            }
        }
    }

    /** libxl JSON without {@code pcidevs}: libxl must not attach devices the manager has not handed over. */
    private static String withoutPci(String json) {
        try {
            com.fasterxml.jackson.databind.node.ObjectNode root = (com.fasterxml.jackson.databind.node.ObjectNode) JSON.readTree(json);
            root.remove("pcidevs");
            return JSON.writeValueAsString(root);
        } catch (IOException e) {
            throw new IllegalStateException("the driver's own libxl JSON is unreadable", e);
        }
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

    /**
     * The Xen domain a record stands for. One uuid can name two domains when two daemons share a Xen (the source
     * and destination copies of a same-host migration): the record's domid decides; failing that (the daemon was
     * down while the domain changed domid), the only domain with that uuid unless it is a migration's copy.
     */
    private static DomainInfo liveCopy(DomainRecord r, List<DomainInfo> sameUuid) {
        if (r.domid() != null) {
            for (DomainInfo d : sameUuid) {
                if (d.domid() == r.domid()) {
                    return d;
                }
            }
        }
        if (sameUuid.size() == 1 && !isMigrationCopy(sameUuid.get(0).name())) {
            return sameUuid.get(0);
        }
        return null;
    }

    private static boolean isMigrationCopy(String xenName) {
        return xenName != null && DomainConfig.RESERVED_SUFFIXES.stream().anyMatch(xenName::endsWith);
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

    /** Shows the tap what was written (a pipe has no size to ask afterwards, and the tap counts pages too). */
    private static java.nio.channels.WritableByteChannel tapped(FileChannel ch, StreamTap tap) {
        return new java.nio.channels.WritableByteChannel() {
            @Override
            public int write(java.nio.ByteBuffer src) throws IOException {
                java.nio.ByteBuffer seen = src.duplicate();
                int n = ch.write(src);
                seen.limit(seen.position() + n);
                tap.accept(seen);
                return n;
            }

            @Override
            public boolean isOpen() {
                return ch.isOpen();
            }

            @Override
            public void close() throws IOException {
                ch.close();
            }
        };
    }
}
