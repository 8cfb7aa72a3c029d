package org.xenhost.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.xenhost.daemon.admin.RemoteDriver;
import org.xenhost.driver.api.Driver;
import org.xenhost.driver.api.DriverError;
import org.xenhost.driver.api.DriverException;
import org.xenhost.emulator.EmulatedLibxl;
import org.xenhost.emulator.HostSettings;
import org.xenhost.hostdev.DeviceVerdict;
import org.xenhost.hostdev.HostCriticalDevices;
import org.xenhost.hostdev.HostdevManager;
import org.xenhost.hostdev.StepHook;
import org.xenhost.migration.MigrationCookie;
import org.xenhost.migration.MigrationOptions;
import org.xenhost.migration.MigrationStats;
import org.xenhost.migration.PassedDevice;
import org.xenhost.pci.PciAddress;
import org.xenhost.transport.pki.CertificateAuthority;
import org.xenhost.transport.pki.SubjectAltName;
import org.xenhost.transport.pki.Validity;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Migration of a guest with a passed-through SR-IOV VF between two xenhostd processes, each on its own copy of
 * the {@code sriov-82576} fixture host (an 82576 PF with eight 8086:10ca VFs on igbvf): refused by default, moved
 * with {@code --hostdev-policy=replug} onto the destination's matching VF, refused before anything is sent when the
 * destination cannot provide the mapped device, and rolled back with the device re-attached when the destination
 * dies after the source let go of it. sysfs (driver links) and the host-device managers' journals are the oracles.
 */
@Timeout(300)
class HostdevMigrationProcessTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path FIXTURE = Path.of(System.getProperty("xenhost.root", ".")).resolve("fixtures/sysfs/sriov-82576");
    private static final String SRC_VF = "0000:02:10.0";
    private static final String DST_VF = "0000:02:10.2";

    @TempDir
    Path tmp;

    private final class Pair implements AutoCloseable {
        final DaemonProcess a;
        final DaemonProcess b;

        Pair() throws IOException {
            Path pki = tmp.resolve("pki");
            if (!Files.exists(pki.resolve("ca-cert.pem"))) {
                CertificateAuthority ca = CertificateAuthority.init(pki, "test-ca", Validity.days(2));
                for (String h : List.of("host-a", "host-b")) {
                    ca.issue(h, List.of(SubjectAltName.parse("127.0.0.1")), Validity.days(1));
                }
            }
            // each listens on a port the kernel picks as it binds (a restart keeps it)
            a = daemon("a", "host-a");
            b = daemon("b", "host-b");
        }

        private DaemonProcess daemon(String name, String cert) {
            return new DaemonProcess(tmp.resolve(name + "/state"), tmp.resolve(name + "/xenhostd.sock"), "--listen",
                    "127.0.0.1:0", "--tls-dir", tmp.resolve("pki").toString(), "--tls-name", cert, "--allow-peer",
                    "CN=host-*", "--sysfs-root", FIXTURE.toString());
        }

        String destB() {
            return "127.0.0.1:" + b.migrationPort();
        }

        @Override
        public void close() throws InterruptedException {
            a.close();
            b.close();
        }
    }

    /** The daemon's working copy of the fixture tree (its emulated kernel's sysfs). */
    private static Path tree(DaemonProcess d) {
        return d.stateDir.resolve("emulated-xen/sysfs");
    }

    /**
     * Before {@code d} starts: makes {@code bdfs} assignable on its host as an operator would ({@code xl
     * pci-assignable-add}), through the same emulated host and host-device journal the daemon then opens.
     */
    private static void assignableBeforeStart(DaemonProcess d, String... bdfs) throws Exception {
        Path xen = d.stateDir.resolve("emulated-xen");
        HypervisorHost.copyTree(FIXTURE, xen.resolve("sysfs"));   // the daemon's own copy, as it would make it
        try (EmulatedLibxl libxl = EmulatedLibxl.open(xen, tree(d), HostSettings.DEFAULT);
             HostdevManager m = HostdevManager.start(libxl, tree(d), d.stateDir, critical(tree(d)), StepHook.NONE)) {
            for (String bdf : bdfs) {
                m.assignableAdd(PciAddress.parse(bdf), null, false);
            }
        }
    }

    /** The emulated host's mount table and routes (none in the fixture: no device is host-critical). */
    private static HostCriticalDevices.Sources critical(Path tree) {
        return new HostCriticalDevices.Sources(tree, tree.resolve("proc/mounts"), tree.resolve("proc/net/route"),
                tree.resolve("proc/net/ipv6_route"));
    }

    /** The dom0 driver a function is bound to, read from the daemon's sysfs copy (null: unbound). */
    private static String driver(DaemonProcess d, String bdf) throws IOException {
        Path link = tree(d).resolve("sys/bus/pci/devices").resolve(bdf).resolve("driver");
        return Files.isSymbolicLink(link) ? Files.readSymbolicLink(link).getFileName().toString() : null;
    }

    /** The domain the daemon's host-device journal gives the device to (read-only, while the daemon runs). */
    private static String owner(DaemonProcess d, String bdf) {
        Map<PciAddress, DeviceVerdict> v = HostdevManager.verdicts(tree(d), d.stateDir, critical(tree(d)));
        return v.get(PciAddress.parse(bdf)).owner();
    }

    private Path guestWithVf(String name) throws IOException {
        return guestWithVf(name, SRC_VF);
    }

    private Path guestWithVf(String name, String vf) throws IOException {
        Path f = tmp.resolve(name + ".cfg");
        Files.writeString(f, "name = \"" + name + "\"\ntype = \"hvm\"\nmemory = 64\nvcpus = 2\n"
                + "emulated_dirty_rate = \"4M\"\npci = [ '" + vf + ",managed=yes' ]\n");
        return f;
    }

    private static JsonNode dominfo(DaemonProcess d, String name) throws IOException {
        return JSON.readTree(d.ok("dominfo", name, "--json"));
    }



    /** The guest runs on the source with its own VF, on pciback and owned by it, as before the attempt. */
    private static void keepsItsDevice(DaemonProcess a, String name) throws IOException {
        assertEquals("running", a.domainState(name));
        assertEquals("pciback", driver(a, SRC_VF));
        assertEquals(name, owner(a, SRC_VF));
        assertTrue(dominfo(a, name).path("devices").toString().contains(SRC_VF), dominfo(a, name).toString());
    }

    @Test
    void refusedWithoutThePolicyThenReplugged() throws Exception {
        try (Pair p = new Pair()) {
            assignableBeforeStart(p.b, DST_VF);
            p.a.start();
            p.b.start();
            p.a.ok("create", guestWithVf("nic").toString());
            assertEquals("pciback", driver(p.a, SRC_VF), "managed start took the VF from igbvf");
            assertEquals("nic", owner(p.a, SRC_VF));

            // default policy: refused, naming the device and why
            DaemonProcess.Cli refused = p.a.cli("migrate", "nic", p.destB());
            assertEquals(1, refused.exit(), refused.out());
            assertTrue(refused.err().contains(SRC_VF) && refused.err().contains("log-dirty")
                    && refused.err().contains("--hostdev-policy=replug"), refused.err());
            keepsItsDevice(p.a, "nic");
            assertNull(p.b.domainState("nic"));

            // replug: the destination's only assignable 10ca VF (of a 10c9 PF) takes the source VF's place
            String out = p.a.ok("migrate", "nic", p.destB(), "--hostdev-policy=replug");
            assertTrue(out.contains("replugged: " + SRC_VF + " -> " + DST_VF), out);
            DaemonProcess.await("nic running on b only", () -> {
                try {
                    return "running".equals(p.b.domainState("nic")) && p.a.domainState("nic") == null;
                } catch (IOException e) {
                    return false;
                }
            });
            // destination: the definition names its own VF, which is on pciback and the domain's
            JsonNode info = dominfo(p.b, "nic");
            assertTrue(info.path("devices").toString().contains(DST_VF) && !info.path("devices").toString().contains(SRC_VF), info.toString());
            assertTrue(p.b.ok("dumpconfig", "nic").contains(DST_VF), p.b.ok("dumpconfig", "nic"));
            assertEquals("pciback", driver(p.b, DST_VF));
            assertEquals("nic", owner(p.b, DST_VF));
            assertEquals("igbvf", driver(p.b, SRC_VF), "the destination's own 02:10.0 was never touched");
            // source: the managed VF went back to its dom0 driver and nobody owns it
            assertEquals("igbvf", driver(p.a, SRC_VF));
            assertNull(owner(p.a, SRC_VF));
        }
    }

    @Test
    void anUnusableExplicitMappingIsRefusedBeforeAnythingIsSent() throws Exception {
        try (Pair p = new Pair()) {
            assignableBeforeStart(p.b, DST_VF);
            p.a.start();
            p.b.start();
            p.a.ok("create", guestWithVf("nic").toString());
            String[][] cases = {
                    {"0000:09:00.0", "this host has no PCI device 0000:09:00.0"},
                    {"0000:02:10.4", "0000:02:10.4 is not assignable here (it is bound to igbvf)"},
                    {"0000:01:00.0", "0000:01:00.0 is not assignable here"},
            };
            for (String[] c : cases) {
                DaemonProcess.Cli r = p.a.cli("migrate", "nic", p.destB(), "--hostdev-policy=replug", "--hostdev-map", SRC_VF + "=" + c[0]);
                assertEquals(1, r.exit(), r.out());
                assertTrue(r.err().contains("--hostdev-map " + SRC_VF + "=" + c[0]) && r.err().contains(c[1])
                        && r.err().contains("the guest keeps running here"), r.err());
                keepsItsDevice(p.a, "nic");
            }
            // refused in prepare: the source's journal ends there, and no stream reached the destination
            List<Path> journals;
            try (var s = Files.list(p.a.stateDir.resolve("migrations"))) {
                journals = s.filter(f -> f.toString().endsWith(".json")).toList();
            }
            assertEquals(cases.length, journals.size());
            for (Path j : journals) {
                JsonNode e = JSON.readTree(j.toFile());
                assertEquals("ROLLED_BACK", e.path("phase").asText(), e.toString());
                assertTrue(e.path("message").asText().contains("the destination refused"), e.toString());
            }
            assertNull(p.b.domainState("nic"));
            assertFalse(p.b.log().contains("--incoming"), p.b.log());
            assertEquals("pciback", driver(p.b, DST_VF), "still assignable at the destination");
            assertNull(owner(p.b, DST_VF));
            // a source device the guest does not have is bad input
            DaemonProcess.Cli bad = p.a.cli("migrate", "nic", p.destB(), "--hostdev-policy=replug", "--hostdev-map", "0000:02:11.0=" + DST_VF);
            assertEquals(2, bad.exit(), bad.err());
            assertTrue(bad.err().contains("has no device 0000:02:11.0"), bad.err());
        }
    }

    /**
     * The destination dies after receiving the guest (the source had detached the VF): the source resumes its
     * guest with its VF re-attached, still managed (it goes back to igbvf when the guest is destroyed), and the
     * restarted destination keeps its VF in the pool. The source dying right after the detach is settled from its
 * journal at restart the same way. A third attempt then succeeds.
     */
    @Test
    void aFailureAfterTheDetachReattachesTheDeviceAtTheSource() throws Exception {
        try (Pair p = new Pair()) {
            assignableBeforeStart(p.b, DST_VF);
            p.b.env("XENHOST_MIGRATION_HALT_AT", "destination:received");
            p.a.start();
            p.b.start();
            p.a.ok("create", guestWithVf("nic").toString());
            DaemonProcess.Cli r = p.a.cli("migrate", "nic", p.destB(), "--hostdev-policy=replug");
            assertTrue(p.b.awaitExit(30));
            assertEquals(1, r.exit(), r.out());
            keepsItsDevice(p.a, "nic");
            p.b.env("XENHOST_MIGRATION_HALT_AT", null).start();
            DaemonProcess.await("the destination's half copy destroyed", () -> {
                try {
                    return p.b.domainState("nic") == null;
                } catch (IOException e) {
                    return false;
                }
            });
            assertEquals("pciback", driver(p.b, DST_VF));
            assertNull(owner(p.b, DST_VF));
            // the source dies right after detaching the VF: restarted, its journal says resume, with the VF
            assertEquals(0, p.a.terminate()); // guests keep running; the crash point is read at start
            p.a.env("XENHOST_MIGRATION_HALT_AT", "source:unplugged").start();
            p.a.cli("migrate", "nic", p.destB(), "--hostdev-policy=replug");
            assertTrue(p.a.awaitExit(30));
            assertEquals("pciback", driver(p.a, SRC_VF), "detached, in the pool, while the source is down");
            p.a.env("XENHOST_MIGRATION_HALT_AT", null).start();
            DaemonProcess.await("the source's guest with its VF again", () -> {
                try {
                    keepsItsDevice(p.a, "nic");
                    return true;
                } catch (IOException | AssertionError e) {
                    return false;
                }
            });
            // logged by the background settling just after the re-attach that the wait above saw
            p.a.awaitLog("has its devices [" + SRC_VF + "] again");
            // the VF is still managed at the source: a third attempt succeeds and gives it back to igbvf
            String out = p.a.ok("migrate", "nic", p.destB(), "--hostdev-policy=replug");
            assertTrue(out.contains("replugged: " + SRC_VF + " -> " + DST_VF), out);
            assertEquals("igbvf", driver(p.a, SRC_VF));
            assertEquals("nic", owner(p.b, DST_VF));
        }
    }

    /**
     * The phases as separate Driver calls over each daemon's admin socket, composed by the test as a management
     * layer would: begin at the source, prepare at the destination (alone: an answer, no reservation), perform at
     * the source (the destination's prepare and finish run on its listener), confirm at the source.
     */
    @Test
    void thePhasesAreDriverEntryPoints() throws Exception {
        try (Pair p = new Pair()) {
            assignableBeforeStart(p.b, DST_VF);
            p.a.start();
            p.b.start();
            p.a.ok("create", guestWithVf("nic").toString());
            Driver a = RemoteDriver.connect(p.a.socket);
            Driver b = RemoteDriver.connect(p.b.socket);
            MigrationOptions replug = new MigrationOptions(true, false, false, false, false, 0, false, null, 0,
                    MigrationOptions.HostdevPolicy.REPLUG, Map.of());

            MigrationCookie cookie = a.migrateBegin("nic", replug);
            assertEquals(1, cookie.hostdevs().size(), cookie.toString());
            PassedDevice vf = cookie.hostdevs().get(0);
            assertEquals(SRC_VF, vf.bdf());
            assertEquals("8086:10ca", vf.vendorDevice());
            assertEquals("8086:10c9", vf.sriovParent(), "a VF's parent type travels with it");
            assertTrue(vf.managed());
            assertTrue(cookie.replug().isEmpty());
            assertFalse(cookie.configJson().contains("pcidevs"), "the restored config has no devices: " + cookie.configJson());
            assertEquals("running", p.a.domainState("nic"), "begin has no side effect");
            assertEquals("nic", owner(p.a, SRC_VF));

            MigrationCookie prepared = b.migratePrepare(cookie);
            assertEquals(Map.of(SRC_VF, DST_VF), prepared.replug());
            assertEquals(Map.of(SRC_VF, DST_VF), b.migratePrepare(cookie).replug(), "prepare alone reserves nothing");
            MigrationCookie badMap = a.migrateBegin("nic", new MigrationOptions(true, false, false, false, false, 0, false, null, 0,
                    MigrationOptions.HostdevPolicy.REPLUG, Map.of(SRC_VF, "0000:02:10.6")));
            DriverException refused = assertThrows(DriverException.class, () -> b.migratePrepare(badMap));
            assertEquals(DriverError.REFUSED, refused.error());
            assertTrue(refused.getMessage().contains("0000:02:10.6 is not assignable here"), refused.getMessage());

            MigrationStats performed = a.migratePerform("nic", cookie, p.destB());
            assertEquals(Map.of(SRC_VF, DST_VF), performed.replugged());
            assertEquals("migrated-away", performed.phase());
            assertEquals("running", p.b.domainState("nic"), "the destination finished: the guest runs there");
            assertEquals("nic", owner(p.b, DST_VF));
            DriverException twice = assertThrows(DriverException.class, () -> a.migratePerform("nic", cookie, p.destB()));
            assertEquals(DriverError.INVALID_INPUT, twice.error(), twice.getMessage());

            MigrationStats confirmed = a.migrateConfirm(cookie.id());
            assertEquals("completed", confirmed.outcome());
            assertNull(p.a.domainState("nic"));
            assertEquals("igbvf", driver(p.a, SRC_VF), "confirm gave the managed VF back to igbvf");
            DriverException again = assertThrows(DriverException.class, () -> a.migrateConfirm(cookie.id()));
            assertTrue(again.getMessage().contains("committed"), again.getMessage());
            // finish at the destination: its session ended with the unpause, so there is nothing left to settle
            assertEquals("unpaused", b.migrateFinish(cookie.id()));
        }
    }

    /**
     * Two guests with VFs leave at once for a destination with two assignable VFs: each prepare reserves its
     * match, so they get different ones; {@code list} answers on both daemons meanwhile.
     */
    @Test
    void concurrentReplugsGetDistinctDevices() throws Exception {
        try (Pair p = new Pair()) {
            assignableBeforeStart(p.b, DST_VF, "0000:02:10.4");
            p.a.start();
            p.b.start();
            p.a.ok("create", guestWithVf("nic0", "0000:02:10.0").toString());
            p.a.ok("create", guestWithVf("nic1", "0000:02:11.0").toString());
            List<java.util.concurrent.CompletableFuture<DaemonProcess.Cli>> runs = List.of(
                    java.util.concurrent.CompletableFuture.supplyAsync(() -> p.a.cli("migrate", "nic0", p.destB(), "--hostdev-policy=replug")),
                    java.util.concurrent.CompletableFuture.supplyAsync(() -> p.a.cli("migrate", "nic1", p.destB(), "--hostdev-policy=replug")));
            int lists = 0;
            while (!runs.stream().allMatch(java.util.concurrent.CompletableFuture::isDone)) {
                p.a.ok("list");
                p.b.ok("list");
                lists++;
                Thread.sleep(50);
            }
            assertTrue(lists > 0);
            java.util.Set<String> got = new java.util.HashSet<>();
            for (int i = 0; i < 2; i++) {
                DaemonProcess.Cli r = runs.get(i).get();
                assertEquals(0, r.exit(), r.err());
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("replugged: (\\S+) -> (\\S+)").matcher(r.out());
                assertTrue(m.find(), r.out());
                got.add(m.group(2));
                assertEquals("nic" + i, owner(p.b, m.group(2)));
                assertEquals("igbvf", driver(p.a, m.group(1)));
            }
            assertEquals(java.util.Set.of(DST_VF, "0000:02:10.4"), got);
        }
    }

    /**
     * The source dies right after clearing the destination (go sent): the guest runs at the destination with its
     * VF; the restarted source learns so from the destination, destroys its paused copy and gives its managed VF
     * back to igbvf, from its journal alone.
     */
    @Test
    void aSourceCrashAfterTheHandOverReleasesItsDeviceAtRestart() throws Exception {
        try (Pair p = new Pair()) {
            assignableBeforeStart(p.b, DST_VF);
            p.a.env("XENHOST_MIGRATION_HALT_AT", "source:go-sent");
            p.a.start();
            p.b.start();
            p.a.ok("create", guestWithVf("nic").toString());
            p.a.cli("migrate", "nic", p.destB(), "--hostdev-policy=replug");
            assertTrue(p.a.awaitExit(30));
            DaemonProcess.await("nic running on b with its VF", () -> {
                try {
                    return "running".equals(p.b.domainState("nic")) && "nic".equals(owner(p.b, DST_VF));
                } catch (IOException e) {
                    return false;
                }
            });
            assertEquals("pciback", driver(p.a, SRC_VF), "in the source's pool while the source is down");
            p.a.env("XENHOST_MIGRATION_HALT_AT", null).start();
            DaemonProcess.await("the source copy gone and its VF back on igbvf", () -> {
                try {
                    return p.a.domainState("nic") == null && "igbvf".equals(driver(p.a, SRC_VF));
                } catch (IOException e) {
                    return false;
                }
            });
            assertNull(owner(p.a, SRC_VF));
            assertTrue(p.b.ok("dumpconfig", "nic").contains(DST_VF));
        }
    }
}
