package org.xenhost.daemon.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.xenhost.pci.ConfigSpace;
import org.xenhost.pci.PciAddress;
import org.xenhost.pci.PciDumps;
import org.xenhost.pci.TinySysfs;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code xenhost pci list --json} against {@code lspci -vmm -n -D -k -A linux-sysfs -O sysfs.path=<root>/sys/bus/pci},
 * field by field, for this machine's real {@code /}, every fixture tree in fixtures/sysfs/, and trees built here
 * from pciutils dumps (a 53-function desktop with drivers, IOMMU groups and NUMA nodes; an SR-IOV host).
 */
class LspciDifferentialTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static Path built;

    @BeforeAll
    static void buildTrees() throws IOException {
        built = Files.createTempDirectory("xenhost-difftrees");
        buildDesktop(built.resolve("asus-from-dump"));
        buildSriovHost(built.resolve("sriov-from-dump"));
    }

    @AfterAll
    static void removeTrees() throws IOException {
        try (Stream<Path> s = Files.walk(built)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** tree-asus-p6t6 with a driver per class, IOMMU groups per slot (functions of one device share one), NUMA 0/1. */
    static void buildDesktop(Path root) {
        Map<PciAddress, PciDumps.Entry> dump = PciDumps.read(PciDumps.dumpDir().resolve("tree-asus-p6t6"));
        TinySysfs t = TinySysfs.fromDump(root, dump);
        Map<Integer, List<PciAddress>> groups = new LinkedHashMap<>();
        for (PciAddress a : dump.keySet()) {
            ConfigSpace cs = ConfigSpace.parse(dump.get(a).config());
            int cls = (dump.get(a).config()[0x0b] & 0xff) << 8 | (dump.get(a).config()[0x0a] & 0xff);
            String driver = switch (cls) {
                case 0x0604 -> "pcieport";
                case 0x0c03 -> "ehci-pci";
                case 0x0200 -> "e1000e";
                case 0x0106 -> "ahci";
                default -> null;
            };
            if (driver != null) {
                t.driver(a, driver);
            }
            if (cs.headerType() == ConfigSpace.HeaderType.ENDPOINT && a.bus() > 0) {
                t.numa(a, a.bus() % 2);
            }
            groups.computeIfAbsent(a.domain() << 13 | a.bus() << 5 | a.device(), k -> new ArrayList<>()).add(a);
        }
        int n = 0;
        for (List<PciAddress> g : groups.values()) {
            t.iommuGroup(n++, g.toArray(PciAddress[]::new));
        }
    }

    /** An 82576 PF (cap-pcie-2) behind a root port, 4 of its 8 VFs enabled, each VF in its own group. */
    static void buildSriovHost(Path root) {
        Map<PciAddress, PciDumps.Entry> asus = PciDumps.read(PciDumps.dumpDir().resolve("tree-asus-p6t6"));
        TinySysfs t = new TinySysfs(root);
        PciAddress host = PciAddress.parse("0000:00:00.0");
        PciAddress port = PciAddress.parse("0000:00:01.0");
        PciAddress pf = PciAddress.parse("0000:01:00.0");
        t.function(host, null, asus.get(host).config());
        t.function(port, null, asus.get(port).config());
        byte[] pfConfig = PciDumps.read(PciDumps.dumpDir().resolve("cap-pcie-2")).values().iterator().next().config();
        t.function(pf, port, pfConfig);
        t.driver(pf, "igb").driver(port, "pcieport").iommuGroup(0, host).iommuGroup(1, port).iommuGroup(2, pf);
        PciAddress[] vfs = new PciAddress[4];
        byte[] vf = java.util.Arrays.copyOf(pfConfig, 256);
        vf[2] = (byte) 0xca;
        vf[0x0e] = 0;
        for (int i = 0; i < vfs.length; i++) {
            int rid = 0x100 + 0x80 + 2 * i; // bus 1, VF offset 0x80 stride 2 from the PF's SR-IOV capability
            vfs[i] = new PciAddress(0, rid >> 8, rid >> 3 & 0x1f, rid & 7);
            t.function(vfs[i], port, vf);
            t.driver(vfs[i], "igbvf").iommuGroup(10 + i, vfs[i]);
        }
        t.sriov(pf, 8, vfs).numa(pf, 1).reset(pf, "flr bus");
    }

    static List<Path> roots() throws IOException {
        List<Path> roots = new ArrayList<>();
        roots.add(Path.of("/"));
        Path fixtures = PciDumps.repoRoot().resolve("fixtures/sysfs");
        if (Files.isDirectory(fixtures)) {
            try (Stream<Path> s = Files.list(fixtures)) {
                s.filter(p -> Files.isDirectory(p.resolve("sys/bus/pci/devices"))).sorted().forEach(roots::add);
            }
        }
        roots.add(Path.of("built:asus-from-dump"));
        roots.add(Path.of("built:sriov-from-dump"));
        return roots;
    }

    private static Path resolve(Path root) {
        String s = root.toString();
        return s.startsWith("built:") ? built.resolve(s.substring(6)) : root;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("roots")
    void pciListAgreesWithLspci(Path rootName) throws IOException {
        Path root = resolve(rootName);
        CliRun run = CliRun.run("pci", "list", "--json", "--sysfs-root", root.toString());
        assertEquals(0, run.exitCode(), run.err());
        Map<String, JsonNode> ours = new LinkedHashMap<>();
        for (JsonNode n : JSON.readTree(run.out())) {
            ours.put(n.get("address").asText(), n);
        }
        Map<String, Map<String, String>> theirs = lspci(root);
        assertFalse(theirs.isEmpty(), "lspci found no devices under " + root);
        assertEquals(theirs.keySet(), ours.keySet(), "functions under " + root);

        List<String> errors = new ArrayList<>();
        for (var e : theirs.entrySet()) {
            Map<String, String> l = e.getValue();
            JsonNode o = ours.get(e.getKey());
            String at = e.getKey() + " ";
            check(errors, at + "class", l.get("Class") + l.getOrDefault("ProgIf", "00"), o.get("class").asText());
            check(errors, at + "vendor", l.get("Vendor"), o.get("vendor").asText());
            check(errors, at + "device", l.get("Device"), o.get("device").asText());
            // lspci leaves out subsystem IDs that are 0 (and a revision of 0): then ours must be 0 too.
            check(errors, at + "subsystemVendor", l.getOrDefault("SVendor", "0000"), o.get("subsystemVendor").asText());
            check(errors, at + "subsystemDevice", l.getOrDefault("SDevice", "0000"), o.get("subsystemDevice").asText());
            check(errors, at + "revision", l.getOrDefault("Rev", "00"), o.get("revision").asText());
            check(errors, at + "driver", l.get("Driver"), o.get("driver").isNull() ? null : o.get("driver").asText());
            check(errors, at + "iommuGroup", l.get("IOMMUGroup"), o.get("iommuGroup").isNull() ? null : o.get("iommuGroup").asText());
            check(errors, at + "numaNode", l.get("NUMANode"), o.get("numaNode").isNull() ? null : o.get("numaNode").asText());
        }
        assertTrue(errors.isEmpty(), root + ":\n" + String.join("\n", errors));
    }

    @Test
    void builtTreesExerciseEveryComparedField() throws IOException {
        // The comparison above only bites where lspci prints a field: make sure our trees make it print them all.
        Map<String, Map<String, String>> l = lspci(built.resolve("asus-from-dump"));
        Set<String> keys = new java.util.HashSet<>();
        l.values().forEach(m -> keys.addAll(m.keySet()));
        assertTrue(keys.containsAll(List.of("Slot", "Class", "Vendor", "Device", "SVendor", "SDevice", "Rev", "ProgIf",
                "Driver", "IOMMUGroup", "NUMANode")), keys.toString());
        assertEquals(53, l.size());
    }

    private static void check(List<String> errors, String what, String lspci, String ours) {
        if (!Objects.equals(lspci, ours)) {
            errors.add(what + ": lspci " + lspci + ", xenhost " + ours);
        }
    }

    /** Runs lspci's sysfs back end on the root; returns Slot → field → value. */
    static Map<String, Map<String, String>> lspci(Path root) {
        String sysfs = root.toAbsolutePath().resolve("sys/bus/pci").toString();
        String out;
        try {
            Process p = new ProcessBuilder("lspci", "-vmm", "-n", "-D", "-k", "-A", "linux-sysfs", "-O", "sysfs.path=" + sysfs)
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, p.waitFor(), "lspci exit status");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run lspci (pciutils; ./run-tests installs it)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        Map<String, Map<String, String>> devices = new LinkedHashMap<>();
        for (String record : out.split("\n\n")) {
            Map<String, String> fields = new LinkedHashMap<>();
            for (String line : record.split("\n")) {
                int tab = line.indexOf(":\t");
                if (tab > 0) {
                    fields.put(line.substring(0, tab), line.substring(tab + 2).trim());
                }
            }
            if (fields.containsKey("Slot")) {
                devices.put(fields.get("Slot"), fields);
            }
        }
        return devices;
    }
}
