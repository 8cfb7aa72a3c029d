package org.xenhost.daemon.demo;

import org.xenhost.daemon.admin.RemoteDriver;
import org.xenhost.driver.api.DomainDetails;
import org.xenhost.driver.api.DomainSummary;
import org.xenhost.driver.api.Driver;
import org.xenhost.driver.api.HostDescription;
import org.xenhost.driver.api.NodeDevice;
import org.xenhost.driver.api.SaveResult;
import org.xenhost.driver.config.DomainConfig;
import org.xenhost.driver.config.XlCfgParser;
import org.xenhost.migration.MigrationStats;
import org.xenhost.transport.pki.CertificateAuthority;
import org.xenhost.transport.pki.SubjectAltName;
import org.xenhost.transport.pki.Validity;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * {@code xenhost demo}, step by step:
 * <ol>
 *   <li>a throwaway CA and a certificate for each of two hosts;</li>
 *   <li>two xenhostd child processes on loopback, emulated Xen over their own copies of the fixture tree;</li>
 *   <li>the guest's device chosen from host-a's {@code nodedev-list}, one of the same model made assignable on
 *       host-b ({@code nodedev-detach} through its daemon);</li>
 *   <li>the guest (memory being dirtied, the device managed: its daemon hands it over at start) defined and
 *       started on host-a;</li>
 *   <li>{@code list} and {@code nodedev-list} on both hosts;</li>
 *   <li>save to a file and restore on host-a;</li>
 *   <li>live migration to host-b with {@code --hostdev-policy=replug};</li>
 *   <li>{@code list} and {@code nodedev-list} on both hosts again.</li>
 * </ol>
 * Whatever happens (success, failure, Ctrl-C) the daemons are stopped and the working directory removed
 * ({@link Workspace}) before {@link #run()} returns or the JVM exits.
 */
public final class DemoRun {
    /**
     * @param fixture   sysfs tree both emulated hosts start from (each daemon works on its own copy)
     * @param memoryMiB the guest's memory
     * @param dirtyRate how fast the guest dirties memory (xl.cfg {@code emulated_dirty_rate}, e.g. "20M")
     * @param java      launcher and JVM options for the child daemons
     * @param classPath this program's class path, for the child daemons
     */
    public record Settings(Path fixture, int memoryMiB, String dirtyRate, List<String> java, String classPath) {
        public Settings {
            java = List.copyOf(java);
        }
    }

    private static final String GUEST = "demo";
    private static final String SOURCE = "host-a";
    private static final String DESTINATION = "host-b";
    private static final int STEPS = 8;
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(120);

    private final Settings settings;
    private final DemoConsole console;

    public DemoRun(Settings settings, DemoConsole console) {
        this.settings = Objects.requireNonNull(settings);
        this.console = Objects.requireNonNull(console);
    }

    /** Runs the demo; returns its summary once everything it made is gone again. */
    public DemoSummary run() throws Exception {
        long t0 = System.nanoTime();
        String uuid = UUID.randomUUID().toString();
        // 0. bad input is refused before anything is made
        Path fixture = settings.fixture().toAbsolutePath().normalize();
        if (!Files.isDirectory(fixture.resolve("sys/bus/pci/devices"))) {
            throw new IllegalArgumentException("--sysfs-root " + settings.fixture() + " is not a sysfs tree (no sys/bus/pci/devices); "
                    + "give a fixture tree such as fixtures/sysfs/sriov-82576");
        }
        String guestCfg = guestConfig(uuid, List.of());
        long rate = DomainConfig.from(XlCfgParser.parse("the demo guest (--memory, --dirty-rate)", guestCfg)).dirtyRateBytesPerSecond();

        Workspace ws = Workspace.create(console::warn);
        List<ChildDaemon> daemons = new ArrayList<>();
        DemoSummary partial;
        try {
            console.say("working directory " + ws.dir() + " (removed at the end, also on Ctrl-C)");
            partial = steps(ws, uuid, fixture, rate, daemons);
        } catch (Exception | Error e) {
            if (ws.interrupted()) {
                // the daemons were stopped under the running step; its error says nothing new
                throw new IllegalStateException("interrupted; the demo's daemons are stopped and " + ws.dir() + " is removed");
            }
            for (ChildDaemon d : daemons) {
                // stopped first: a daemon that just died (the likely cause) has its last words read to the end
                d.close();
                if (!d.log().isEmpty()) {
                    console.warn(d.name() + "'s xenhostd said (last lines):\n" + d.log());
                }
            }
            throw e;
        } finally {
            ws.close();
        }
        // the demo checks its own promise: no child left, no directory left
        boolean stopped = daemons.stream().allMatch(d -> ProcessHandle.of(d.pid()).map(p -> !p.isAlive()).orElse(true));
        boolean removed = !Files.exists(ws.dir());
        return partial.finished(ms(t0), new DemoSummary.Cleanup(stopped, removed));
    }

    private DemoSummary steps(Workspace ws, String uuid, Path fixture, long rate, List<ChildDaemon> daemons) throws Exception {
        Path dir = ws.dir();

        // 1. PKI: one CA, one certificate per host, naming the loopback address the peers dial
        console.step(1, STEPS, "A throwaway CA and a certificate for each host (mutual TLS between the daemons)");
        Path pki = dir.resolve("pki");
        CertificateAuthority ca = CertificateAuthority.init(pki, "xenhost-demo-ca", Validity.days(1));
        for (String h : List.of(SOURCE, DESTINATION)) {
            ca.issue(h, List.of(SubjectAltName.parse("127.0.0.1")), Validity.days(1));
        }
        console.say("CA 'xenhost-demo-ca'; " + SOURCE + " and " + DESTINATION + " (SAN 127.0.0.1) in " + pki);

        // 2. the daemons, started together (JVM start-up is most of the wait); each copies the fixture for itself
        console.step(2, STEPS, "Two xenhostd processes on loopback, emulated Xen over " + fixture + ", TLS migration ports");
        ChildDaemon a = ws.register(daemon(SOURCE, dir, fixture, pki));
        daemons.add(a);
        ChildDaemon b = ws.register(daemon(DESTINATION, dir, fixture, pki));
        daemons.add(b);
        a.start();
        b.start();
        a.awaitReady(READY_TIMEOUT);
        b.awaitReady(READY_TIMEOUT);
        List<DemoSummary.Host> hosts = new ArrayList<>();
        for (ChildDaemon d : daemons) {
            console.say(String.format("%s: xenhostd pid %d, admin socket %s, migration port %s (ready in %.1f s)", d.name(),
                    d.pid(), d.socket(), d.endpoint(), d.readyMillis() / 1000.0));
            hosts.add(new DemoSummary.Host(d.name(), d.pid(), d.socket().toString(), d.endpoint(), d.readyMillis()));
        }
        Driver src = RemoteDriver.connect(a.socket());
        Driver dst = RemoteDriver.connect(b.socket());
        // host facts (OSHI) take each daemon a few seconds the first time; a migration needs them (CPU flags in
        // the cookie), so they are read now, while the devices are chosen and the guest starts, and shown in step 5
        CompletableFuture<HostDescription> factsA = CompletableFuture.supplyAsync(src::hostInfo);
        CompletableFuture<HostDescription> factsB = CompletableFuture.supplyAsync(dst::hostInfo);

        // 3. the devices: the guest's on the source (its daemon takes it at start: managed), and one of the same
        //    model made assignable on the destination for the migration to map it to
        console.step(3, STEPS, "Host devices through the daemons: the guest's on " + SOURCE + ", an assignable match on " + DESTINATION);
        NodeDevice device = HostDevices.pickGuestDevice(src.nodeDeviceList(), fixture);
        NodeDevice spare = HostDevices.counterpart(device, dst.nodeDeviceList(), fixture);
        String model = HostDevices.vendorDevice(device);
        console.say(SOURCE + ": " + device.bdf() + " [" + model + "] on " + device.driver() + "; the guest gets it as a managed "
                + "device (its daemon moves it to pciback at start and back to " + device.driver() + " when it leaves)");
        console.say(DESTINATION + " $ xenhost -c " + b.socket() + " nodedev-detach " + spare.bdf());
        NodeDevice detached = dst.nodeDeviceDetach(spare.bdf(), null, false);
        console.say("Device " + detached.bdf() + " detached from dom0: assignable (driver " + detached.driver() + ")"
                + (detached.originalDriver() == null ? "" : "; nodedev-reattach gives it back to " + detached.originalDriver()));

        // 4. the guest: define, start
        console.step(4, STEPS, String.format("Guest '%s' on %s: %d MiB dirtied at %.1f MiB/s, %s passed through", GUEST, SOURCE,
                settings.memoryMiB(), rate / 1048576.0, device.bdf()));
        Path cfgFile = dir.resolve(GUEST + ".cfg");
        String cfg = guestConfig(uuid, List.of(device.bdf() + ",managed=yes"));
        Files.writeString(cfgFile, cfg);
        console.say("$ xenhost -c " + a.socket() + " define " + cfgFile + " && xenhost -c " + a.socket() + " create " + GUEST);
        long t = System.nanoTime();
        src.define(cfg, cfgFile.toString());
        DomainSummary started = src.start(GUEST);
        long startMs = ms(t);
        DomainDetails info = src.info(GUEST);
        console.say("Domain " + GUEST + " started (domid " + started.domid() + ", " + started.state() + ", devices "
                + info.devices() + ")");

        // 5. both hosts
        console.step(5, STEPS, "Both hosts: what they are, their domains and PCI devices");
        showFacts(a, join(factsA));
        showFacts(b, join(factsB));
        List<DemoSummary.Device> before = List.of(
                where(SOURCE, show(a, src), device.bdf()),
                where(DESTINATION, show(b, dst), spare.bdf()));

        // 6. save to a file and restore
        console.step(6, STEPS, "Save " + GUEST + " to a file and restore it on " + SOURCE);
        Path saveFile = dir.resolve(GUEST + ".save");
        console.say("$ xenhost -c " + a.socket() + " save " + GUEST + " " + saveFile + " && xenhost -c " + a.socket()
                + " restore " + saveFile);
        SaveResult saved = src.save(GUEST, saveFile.toString());
        console.say(String.format("saved: %.1f MiB, %d pages with contents, in %d ms (xl save format: header + libxl stream v2)",
                saved.bytes() / 1048576.0, saved.pages(), saved.millis()));
        // the guest lives in the file now, so its managed VF is back with dom0 until the restore takes it again
        NodeDevice whileSaved = HostDevices.find(src.nodeDeviceList(), device.bdf()).orElseThrow(() -> new IllegalStateException(
                "device " + device.bdf() + " is missing from " + SOURCE + "'s nodedev-list"));
        console.say("while saved: " + whileSaved.bdf() + " on " + whileSaved.driver() + " (nodedev-list: placement "
                + whileSaved.placement() + ", owner " + (whileSaved.owner() == null ? "none" : whileSaved.owner()) + ")");
        t = System.nanoTime();
        DomainSummary restored = src.restore(saveFile.toString(), false);
        long restoreMs = ms(t);
        console.say("restored: domid " + restored.domid() + ", " + restored.state() + ", in " + restoreMs + " ms, devices "
                + src.info(GUEST).devices());
        DemoSummary.SaveRestore saveRestore = new DemoSummary.SaveRestore(SOURCE, saveFile.toString(), saved.bytes(),
                saved.pages(), saved.millis(), restoreMs, started.domid(), restored.domid(), restored.state(),
                where(SOURCE, List.of(whileSaved), device.bdf()));

        // 7. live migration, the device following the guest
        console.step(7, STEPS, "Live migration " + SOURCE + " -> " + DESTINATION + " (" + b.endpoint() + "), device replugged");
        Moved moved = migrateWithReplug(a, b, device);

        // 8. both hosts again, and where everything ended
        console.step(8, STEPS, "Both hosts after the migration");
        List<NodeDevice> afterA = show(a, src);
        List<NodeDevice> afterB = show(b, dst);
        DomainSummary onSource = find(src, GUEST);
        DomainSummary onDestination = find(dst, GUEST);
        MigrationStats m = moved.stats();
        DemoSummary.Migration migration = new DemoSummary.Migration(SOURCE, DESTINATION, m.outcome(), m.bytes(), m.pages(),
                m.iteration() + 1, m.elapsedMs(), m.downtimeMs(), m.memoryTotalBytes(),
                onSource == null ? null : onSource.state(), onDestination == null ? null : onDestination.state(),
                onDestination == null || onDestination.domid() == null ? -1 : onDestination.domid());
        List<DemoSummary.Device> devices = List.of(
                where(SOURCE, afterA, device.bdf()),
                where(DESTINATION, afterB, moved.replug().attachedBdf()));
        return new DemoSummary(dir.toString(), hosts,
                new DemoSummary.Guest(GUEST, uuid, settings.memoryMiB(), 2, rate, device.bdf(), model),
                new DemoSummary.Started(SOURCE, started.domid(), started.state(), info.devices(), startMs),
                saveRestore, before, migration, moved.replug(), devices, 0, null);
    }

    private record Moved(MigrationStats stats, DemoSummary.Replug replug) {
    }

    /**
     * Live-migrates the guest with {@code --hostdev-policy=replug}: Xen cannot migrate a guest with an assigned
     * device (it refuses log-dirty for it), so the destination maps the device to an assignable one of the same
     * vendor:device in prepare (no match, no migration), the source detaches it before the stream, and the
     * destination attaches its match before unpausing. The migration's report says which device went where;
     * the demo takes that, not its own guess.
     */
    private Moved migrateWithReplug(ChildDaemon a, ChildDaemon b, NodeDevice device) {
        MigrationStats stats = console.migrate(a.socket(), GUEST, b.endpoint(),
                List.of("--persist", "--undefine-source", "--hostdev-policy=replug"));
        String target = stats.replugged().get(device.bdf());
        if (target == null) {
            throw new IllegalStateException("the migration of " + GUEST + " completed but did not report replugging "
                    + device.bdf() + " (it reported " + stats.replugged() + ")");
        }
        for (Map.Entry<String, String> e : stats.replugged().entrySet()) {
            console.say("replugged: " + a.name() + " " + e.getKey() + " -> " + b.name() + " " + e.getValue());
        }
        return new Moved(stats, new DemoSummary.Replug(GUEST, a.name(), device.bdf(), b.name(), target,
                HostDevices.vendorDevice(device), stats.replugged(), "hostdev-policy=replug"));
    }

    private String guestConfig(String uuid, List<String> pci) {
        StringBuilder b = new StringBuilder()
                .append("# xenhost demo guest\n")
                .append("name = \"").append(GUEST).append("\"\n")
                .append("uuid = \"").append(uuid).append("\"\n")
                .append("type = \"pvh\"\n")
                .append("memory = ").append(settings.memoryMiB()).append('\n')
                .append("vcpus = 2\n")
                .append("emulated_dirty_rate = \"").append(settings.dirtyRate()).append("\"\n");
        if (!pci.isEmpty()) {
            b.append("pci = [ ");
            for (int i = 0; i < pci.size(); i++) {
                b.append(i == 0 ? "" : ", ").append('"').append(pci.get(i)).append('"');
            }
            b.append(" ]\n");
        }
        return b.toString();
    }

    private ChildDaemon daemon(String name, Path dir, Path tree, Path pki) {
        return new ChildDaemon(name, settings.java(), settings.classPath(), dir.resolve(name), dir.resolve(name + ".sock"),
                tree, pki, "CN=host-*");
    }

    private void showFacts(ChildDaemon host, HostDescription h) {
        console.say(String.format("%s: Xen %s, %d MiB free of %d MiB, %d CPUs, IOMMU %s (its driver's hostInfo)",
                host.name(), h.xenVersion(), h.freeMemoryMiB(), h.totalMemoryMiB(), h.cpus(),
                h.iommu() ? "yes" : "no"));
    }

    private static <T> T join(CompletableFuture<T> f) throws InterruptedException {
        try {
            return f.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(e.getCause());
        }
    }

    /** {@code list --all} and {@code nodedev-list} of one host, shown; returns the devices as listed. */
    private List<NodeDevice> show(ChildDaemon host, Driver d) {
        console.showDomains(host.name(), host.socket(), d.list(true));
        List<NodeDevice> devices = d.nodeDeviceList();
        console.showNodeDevices(host.name(), host.socket(), devices);
        return devices;
    }

    private static DemoSummary.Device where(String host, List<NodeDevice> devices, String bdf) {
        NodeDevice d = HostDevices.find(devices, bdf).orElseThrow(() -> new IllegalStateException(
                "device " + bdf + " is missing from " + host + "'s nodedev-list"));
        return new DemoSummary.Device(host, d.bdf(), HostDevices.vendorDevice(d), d.driver(), d.placement(), d.owner(), d.managed());
    }

    private static DomainSummary find(Driver d, String name) {
        return d.list(true).stream().filter(s -> s.name().equals(name)).findFirst().orElse(null);
    }

    private static long ms(long since) {
        return (System.nanoTime() - since) / 1_000_000;
    }
}
