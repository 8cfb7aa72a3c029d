package org.xenhost.pci;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Host facts through OSHI with its /proc and /sys redirected to a fixture (an Intel Xeon dom0 with VT-x and 64 GiB).
 * OSHI fixes those paths once per JVM, so the probe runs in a child JVM.
 */
class HostFactsReaderTest {
    @TempDir
    Path tmp;

    @Test
    void readsTheFixtureHostThroughOshi() throws Exception {
        Path proc = tmp.resolve("proc");
        Path sys = tmp.resolve("sys");
        Files.createDirectories(proc);
        Files.createDirectories(sys.resolve("devices/system/cpu"));
        StringBuilder cpuinfo = new StringBuilder();
        for (int cpu = 0; cpu < 4; cpu++) {
            cpuinfo.append("processor\t: ").append(cpu).append('\n')
                    .append("vendor_id\t: GenuineIntel\n")
                    .append("cpu family\t: 6\nmodel\t\t: 85\n")
                    .append("model name\t: Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz\n")
                    .append("stepping\t: 4\nphysical id\t: 0\ncore id\t\t: ").append(cpu).append('\n')
                    .append("cpu cores\t: 4\n")
                    .append("flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep vmx ept vpid sse4_2 avx2\n\n");
        }
        Files.writeString(proc.resolve("cpuinfo"), cpuinfo.toString());
        Files.writeString(proc.resolve("meminfo"), "MemTotal:       65536000 kB\nMemFree:        1000000 kB\n"
                + "MemAvailable:   32768000 kB\nBuffers:          100 kB\nCached:           1000 kB\n"
                + "SwapTotal:             0 kB\nSwapFree:              0 kB\n");
        Files.writeString(proc.resolve("stat"), "cpu  1 0 1 100 0 0 0 0 0 0\n");

        Map<String, String> facts = probe(sys, proc);
        assertEquals(Long.toString(65536000L * 1024), facts.get("memoryTotalBytes"), facts.toString());
        assertEquals(Long.toString(32768000L * 1024), facts.get("memoryAvailableBytes"), facts.toString());
        assertEquals("GenuineIntel", facts.get("cpuVendor"));
        assertEquals("Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz", facts.get("cpuModel"));
        assertEquals("apic avx2 cx8 de ept fpu mce msr pae pse sep sse4_2 tsc vme vmx vpid",
                facts.get("cpuFlags"));
        assertEquals("true", facts.get("hardwareVirtualization"));
    }

    @Test
    void flagLinesBecomeOneSortedSet() {
        assertEquals(List.of("fpu", "svm", "vme"), HostFactsReader.flags(List.of("flags : fpu vme svm", "flags : fpu vme svm")));
        assertEquals(List.of("a", "b"), HostFactsReader.flags(List.of("a  b ", "")));
    }

    private static Map<String, String> probe(Path sys, Path proc) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                "-Doshi.util.sys.path=" + sys, "-Doshi.util.proc.path=" + proc, "-Doshi.os.linux.allowudev=false",
                HostFactsProbe.class.getName()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        Map<String, String> facts = new LinkedHashMap<>();
        for (String line : out.split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0 && !line.startsWith("SLF4J")) {
                facts.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        assertTrue(facts.containsKey("cpuModel"), out);
        return facts;
    }
}
