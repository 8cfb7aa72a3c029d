package org.xenhost.daemon.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The pci and host commands as operators and scripts use them: output shape, exit codes, error messages. */
class PciCliTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    Path sriovHost() {
        Path root = tmp.resolve("host");
        LspciDifferentialTest.buildSriovHost(root);
        return root;
    }

    @Test
    void listJsonHasTheContractKeysAndFormats() throws Exception {
        CliRun r = CliRun.run("pci", "list", "--json", "--sysfs-root", sriovHost().toString());
        assertEquals(0, r.exitCode(), r.err());
        JsonNode list = JSON.readTree(r.out());
        assertEquals(7, list.size());
        List<String> keys = List.of("address", "vendor", "device", "class", "subsystemVendor", "subsystemDevice",
                "revision", "driver", "iommuGroup", "numaNode", "physfn", "virtfns", "sriovTotalVfs", "flr", "acs",
                "headerType", "warnings");
        for (JsonNode n : list) {
            for (String k : keys) {
                assertTrue(n.has(k), "missing " + k + " in " + n);
            }
            assertTrue(n.get("address").asText().matches("[0-9a-f]{4}:[0-9a-f]{2}:[0-1][0-9a-f]\\.[0-7]"));
            assertTrue(n.get("vendor").asText().matches("[0-9a-f]{4}"));
            assertTrue(n.get("device").asText().matches("[0-9a-f]{4}"));
            assertTrue(n.get("class").asText().matches("[0-9a-f]{6}"));
            assertTrue(n.get("revision").asText().matches("[0-9a-f]{2}"));
            assertTrue(n.get("virtfns").isArray());
            assertTrue(n.get("flr").isBoolean() && n.get("acs").isBoolean());
        }
        JsonNode pf = find(list, "0000:01:00.0");
        assertEquals("8086", pf.get("vendor").asText());
        assertEquals("10c9", pf.get("device").asText());
        assertEquals("020000", pf.get("class").asText());
        assertEquals("igb", pf.get("driver").asText());
        assertEquals(2, pf.get("iommuGroup").asInt());
        assertEquals(1, pf.get("numaNode").asInt());
        assertEquals(8, pf.get("sriovTotalVfs").asInt());
        assertEquals("[\"0000:01:10.0\",\"0000:01:10.2\",\"0000:01:10.4\",\"0000:01:10.6\"]", pf.get("virtfns").toString());
        assertTrue(pf.get("physfn").isNull());
        assertTrue(pf.get("flr").asBoolean());
        assertEquals("endpoint", pf.get("headerType").asText());
        assertEquals("PF", pf.get("sriovRole").asText());
        JsonNode vf = find(list, "0000:01:10.2");
        assertEquals("0000:01:00.0", vf.get("physfn").asText());
        assertTrue(vf.get("sriovTotalVfs").isNull());
        JsonNode port = find(list, "0000:00:01.0");
        assertEquals("bridge", port.get("headerType").asText());
        assertTrue(port.get("numaNode").isNull());
    }

    @Test
    void showJsonHasCapabilitiesAndBridgeChain() throws Exception {
        CliRun r = CliRun.run("pci", "show", "01:00.0", "--json", "--sysfs-root", sriovHost().toString());
        assertEquals(0, r.exitCode(), r.err());
        JsonNode d = JSON.readTree(r.out());
        assertEquals("[\"0000:00:01.0\"]", d.get("parentBridges").toString());
        List<String> caps = new ArrayList<>();
        d.get("config").get("capabilities").forEach(c -> caps.add(c.get("offset").asText() + " " + c.get("name").asText()));
        assertEquals(List.of("40 Power Management", "50 MSI", "70 MSI-X", "a0 PCI Express", "100 Advanced Error Reporting",
                "140 Device Serial Number", "150 Alternative Routing-ID Interpretation", "160 Single Root I/O Virtualization"), caps);
        assertEquals("10ca", d.get("config").get("srIov").get("vfDeviceId").asText());
        assertEquals("Endpoint", d.get("config").get("pcie").get("portType").asText());
    }

    @Test
    void showTextNamesCapabilities() {
        CliRun r = CliRun.run("pci", "show", "0000:01:00.0", "--sysfs-root", sriovHost().toString());
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().contains("[160] Single Root I/O Virtualization v1"), r.out());
        assertTrue(r.out().contains("PF, 4 of 8 VFs enabled"), r.out());
    }

    @Test
    void tableGoesToStdoutAndWarningsToStderr() throws Exception {
        Path root = sriovHost();
        Files.writeString(root.resolve("sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/numa_node"), "banana\n");
        CliRun r = CliRun.run("pci", "list", "--sysfs-root", root.toString());
        assertEquals(0, r.exitCode(), r.err());
        String[] lines = r.out().split("\n");
        assertEquals(8, lines.length, r.out());
        assertTrue(lines[0].startsWith("ADDRESS"));
        assertTrue(r.out().contains("Ethernet controller"));
        assertTrue(r.out().contains("PF 4/8"));
        assertTrue(r.out().contains("VF of 0000:01:00.0"));
        assertFalse(r.out().contains("banana"));
        assertTrue(r.err().contains("0000:01:00.0: numa_node: unexpected content 'banana'"), r.err());
    }

    @ParameterizedTest
    @ValueSource(strings = {"0000:03:00.8", "../../etc", "03:00", "0000:03:00.0x", "zz:00.0"})
    void badAddressIsExit2NamingTheInput(String bad) {
        CliRun r = CliRun.run("pci", "show", bad, "--sysfs-root", sriovHost().toString());
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("'" + bad + "'"), r.err());
        assertTrue(r.err().contains("DDDD:BB:DD.F"), r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace");
        assertEquals("", r.out());
    }

    @Test
    void unknownDeviceIsExit2() {
        CliRun r = CliRun.run("pci", "show", "0000:42:00.0", "--sysfs-root", sriovHost().toString());
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("no PCI function 0000:42:00.0"), r.err());
        assertTrue(r.err().contains("xenhost pci list"), r.err());
    }

    @Test
    void rootThatIsNotSysfsIsExit2SayingWhatWasExpected() {
        for (String cmd : new String[] {"list", "show"}) {
            List<String> args = new ArrayList<>(List.of("pci", cmd, "--sysfs-root", tmp.toString()));
            if (cmd.equals("show")) {
                args.add("00:00.0");
            }
            CliRun r = CliRun.run(args.toArray(String[]::new));
            assertEquals(2, r.exitCode());
            assertTrue(r.err().contains("is not a sysfs root: expected a directory containing sys/bus/pci/devices"), r.err());
            assertTrue(r.err().contains(tmp.toString()), r.err());
        }
    }

    @Test
    void missingSubcommandOrOptionValueIsExit2() {
        assertEquals(2, CliRun.run("pci").exitCode());
        assertEquals(2, CliRun.run("pci", "list", "--sysfs-root").exitCode());
        assertEquals(2, CliRun.run("pci", "show").exitCode());
        assertEquals(2, CliRun.run("pci", "list", "--bogus").exitCode());
        assertEquals(2, CliRun.run("host").exitCode());
    }

    private static JsonNode find(JsonNode list, String address) {
        for (JsonNode n : list) {
            if (n.get("address").asText().equals(address)) {
                return n;
            }
        }
        throw new AssertionError(address + " not listed");
    }
}
