package org.xenhost.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * PCI passthrough through xenhostd as a separate process: the emulated hypervisor over a copy of the asus-p6t6
 * fixture, driven by the CLI over the admin socket. Where a device is bound is read from the daemon's working
 * copy of the sysfs tree (the {@code driver} symlink the emulated kernel moves, as the real one does), and once
 * from lspci, never from xenhost's own answers alone.
 */
class PassthroughProcessTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String SAS = "0000:04:00.0";   // mpt3sas, FLR, alone in its IOMMU group
    private static final String AUDIO = "0000:00:1b.0"; // snd_hda_intel, FLR, alone in its IOMMU group

    @TempDir
    Path tmp;

    private final Path fixture = Path.of(System.getProperty("xenhost.root")).resolve("fixtures/sysfs/asus-p6t6");

    private DaemonProcess daemon() {
        return new DaemonProcess(tmp.resolve("state"), tmp.resolve("run/xenhostd.sock"), "--sysfs-root", fixture.toString());
    }

    /** The daemon's working copy of the fixture (HypervisorHost keeps it there). */
    private Path tree() {
        return tmp.resolve("state/emulated-xen/sysfs");
    }

    /**
     * Resets of {@code bdf} asked for through its sysfs reset file (or pciback's do_flr), from the emulated kernel's
     * log in the daemon's state directory; pciback's own resets on bind/unbind are not counted.
     */
    private long requestedResets(String bdf) throws Exception {
        Path log = tmp.resolve("state/emulated-xen/kernel-resets.log");
        if (!Files.exists(log)) {
            return 0;
        }
        return Files.readAllLines(log).stream()
                .filter(l -> l.equals(bdf + " reset ok") || l.equals(bdf + " do_flr ok")).count();
    }

    /** The driver a function is bound to, from the sysfs tree's symlink; null when unbound. */
    private String driver(String bdf) throws Exception {
        Path link = tree().resolve("sys/bus/pci/devices/" + bdf + "/driver");
        return Files.isSymbolicLink(link) ? Files.readSymbolicLink(link).getFileName().toString() : null;
    }

    private Path cfg(String name, String... pci) throws Exception {
        StringBuilder b = new StringBuilder("name = \"" + name + "\"\ntype = \"hvm\"\nmemory = 64\nvcpus = 1\n");
        if (pci.length > 0) {
            b.append("pci = [ ");
            for (int i = 0; i < pci.length; i++) {
                b.append(i == 0 ? "" : ", ").append('"').append(pci[i]).append('"');
            }
            b.append(" ]\n");
        }
        Path f = tmp.resolve(name + ".cfg");
        Files.writeString(f, b.toString());
        return f;
    }

    private static JsonNode node(DaemonProcess d, String bdf) throws Exception {
        for (JsonNode n : JSON.readTree(d.ok("nodedev-list", "--json"))) {
            if (n.path("bdf").asText().equals(bdf)) {
                return n;
            }
        }
        throw new AssertionError(bdf + " not listed");
    }

    private static JsonNode domain(DaemonProcess d, String name) throws Exception {
        for (JsonNode n : JSON.readTree(d.ok("list", "--all", "--json"))) {
            if (n.path("name").asText().equals(name)) {
                return n;
            }
        }
        return null;
    }

    private static void assertFails(DaemonProcess.Cli r, int exit, String... inMessage) {
        assertEquals(exit, r.exit(), r.err());
        for (String s : inMessage) {
            assertTrue(r.err().contains(s), "'" + s + "' in: " + r.err());
        }
        assertFalse(r.err().contains("\tat "), "no stack trace");
    }

    private String lspciDriver(String bdf) throws Exception {
        Process p = new ProcessBuilder("lspci", "-k", "-s", bdf, "-A", "linux-sysfs", "-O",
                "sysfs.path=" + tree().resolve("sys/bus/pci")).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        for (String line : out.split("\n")) {
            if (line.trim().startsWith("Kernel driver in use:")) {
                return line.trim().substring("Kernel driver in use:".length()).trim();
            }
        }
        return null;
    }

    @Test
    void nodedevDetachReattachRoundTripMovesTheDriverLinkAndPciListNeedsNoDaemon() throws Exception {
        try (DaemonProcess d = daemon().start()) {
            assertEquals("mpt3sas", driver(SAS));
            JsonNode before = node(d, SAS);
            assertEquals("host", before.path("placement").asText());
            assertTrue(before.path("assignable").asBoolean(), before.toString());

            assertTrue(d.ok("nodedev-detach", "04:00.0", "--name", "hba").contains("assignable (driver pciback) as 'hba'"));
            assertEquals("pciback", driver(SAS));
            assertEquals("pciback", lspciDriver(SAS), "lspci reads the same tree the same way");
            assertEquals("mpt3sas", Files.readSymbolicLink(fixture.resolve("sys/bus/pci/devices/" + SAS + "/driver"))
                    .getFileName().toString(), "the fixture itself never changes");
            JsonNode pooled = node(d, SAS);
            assertEquals("assignable", pooled.path("placement").asText());
            assertEquals("hba", pooled.path("name").asText());
            assertEquals("mpt3sas", pooled.path("originalDriver").asText());
            assertEquals(JSON.readTree("[{\"bdf\":\"" + SAS + "\",\"name\":\"hba\",\"originalDriver\":\"mpt3sas\"}]"),
                    JSON.readTree(d.ok("pci", "assignable-list", "--json")));
            assertTrue(d.ok("nodedev-detach", SAS).contains("as 'hba'"), "detaching again is a no-op");

            // nodedev-reset performs the reset: the emulated kernel's reset log (in the daemon's state) is the oracle
            assertEquals(0, requestedResets(SAS));
            assertTrue(d.ok("nodedev-reset", SAS).startsWith("reset " + SAS + ": FLR (performed)"));
            assertEquals(1, requestedResets(SAS));
            JsonNode reset = JSON.readTree(d.ok("nodedev-reset", SAS, "--json"));
            assertEquals("FLR", reset.path("method").asText());
            assertTrue(reset.path("performed").asBoolean(), reset.toString());
            assertTrue(reset.path("reason").asText().contains("Function Level Reset"), reset.toString());
            assertEquals(2, requestedResets(SAS));
            // a device still on its dom0 driver is refused, and the kernel sees nothing
            assertFails(d.cli("nodedev-reset", AUDIO), 2, "still bound to the dom0 driver snd_hda_intel",
                    "detach it first: xenhost nodedev-detach " + AUDIO);
            assertEquals(0, requestedResets(AUDIO));
            assertEquals("snd_hda_intel", driver(AUDIO));

            assertTrue(d.ok("nodedev-reattach", "hba").contains("reattached to dom0 (driver mpt3sas)"));
            assertEquals("mpt3sas", driver(SAS));
            assertEquals("host", node(d, SAS).path("placement").asText());

            // bad input: exit 2 and the input named; a bridge is refused before anything moves
            assertFails(d.cli("nodedev-detach", "0000:zz:00.0"), 2, "invalid PCI address '0000:zz:00.0'");
            assertFails(d.cli("nodedev-detach", "0000:0a:00.0"), 2, "unknown device 0000:0a:00.0");
            assertFails(d.cli("nodedev-detach", "00:1c.0"), 2, "0000:00:1c.0 is a bridge");
            assertFails(d.cli("nodedev-reattach", "nosuch"), 2, "nosuch");
            assertEquals("pcieport", driver("0000:00:1c.0"));

            d.ok("pci", "assignable-add", AUDIO);
            assertEquals(0, d.terminate());
        }
        // pci list reads sysfs (the daemon's working copy) and the journal itself: no daemon runs now
        DaemonProcess.Cli list = new DaemonProcess(tmp.resolve("state"), tmp.resolve("run/nobody.sock"))
                .cli("pci", "list", "--json", "--sysfs-root", fixture.toString(), "--state-dir", tmp.resolve("state").toString());
        assertEquals(0, list.exit(), list.err());
        for (JsonNode n : JSON.readTree(list.out())) {
            if (n.path("address").asText().equals(AUDIO)) {
                assertEquals("pciback", n.path("driver").asText());
                assertTrue(n.path("assignable").asBoolean());
            }
        }
    }

    @Test
    void managedDevicesFollowTheDomainAndAFailedStartLeavesEveryDeviceWhereItWas() throws Exception {
        try (DaemonProcess d = daemon().start()) {
            // start: both taken from dom0 and given to the guest; destroy: both back on their dom0 drivers
            d.ok("define", cfg("g1", "04:00.0,managed=yes", "00:1b.0,managed=yes,permissive=1").toString());
            d.ok("create", "g1");
            assertEquals("pciback", driver(SAS));
            assertEquals("pciback", driver(AUDIO));
            assertEquals("g1", node(d, SAS).path("owner").asText());
            assertEquals("attached", node(d, AUDIO).path("placement").asText());
            JsonNode info = JSON.readTree(d.ok("dominfo", "g1", "--json"));
            assertEquals(2, info.path("devices").size(), info.toString());
            assertFails(d.cli("nodedev-reattach", SAS), 2, "attached to domain g1");
            long resetsBefore = requestedResets(SAS);
            assertFails(d.cli("nodedev-reset", SAS), 2, "in use by domain g1", "xenhost detach-device g1 " + SAS);
            assertEquals(resetsBefore, requestedResets(SAS), "a refused reset never reaches the kernel");
            d.ok("destroy", "g1");
            assertEquals("mpt3sas", driver(SAS));
            assertEquals("snd_hda_intel", driver(AUDIO));
            assertTrue(node(d, SAS).path("owner").isNull());
            // save stops the guest (devices back to dom0); restore hands them over again before it runs
            d.ok("create", "g1");
            Path save = tmp.resolve("g1.save");
            d.ok("save", "g1", save.toString());
            assertEquals("mpt3sas", driver(SAS));
            assertEquals("snd_hda_intel", driver(AUDIO));
            d.ok("restore", save.toString());
            assertEquals("pciback", driver(SAS));
            assertEquals("g1", node(d, AUDIO).path("owner").asText());
            d.ok("destroy", "g1");
            assertEquals("mpt3sas", driver(SAS));

            // a device another domain has: refused at the check, nothing moves, no domain is left behind
            d.ok("define", cfg("holder", "04:00.0,managed=yes").toString());
            d.ok("create", "holder");
            d.ok("define", cfg("g2", "00:1b.0,managed=yes", "04:00.0,managed=yes").toString());
            assertFails(d.cli("create", "g2"), 2, SAS, "holder");
            assertEquals("snd_hda_intel", driver(AUDIO));
            assertEquals("pciback", driver(SAS));
            assertEquals("holder", node(d, SAS).path("owner").asText());
            assertEquals("shut-off", domain(d, "g2").path("state").asText());
            d.ok("shutdown", "holder");
            assertEquals("mpt3sas", driver(SAS), "shutdown gives managed devices back too");

            // a failure in the middle of the hand-over: the second device's dom0 driver cannot unbind it (its
            // unbind attribute is gone from the emulated tree) after the first was already taken from dom0
            Files.delete(tree().resolve("sys/bus/pci/drivers/mpt3sas/unbind"));
            assertFails(d.cli("create", "g2"), 1, "Couldn't unbind " + SAS, "failed at step 3 (detach all from dom0)",
                    "every completed step was undone");
            assertEquals("snd_hda_intel", driver(AUDIO), "the first device was given back");
            assertEquals("mpt3sas", driver(SAS));
            assertEquals("host", node(d, AUDIO).path("placement").asText());
            assertTrue(node(d, AUDIO).path("owner").isNull());
            JsonNode g2 = domain(d, "g2");
            assertEquals("shut-off", g2.path("state").asText());
            assertTrue(g2.path("domid").isNull());
            long guests = 0;
            for (JsonNode n : JSON.readTree(d.ok("list", "--json"))) {
                guests += n.path("domid").asInt() != 0 ? 1 : 0;
            }
            assertEquals(0, guests, "the half-created domain was destroyed: " + d.ok("list"));
        }
    }

    @Test
    void attachAndDetachDeviceThroughTheSocketLiveAndInTheDefinition() throws Exception {
        try (DaemonProcess d = daemon().start()) {
            // a domain started without passthrough has no IOMMU context in Xen: refused before anything moves
            d.ok("define", cfg("plain").toString());
            d.ok("create", "plain");
            assertFails(d.cli("attach-device", "plain", "04:00.0,managed=yes"), 2, "passthrough = \"enabled\"");
            assertEquals("mpt3sas", driver(SAS), "the refused device stayed with its dom0 driver");
            d.ok("destroy", "plain");

            Path web = cfg("web");
            Files.writeString(web, Files.readString(web) + "passthrough = \"enabled\"\n");
            d.ok("define", web.toString());
            d.ok("create", "web");
            // live, managed: taken from dom0 now, given back at detach
            String attached = d.ok("attach-device", "web", "04:00.0,managed=yes");
            assertTrue(attached.contains("Device " + SAS + " attached to domain web"), attached);
            assertTrue(attached.contains("reset " + SAS + ": FLR"), attached);
            assertEquals("pciback", driver(SAS));
            assertEquals("web", node(d, SAS).path("owner").asText());
            assertFalse(d.ok("dumpconfig", "web").contains("pci"), "a live-only attach leaves the definition alone");

            // unmanaged: must be assignable first; then live and in the definition, with its options
            assertFails(d.cli("attach-device", "web", "00:1b.0"), 2, "make it assignable first");
            assertEquals("snd_hda_intel", driver(AUDIO));
            d.ok("nodedev-detach", AUDIO);
            JsonNode both = JSON.readTree(d.ok("attach-device", "web", "00:1b.0@5,permissive=1", "--persistent", "--json"));
            assertTrue(both.path("live").asBoolean() && both.path("config").asBoolean(), both.toString());
            assertTrue(d.ok("dumpconfig", "web").contains("pci = [ \"00:1b.0@5,permissive=1\" ]"), d.ok("dumpconfig", "web"));
            assertEquals("web", node(d, AUDIO).path("owner").asText());
            assertFails(d.cli("attach-device", "web", "00:1b.0", "--config"), 2, "listed twice");

            JsonNode back = JSON.readTree(d.ok("detach-device", "web", SAS, "--json"));
            assertEquals("mpt3sas", back.path("returnedTo").asText());
            assertEquals("mpt3sas", driver(SAS));
            d.ok("detach-device", "web", AUDIO, "--persistent");
            assertEquals("pciback", driver(AUDIO), "an unmanaged device stays assignable");
            assertEquals("assignable", node(d, AUDIO).path("placement").asText());
            assertFalse(d.ok("dumpconfig", "web").contains("pci"));
            assertFails(d.cli("detach-device", "web", AUDIO), 2, "is not attached to domain web");

            // --config on a shut-off domain: the next start hands the device over
            d.ok("define", cfg("later").toString());
            JsonNode cfgOnly = JSON.readTree(d.ok("attach-device", "later", "04:00.0,managed=yes", "--json"));
            assertFalse(cfgOnly.path("live").asBoolean());
            assertTrue(cfgOnly.path("config").asBoolean());
            assertEquals("mpt3sas", driver(SAS), "nothing moves until the domain starts");
            assertFails(d.cli("attach-device", "later", "04:00.0", "--live"), 1, "is not running");
            d.ok("create", "later");
            assertEquals("pciback", driver(SAS));
            assertEquals("later", node(d, SAS).path("owner").asText());
            d.ok("destroy", "later");
            assertEquals("mpt3sas", driver(SAS));

            assertFails(d.cli("attach-device", "nosuch", "04:00.0"), 2, "no domain 'nosuch'");
            assertFails(d.cli("attach-device", "web", "04:00.0,bogus=1"), 2, "bogus");
            assertFails(d.cli("attach-device", "Domain-0", "04:00.0"), 2, "Domain-0");
        }
    }

    /**
     * xenhostd dies (XENHOST_HOSTDEV_HALT_AT, i.e. as by kill -9) between two steps of a domain's device hand-over:
     * after the device left its dom0 driver (step 3) and before its reset (step 4). The restarted daemon settles
     * it: the device is back on its dom0 driver, owned by nobody, the half-started domain is gone from Xen and
     * shut off in xenhost, and a new start then succeeds.
     */
    @Test
    void aDaemonKilledMidHandOverIsSettledAtRestart() throws Exception {
        try (DaemonProcess d = daemon().env("XENHOST_HOSTDEV_HALT_AT", "managed-start:4").start()) {
            d.ok("define", cfg("g1", "04:00.0,managed=yes").toString());
            DaemonProcess.Cli r = d.cli("create", "g1");
            assertTrue(d.awaitExit(30), "the daemon halted mid hand-over");
            assertEquals(1, r.exit(), r.out());
            assertEquals("pciback", driver(SAS), "step 3 had moved the device when the daemon died");
            assertTrue(d.log().contains("halting before managed-start step 4"), d.log());
        }
        try (DaemonProcess again = daemon().start()) {
            assertEquals("mpt3sas", driver(SAS), "restart gave the device back to its dom0 driver\n" + again.log());
            JsonNode sas = node(again, SAS);
            assertTrue(sas.path("owner").isNull(), sas.toString());
            assertEquals("host", sas.path("placement").asText(), sas.toString());
            assertEquals("shut-off", domain(again, "g1").path("state").asText(), again.ok("list", "--all"));
            again.ok("create", "g1");
            assertEquals("pciback", driver(SAS));
            assertEquals("g1", node(again, SAS).path("owner").asText());
            again.ok("destroy", "g1");
            assertEquals("mpt3sas", driver(SAS));
        }
    }

    @Test
    void deviceOwnershipSurvivesKillNine() throws Exception {
        try (DaemonProcess d = daemon().start()) {
            d.ok("define", cfg("g1", "04:00.0,managed=yes").toString());
            d.ok("create", "g1");
            assertEquals("pciback", driver(SAS));
            d.kill9();
        }
        try (DaemonProcess again = daemon().start()) {
            assertEquals("running", domain(again, "g1").path("state").asText(), again.log());
            JsonNode sas = node(again, SAS);
            assertEquals("g1", sas.path("owner").asText());
            assertEquals("attached", sas.path("placement").asText());
            assertTrue(sas.path("managed").asBoolean());
            assertEquals("pciback", driver(SAS));
            assertEquals(1, JSON.readTree(again.ok("dominfo", "g1", "--json")).path("devices").size());
            // still managed after the restart: destroy gives it back to dom0
            again.ok("destroy", "g1");
            assertEquals("mpt3sas", driver(SAS));
            assertTrue(node(again, SAS).path("owner").isNull());
        }
    }

    @Test
    void hostInfoAndDomain0ThroughTheSocket() throws Exception {
        try (DaemonProcess d = daemon().start()) {
            JsonNode h = JSON.readTree(d.ok("host", "info", "--json"));
            assertEquals("4.17.0", h.path("xenVersion").asText());
            assertTrue(h.path("capabilities").toString().contains("pci-passthrough"), h.toString());
            assertTrue(h.path("cpuFlags").size() > 0);
            long free = h.path("freeMemoryMiB").asLong();
            d.ok("create", cfg("m").toString());
            assertEquals(free - 64, JSON.readTree(d.ok("host", "info", "--json")).path("freeMemoryMiB").asLong(),
                    "free memory is libxl's: the guest's 64 MiB are gone from it");
            assertTrue(d.ok("host", "info").contains("Xen:           4.17.0"));

            JsonNode dom0 = domain(d, "Domain-0");
            assertEquals(0, dom0.path("domid").asInt());
            assertEquals("running", dom0.path("state").asText());
            assertTrue(d.ok("list").lines().anyMatch(l -> l.startsWith("0 ") && l.contains("Domain-0") && l.contains("running")));
            assertFails(d.cli("destroy", "0"), 2, "Domain-0", "cannot be destroyed");
            assertFails(d.cli("pause", "Domain-0"), 2, "cannot be paused");
            assertFails(d.cli("adopt", "0"), 2, "Domain-0");
            assertEquals("running", domain(d, "Domain-0").path("state").asText());
            assertNull(domain(d, "Domain-0").path("job").textValue());
        }
    }
}
