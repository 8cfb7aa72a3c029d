package org.xenhost.daemon.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenhost.daemon.LocalHost;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The pool and hotplug commands in-process on the emulated host over a fixture tree: output, exit codes, errors. */
class HostdevCliTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private final Path fixture = Path.of(System.getProperty("xenhost.root")).resolve("fixtures/sysfs/asus-p6t6");

    private CliRun run(String... args) {
        String[] all = java.util.Arrays.copyOf(args, args.length + 4);
        all[args.length] = "--sysfs-root";
        all[args.length + 1] = fixture.toString();
        all[args.length + 2] = "--state-dir";
        all[args.length + 3] = tmp.resolve("state").toString();
        return CliRun.run(all);
    }

    private static JsonNode find(JsonNode list, String address) {
        for (JsonNode n : list) {
            if (n.get("address").asText().equals(address)) {
                return n;
            }
        }
        throw new AssertionError(address + " not listed");
    }

    private String lspciDriver(String bdf) throws Exception {
        Path root = LocalHost.effectiveRoot(fixture, tmp.resolve("state"));
        Process p = new ProcessBuilder("lspci", "-k", "-s", bdf, "-A", "linux-sysfs", "-O",
                "sysfs.path=" + root.resolve("sys/bus/pci")).redirectError(ProcessBuilder.Redirect.DISCARD).start();
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
    void poolCommandsMoveTheDeviceAndPciListShowsVerdictsAndOwners() throws Exception {
        CliRun add = run("pci", "assignable-add", "04:00.0", "--name", "hba");
        assertEquals(0, add.exitCode(), add.err());
        assertTrue(add.out().contains("0000:04:00.0 is assignable as 'hba' (dom0 driver mpt3sas is remembered"),
                add.out());
        assertEquals("pciback", lspciDriver("0000:04:00.0"));
        assertEquals("mpt3sas", Files.readSymbolicLink(fixture.resolve("sys/bus/pci/devices/0000:04:00.0/driver"))
                .getFileName().toString(), "the fixture itself is never changed");

        CliRun pool = run("pci", "assignable-list", "--json");
        assertEquals(0, pool.exitCode(), pool.err());
        assertEquals(JSON.readTree("[{\"bdf\":\"0000:04:00.0\",\"name\":\"hba\",\"originalDriver\":\"mpt3sas\"}]"),
                JSON.readTree(pool.out()));
        CliRun text = run("pci", "assignable-list");
        assertEquals("0000:04:00.0 hba\n", text.out());

        CliRun list = run("pci", "list", "--json");
        assertEquals(0, list.exitCode(), list.err());
        JsonNode all = JSON.readTree(list.out());
        JsonNode sas = find(all, "0000:04:00.0");
        assertEquals("pciback", sas.get("driver").asText());
        assertTrue(sas.get("assignable").asBoolean());
        assertTrue(sas.get("assignableReason").isNull());
        assertTrue(sas.get("owner").isNull());
        JsonNode bridge = find(all, "0000:00:1c.0");
        assertTrue(!bridge.get("assignable").asBoolean());
        assertTrue(bridge.get("assignableReason").asText().contains("not an endpoint"), bridge.toString());
        JsonNode nic = find(all, "0000:07:00.0");
        assertTrue(nic.get("assignableReason").asText().contains("shares IOMMU group 8 with 0000:08:00.0"),
                nic.toString());
        CliRun table = run("pci", "list");
        assertTrue(table.out().lines().findFirst().orElseThrow().endsWith("ASSIGNABLE"), table.out());

        CliRun remove = run("pci", "assignable-remove", "hba", "--rebind");
        assertEquals(0, remove.exitCode(), remove.err());
        assertTrue(remove.out().contains("0000:04:00.0 is back with dom0 (driver mpt3sas)"), remove.out());
        assertEquals("mpt3sas", lspciDriver("0000:04:00.0"));
    }

    @Test
    void attachAndDetachADeviceOfARunningDomain() throws Exception {
        assertEquals(0, run("pci", "assignable-add", "0000:04:00.0").exitCode());
        try (LocalHost h = LocalHost.open(fixture, tmp.resolve("state"))) {
            h.libxl().createDomain("{\"name\":\"guest1\",\"memory\":16,\"type\":\"hvm\"}", false);
        }
        CliRun attach = run("attach-device", "guest1", "04:00.0@3,permissive=1,rdm_policy=relaxed");
        assertEquals(0, attach.exitCode(), attach.err());
        assertTrue(attach.out().contains("attached [0000:04:00.0] to domain guest1"), attach.out());
        assertTrue(attach.out().contains("reset 0000:04:00.0: FLR"), attach.out());
        JsonNode sas = find(JSON.readTree(run("pci", "list", "--json").out()), "0000:04:00.0");
        assertEquals("guest1", sas.get("owner").asText());
        assertTrue(!sas.get("assignable").asBoolean());
        assertEquals("[]", JSON.readTree(run("pci", "assignable-list", "--json").out()).toString());

        CliRun detach = run("detach-device", "guest1", "0000:04:00.0");
        assertEquals(0, detach.exitCode(), detach.err());
        assertTrue(detach.out().contains("detached 0000:04:00.0 from domain guest1"), detach.out());
        assertEquals(1, JSON.readTree(run("pci", "assignable-list", "--json").out()).size());
    }

    @Test
    void badInputExitsTwoAndNamesTheInput() {
        CliRun bdf = run("pci", "assignable-add", "0000:zz:00.0");
        assertEquals(2, bdf.exitCode());
        assertTrue(bdf.err().contains("invalid PCI address '0000:zz:00.0'"), bdf.err());
        CliRun unknown = run("pci", "assignable-add", "0000:0a:00.0");
        assertEquals(2, unknown.exitCode());
        assertTrue(unknown.err().contains("unknown device 0000:0a:00.0"), unknown.err());
        CliRun domain = run("attach-device", "nosuch", "04:00.0,seize=1");
        assertEquals(2, domain.exitCode());
        assertTrue(domain.err().contains("unknown domain 'nosuch'"), domain.err());
        CliRun conflict = run("attach-device", "nosuch", "06:00.*,seize=1");
        assertEquals(2, conflict.exitCode());
        CliRun spec = run("attach-device", "nosuch", "04:00.0,bogus=1");
        assertEquals(2, spec.exitCode());
        assertTrue(spec.err().contains("bogus"), spec.err());
        CliRun bridge = run("pci", "assignable-add", "00:1c.0");
        assertEquals(2, bridge.exitCode());
        assertTrue(bridge.err().contains("0000:00:1c.0 is a bridge"), bridge.err());
        assertTrue(!bridge.err().contains("\tat "), "no stack trace");
    }

    @Test
    void conflictingOptionsAreNamed() throws Exception {
        try (LocalHost h = LocalHost.open(fixture, tmp.resolve("state"))) {
            h.libxl().createDomain("{\"name\":\"guest1\",\"memory\":16,\"type\":\"hvm\"}", false);
        }
        CliRun conflict = run("attach-device", "guest1", "06:00.*,seize=1");
        assertEquals(2, conflict.exitCode());
        assertTrue(conflict.err().contains("conflicting options") && conflict.err().contains("vslot"), conflict.err());
    }

    @Test
    void withoutPcibackTheOperatorIsToldToLoadIt() throws Exception {
        Path copy = tmp.resolve("no-pciback");
        try (Stream<Path> walk = Files.walk(fixture)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                Path dest = copy.resolve(fixture.relativize(p).toString());
                if (Files.isSymbolicLink(p)) {
                    Files.createSymbolicLink(dest, Files.readSymbolicLink(p));
                } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    Files.createDirectories(dest);
                } else {
                    Files.copy(p, dest, StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
        try (Stream<Path> s = Files.list(copy.resolve("sys/bus/pci/drivers/pciback"))) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Files.delete(p);
            }
        }
        Files.delete(copy.resolve("sys/bus/pci/drivers/pciback"));
        CliRun r = CliRun.run("pci", "assignable-add", "04:00.0", "--sysfs-root", copy.toString(),
                "--state-dir", tmp.resolve("state").toString());
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("modprobe xen-pciback"), r.err());
    }
}
