package org.xenhost.daemon.demo;

import org.xenhost.daemon.admin.RemoteDriver;
import org.xenhost.driver.api.DomainDetails;
import org.xenhost.driver.api.DomainSummary;
import org.xenhost.driver.api.Driver;
import org.xenhost.driver.api.HostDescription;
import org.xenhost.driver.api.SaveResult;
import org.xenhost.driver.config.DomainConfig;
import org.xenhost.driver.config.XlCfgParser;
import org.xenhost.migration.MigrationStats;
import org.xenhost.pci.PciAddress;
import org.xenhost.pci.PciDevice;
import org.xenhost.transport.pki.CertificateAuthority;
import org.xenhost.transport.pki.SubjectAltName;
import org.xenhost.transport.pki.Validity;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * {@code xenhost demo}, step by step:
 * <ol>
 *   <li>a throwaway CA and a certificate for each of two hosts;</li>
 *   <li>a device for the guest made assignable on host-a, and one of the same model on host-b;</li>
 *   <li>two xenhostd child processes on loopback, emulated Xen over their own copies of the fixture tree;</li>
 *   <li>the guest (memory being dirtied, the device passed through) defined and started on host-a;</li>
 *   <li>{@code list} and {@code pci list} on both hosts;</li>
 *   <li>save to a file and restore on host-a;</li>
 *   <li>live migration to host-b, the device unplugged before and its counterpart plugged in after;</li>
 *   <li>{@code list} and {@code pci list} on both hosts again.</li>
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

        // 2. the guest's device made assignable on the source, one of the same model on the destination
        console.step(2, STEPS, "Host devices on pciback (xenhost pci assignable-add) over copies of " + fixture);
        PciDevice device = HostDevices.pickGuestDevice(fixture, dir.resolve("scratch"));
        PciAddress counterpart = HostDevices.counterpart(device, fixture);
        Path treeA = HostDevices.stageAssignable(fixture, dir.resolve("stage-" + SOURCE), device.address());
        Path treeB = HostDevices.stageAssignable(fixture, dir.resolve("stage-" + DESTINATION), counterpart);
        String model = HostDevices.vendorDevice(device);
        console.say(SOURCE + ": " + device.address() + " [" + model + "] assignable; " + DESTINATION + ": " + counterpart
                + " [" + model + "] assignable");

        // 3. the daemons, started together (JVM start-up is most of the wait)
        console.step(3, STEPS, "Two xenhostd processes on loopback, emulated Xen, TLS migration ports");
        ChildDaemon a = ws.register(daemon(SOURCE, dir, treeA, pki));
        daemons.add(a);
        ChildDaemon b = ws.register(daemon(DESTINATION, dir, treeB, pki));
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
        // the cookie), so they are read now, while the guest starts, and shown with the hosts in step 5
        CompletableFuture<HostDescription> factsA = CompletableFuture.supplyAsync(src::hostInfo);
        CompletableFuture<HostDescription> factsB = CompletableFuture.supplyAsync(dst::hostInfo);

        // 4. the guest: define, start
        console.step(4, STEPS, String.format("Guest '%s' on %s: %d MiB dirtied at %.1f MiB/s, %s passed through", GUEST, SOURCE,
                settings.memoryMiB(), rate / 1048576.0, device.address()));
        Path cfgFile = dir.resolve(GUEST + ".cfg");
        String cfg = guestConfig(uuid, List.of(device.address().toString()));
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
        show(a, src);
        show(b, dst);

        // 6. save to a file and restore
        console.step(6, STEPS, "Save " + GUEST + " to a file and restore it on " + SOURCE);
        Path saveFile = dir.resolve(GUEST + ".save");
        console.say("$ xenhost -c " + a.socket() + " save " + GUEST + " " + saveFile + " && xenhost -c " + a.socket()
                + " restore " + saveFile);
        SaveResult saved = src.save(GUEST, saveFile.toString());
        console.say(String.format("saved: %.1f MiB, %d pages with contents, in %d ms (xl save format: header + libxl stream v2)",
                saved.bytes() / 1048576.0, saved.pages(), saved.millis()));
        t = System.nanoTime();
        DomainSummary restored = src.restore(saveFile.toString(), false);
        long restoreMs = ms(t);
        console.say("restored: domid " + restored.domid() + ", " + restored.state() + ", in " + restoreMs + " ms");
        DemoSummary.SaveRestore saveRestore = new DemoSummary.SaveRestore(SOURCE, saveFile.toString(), saved.bytes(),
                saved.pages(), saved.millis(), restoreMs, started.domid(), restored.domid(), restored.state());

        // 7. live migration, the device following the guest
        console.step(7, STEPS, "Live migration " + SOURCE + " -> " + DESTINATION + " (" + b.endpoint() + "), device replugged");
        Moved moved = migrateWithReplug(a, src, b, dst, uuid, device);

        // 8. both hosts again, and where everything ended
        console.step(8, STEPS, "Both hosts after the migration");
        show(a, src);
        show(b, dst);
        DomainSummary onSource = find(src, GUEST);
        DomainSummary onDestination = find(dst, GUEST);
        MigrationStats m = moved.stats();
        DemoSummary.Migration migration = new DemoSummary.Migration(SOURCE, DESTINATION, m.outcome(), m.bytes(), m.pages(),
                m.iteration() + 1, m.elapsedMs(), m.downtimeMs(), m.memoryTotalBytes(),
                onSource == null ? null : onSource.state(), onDestination == null ? null : onDestination.state(),
                onDestination == null || onDestination.domid() == null ? -1 : onDestination.domid());
        List<DemoSummary.Device> devices = List.of(
                where(SOURCE, src, HostDevices.scan(a), device.address().toString()),
                where(DESTINATION, dst, HostDevices.scan(b), moved.replug().attachedBdf()));
        return new DemoSummary(dir.toString(), hosts,
                new DemoSummary.Guest(GUEST, uuid, settings.memoryMiB(), 2, rate,
                        device.address().toString(), model),
                new DemoSummary.Started(SOURCE, started.domid(), started.state(), info.devices(), startMs),
                saveRestore, migration, moved.replug(), devices, 0, null);
    }

    private record Moved(MigrationStats stats, DemoSummary.Replug replug) {
    }

    // integrator: switch to hostdev policy replug
    /**
     * Live-migrates the guest and brings its passed-through device along the way {@code --hostdev-policy=replug}
     * will: Xen cannot migrate a guest with an assigned device (it refuses log-dirty for it), so the device is
     * unplugged first and a device of the same vendor:device, assignable on the destination, is plugged in after.
     * Numbered steps are unwound in reverse on failure.
     *
     * <p>On this build the {@link Driver} has no attach/detach of its own and xenhostd gives a domain the devices
     * of its definition, so unplug and plug redefine the running guest (same uuid) without, then with, a device.
     * Once the driver's device hotplug or the migration's replug policy is there, this one method changes.
     */
    private Moved migrateWithReplug(ChildDaemon a, Driver src, ChildDaemon b, Driver dst, String uuid, PciDevice device) {
        // 1. the destination's match, before anything moves: no match, no migration
        Set<String> busy = devicesInUse(dst);
        PciDevice target = HostDevices.match(device, HostDevices.scan(b), busy).orElseThrow(() -> new IllegalStateException(
                b.name() + " has no assignable device like " + device.address() + " [" + HostDevices.vendorDevice(device)
                        + "] for the guest; nothing was moved"));
        // 2. unplug on the source
        src.define(guestConfig(uuid, List.of()), "replug: " + GUEST + " without " + device.address());
        console.say("replug: " + device.address() + " [" + HostDevices.vendorDevice(device) + "] unplugged from " + GUEST
                + " on " + a.name());
        // 3. migrate: live, the definition goes along and is removed here
        MigrationStats stats;
        try {
            stats = console.migrate(a.socket(), GUEST, b.endpoint(), List.of("--persist", "--undefine-source"));
        } catch (RuntimeException e) {
            // unwind 2: the guest stayed on the source; give it its device back (if the source still answers)
            try {
                src.define(guestConfig(uuid, List.of(device.address().toString())), "replug: " + GUEST + " back with " + device.address());
            } catch (RuntimeException unwind) {
                e.addSuppressed(unwind);
            }
            throw e;
        }
        // 4. plug the match in on the destination
        dst.define(guestConfig(uuid, List.of(target.address().toString())), "replug: " + GUEST + " with " + target.address());
        console.say("replug: " + target.address() + " [" + HostDevices.vendorDevice(target) + "] plugged into " + GUEST
                + " on " + b.name());
        return new Moved(stats, new DemoSummary.Replug(GUEST, a.name(), device.address().toString(), b.name(),
                target.address().toString(), HostDevices.vendorDevice(target), "definition"));
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

    private void show(ChildDaemon host, Driver d) {
        console.showDomains(host.name(), host.socket(), d.list(true));
        console.showPci(host.name(), HostDevices.tree(host), HostDevices.scan(host));
    }

    /** BDFs in the definitions of the host's domains. */
    private static Set<String> devicesInUse(Driver d) {
        Set<String> out = new HashSet<>();
        for (DomainSummary s : d.list(true)) {
            if (!"foreign".equals(s.state())) {
                for (String dev : d.info(s.uuid()).devices()) {
                    out.add(dev.split(" ")[0]);
                }
            }
        }
        return out;
    }

    private static DemoSummary.Device where(String host, Driver d, List<PciDevice> devices, String bdf) {
        PciDevice dev = HostDevices.find(devices, bdf).orElseThrow(() -> new IllegalStateException(
                "device " + bdf + " vanished from " + host + "'s sysfs"));
        String guest = null;
        for (DomainSummary s : d.list(true)) {
            if (!"foreign".equals(s.state()) && d.info(s.uuid()).devices().stream().anyMatch(x -> x.split(" ")[0].equals(bdf))) {
                guest = s.name();
            }
        }
        return new DemoSummary.Device(host, bdf, HostDevices.vendorDevice(dev), dev.driver(), guest);
    }

    private static DomainSummary find(Driver d, String name) {
        return d.list(true).stream().filter(s -> s.name().equals(name)).findFirst().orElse(null);
    }

    private static long ms(long since) {
        return (System.nanoTime() - since) / 1_000_000;
    }
}
