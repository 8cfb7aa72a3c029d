package org.xenhost.pci;

import oshi.SystemInfo;
import oshi.hardware.CentralProcessor;
import oshi.hardware.GlobalMemory;
import oshi.hardware.HardwareAbstractionLayer;
import oshi.software.os.OperatingSystem;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Reads {@link HostFacts} through OSHI. OSHI's {@code /sys} and {@code /proc} are fixed per JVM by the system
 * properties {@code oshi.util.sys.path} and {@code oshi.util.proc.path} (tests point them at a fixture in a separate
 * JVM); OSHI takes NUMA placement from {@code lscpu}, not from those paths.
 */
public final class HostFactsReader {
    private HostFactsReader() {
    }

    /** Reads the facts now (memory figures are a snapshot). */
    public static HostFacts read() {
        SystemInfo si = new SystemInfo();
        HardwareAbstractionLayer hw = si.getHardware();
        OperatingSystem os = si.getOperatingSystem();
        CentralProcessor cpu = hw.getProcessor();
        GlobalMemory mem = hw.getMemory();
        CentralProcessor.ProcessorIdentifier id = cpu.getProcessorIdentifier();

        Map<Integer, List<Integer>> nodes = new TreeMap<>();
        for (CentralProcessor.LogicalProcessor lp : cpu.getLogicalProcessors()) {
            nodes.computeIfAbsent(lp.getNumaNode(), n -> new ArrayList<>()).add(lp.getProcessorNumber());
        }
        List<HostFacts.NumaNode> numa = new ArrayList<>();
        nodes.forEach((n, cpus) -> numa.add(new HostFacts.NumaNode(n, cpus)));

        return new HostFacts(os.getNetworkParams().getHostName(), os.toString(),
                mem.getTotal(), mem.getAvailable(), id.getVendor(), id.getName(),
                cpu.getLogicalProcessorCount(), cpu.getPhysicalProcessorCount(),
                flags(cpu.getFeatureFlags()), numa);
    }

    /** OSHI returns /proc/cpuinfo "flags : a b c" lines (one per CPU); we want the set of flag words. */
    static List<String> flags(List<String> lines) {
        TreeSet<String> out = new TreeSet<>();
        for (String line : lines) {
            String s = line;
            int colon = s.indexOf(':');
            if (colon >= 0) {
                s = s.substring(colon + 1);
            }
            for (String f : s.trim().split("\\s+")) {
                if (!f.isEmpty()) {
                    out.add(f);
                }
            }
        }
        return new ArrayList<>(out);
    }
}
