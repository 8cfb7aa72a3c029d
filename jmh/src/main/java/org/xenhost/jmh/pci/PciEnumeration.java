package org.xenhost.jmh.pci;

import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.xenhost.pci.PciInventory;
import org.xenhost.pci.SysfsPciReader;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Enumerating a large sysfs tree ({@code fixtures/target/sysfs-large}, 4,500 functions, SR-IOV heavy) with
 * {@link SysfsPciReader#scan()}: {@code scan} as the CLI runs it (threads chosen from the CPU count),
 * {@code scanOneThread} on the benchmark thread alone, against a baseline measured in the same run: a
 * straightforward java.nio reader of the same facts (each attribute with {@code Files.readAllBytes}, links with
 * {@code readSymbolicLink}, the device directory found with {@code toRealPath}). Scores are per whole tree; divide by
 * the function count (printed in setup) for µs per function, or let {@code jmh/pci-vs-lspci.sh} do it. Each
 * benchmark also counts the functions it read and the process CPU time spent, so CPU per function can be read off
 * even when a shared machine gives the benchmark only part of a core.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(1)
public class PciEnumeration {
    /** Sysfs root; default: the large tree the fixtures module generates at build time. */
    @Param("fixtures/target/sysfs-large")
    public String root;

    private SysfsPciReader reader;
    private SysfsPciReader oneThread;
    private List<Path> links;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        Path r = Path.of(root);
        reader = new SysfsPciReader(r);
        oneThread = new SysfsPciReader(r, 1);
        try (Stream<Path> s = Files.list(r.resolve("sys/bus/pci/devices"))) {
            links = s.sorted().toList();
        }
        System.out.println("\n# " + links.size() + " functions under " + r.toAbsolutePath());
    }

    private static final com.sun.management.OperatingSystemMXBean OS =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

    /**
     * Functions read and process CPU time (every thread: the scan's helpers too) per iteration. On a loaded
     * machine wall time is mostly waiting for a CPU; {@code cpuNanos / functions} is what a function costs.
     */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Cost {
        public long functions;
        public long cpuNanos;
        private long started;

        @Setup(Level.Iteration)
        public void reset() {
            functions = 0;
            cpuNanos = 0;
        }

        void start() {
            started = OS.getProcessCpuTime();
        }

        void stop(int read) {
            cpuNanos += OS.getProcessCpuTime() - started;
            functions += read;
        }
    }

    @Benchmark
    public PciInventory scan(Cost cost) {
        cost.start();
        PciInventory inv = reader.scan();
        cost.stop(inv.devices().size());
        return inv;
    }

    @Benchmark
    public PciInventory scanOneThread(Cost cost) {
        cost.start();
        PciInventory inv = oneThread.scan();
        cost.stop(inv.devices().size());
        return inv;
    }

    private static final String[] ATTRIBUTES = {"vendor", "device", "class", "revision", "subsystem_vendor",
        "subsystem_device", "numa_node", "driver_override", "config"};

    @Benchmark
    public List<Object> baselineNio(Cost cost) {
        cost.start();
        List<Object> out = new ArrayList<>(links.size());
        try {
            for (Path link : links) {
                Path dir = link.toRealPath();
                List<Object> facts = new ArrayList<>(16);
                for (String a : ATTRIBUTES) {
                    facts.add(Files.readAllBytes(dir.resolve(a)));
                }
                for (String l : new String[] {"driver", "iommu_group", "physfn"}) {
                    Path p = dir.resolve(l);
                    if (Files.isSymbolicLink(p)) {
                        facts.add(Files.readSymbolicLink(p).getFileName().toString());
                    }
                }
                Path total = dir.resolve("sriov_totalvfs");
                if (Files.exists(total)) {
                    facts.add(Files.readAllBytes(total));
                    facts.add(Files.readAllBytes(dir.resolve("sriov_numvfs")));
                }
                out.add(facts);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        cost.stop(out.size());
        return out;
    }
}
