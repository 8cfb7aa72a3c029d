package org.xenhost.jmh.hostdev;

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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.xenhost.emulator.EmulatedLibxl;
import org.xenhost.emulator.HostSettings;
import org.xenhost.fixtures.Fixtures;
import org.xenhost.hostdev.HostCriticalDevices;
import org.xenhost.hostdev.HostdevManager;
import org.xenhost.hostdev.StepHook;
import org.xenhost.libxl.Libxl;
import org.xenhost.pci.PciAddress;
import org.xenhost.pci.PciDevice;
import org.xenhost.pci.SysfsPciReader;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The host-device manager's parallelism on the emulated host: {@code devices} SR-IOV VFs each made assignable and
 * given back to igbvf ({@code assignable-add} then {@code assignable-remove --rebind}), where every function reset
 * (pciback resets on bind and on unbind) takes {@code resetMillis}.
 * <ul>
 *   <li>{@link #oneAtATime}: all devices, sequentially; each device's round trip is timed alone and the slowest
 *       one of the iteration is printed ({@code # slowest single device}): that is the baseline;
 *   <li>{@link #oneDevice}: the first device alone (a second look at the baseline);
 *   <li>{@link #concurrent}: all devices, one thread each.
 * </ul>
 * Target: concurrent ≤ 1.2 × the slowest single device (no serialisation). Each invocation leaves the host as it
 * found it, so single-shot iterations can follow each other. {@code hostdev-report.py} turns the JMH JSON and the
 * printed lines into the ratio.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 3)
@Fork(1)
public class HostdevConcurrency {
    @Param("100")
    public int resetMillis;

    @Param("64")
    public int devices;

    /**
     * Where the emulated host lives. tmpfs by default: the emulator and the journal fsync every change, and on a
     * shared disk those waits would swamp the resets this benchmark is about.
     */
    @Param("/dev/shm")
    public String workDir;

    /**
     * {@code kernel}: the emulated kernel spends each reset holding only that device's lock, as Linux does.
     * {@code outsideLock}: control; the emulator resets instantly and {@link ResetOutsideLockLibxl} spends the same
     * time per reset after each libxl call, outside every emulator lock.
     */
    @Param({"kernel"})
    public String resetIn;

    /**
     * Rounds of every device's round trip, one at a time and then all at once, with 1 ms resets, before the first
     * measured shot, so that the JIT has compiled the whole path: after JMH's three single-shot warm-ups C2 was
     * still compiling and took a third of the CPU of the measured concurrent runs on 2 cores. The resets are short
     * but not zero, so the compiled code has seen the sleeping branch too. The baseline and the concurrent run
     * (separate forks) get the same.
     */
    @Param("20")
    public int jitRounds;

    private Path dir;
    private EmulatedLibxl libxl;
    private HostdevManager manager;
    private List<PciAddress> vfs;
    private ExecutorService pool;
    private long slowestNanos;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        dir = Files.createTempDirectory(Path.of(workDir), "hostdev-bench");
        Path tree = dir.resolve("sysfs");
        // 19 functions per root port (port, 2 PFs, 16 VFs): enough ports for the VFs asked for
        Fixtures.largeTree(tree, 1 + 19 * ((devices + 15) / 16));
        boolean inKernel = resetIn.equals("kernel");
        libxl = EmulatedLibxl.open(dir.resolve("xen"), tree,
                HostSettings.DEFAULT.withResetLatency(Duration.ofMillis(inKernel ? resetMillis : 0)));
        Libxl used = inKernel ? libxl : new ResetOutsideLockLibxl(libxl, resetMillis);
        manager = HostdevManager.start(used, tree, dir.resolve("state"),
                new HostCriticalDevices.Sources(tree, tree.resolve("proc/mounts"), null, null), StepHook.NONE);
        vfs = new ArrayList<>();
        for (PciDevice d : new SysfsPciReader(tree).scan().devices()) {
            if ("igbvf".equals(d.driver()) && vfs.size() < devices) {
                vfs.add(d.address());
            }
        }
        if (vfs.size() < devices) {
            throw new IllegalStateException("the generated tree has only " + vfs.size() + " VFs, " + devices + " asked");
        }
        pool = Executors.newFixedThreadPool(devices);
        if (inKernel && jitRounds > 0) {
            libxl.kernel().setDefaultResetLatency(Duration.ofMillis(1));
            for (int i = 0; i < jitRounds; i++) {
                for (PciAddress a : vfs) {
                    roundTrip(a);
                }
                runAllAtOnce();
            }
            libxl.kernel().setDefaultResetLatency(Duration.ofMillis(resetMillis));
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        pool.shutdownNow();
        manager.close();
        libxl.close();
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }

    private void roundTrip(PciAddress a) throws Exception {
        manager.assignableAdd(a, null, false);
        manager.assignableRemove(a.toString(), true);
    }

    @Benchmark
    public void oneDevice() throws Exception {
        roundTrip(vfs.get(0));
    }

    @Setup(Level.Iteration)
    public void clearSlowest() {
        slowestNanos = 0;
        singles.clear();
    }

    @TearDown(Level.Iteration)
    public void printSlowest() {
        if (slowestNanos > 0) {
            System.out.printf("%n# slowest single device: %.1f ms (resetMillis=%d, devices=%d)%n",
                    slowestNanos / 1e6, resetMillis, devices);
            // the slowest of 64 includes whatever hiccup hit one of them; the median is the typical device
            List<Long> sorted = new ArrayList<>(singles);
            sorted.sort(null);
            System.out.printf("# median single device: %.1f ms%n", sorted.get(sorted.size() / 2) / 1e6);
        }
    }

    private final List<Long> singles = new ArrayList<>();

    @Benchmark
    public void oneAtATime() throws Exception {
        for (PciAddress a : vfs) {
            long t0 = System.nanoTime();
            roundTrip(a);
            long t = System.nanoTime() - t0;
            singles.add(t);
            slowestNanos = Math.max(slowestNanos, t);
        }
    }

    /**
     * Control for this machine, not for xenhost: the same threads doing nothing but the two resets' sleeps. How far
     * this lands above 2 × resetMillis is what scheduling alone costs here (on a loaded machine, a lot).
     */
    @Benchmark
    public void sleepsOnly() throws Exception {
        List<Future<?>> all = new ArrayList<>();
        for (int i = 0; i < vfs.size(); i++) {
            all.add(pool.submit(() -> {
                Thread.sleep(resetMillis);
                Thread.sleep(resetMillis);
                return null;
            }));
        }
        for (Future<?> f : all) {
            f.get();
        }
    }

    @Benchmark
    public void concurrent() throws Exception {
        long cpu0 = processCpuNanos();
        long t0 = System.nanoTime();
        runAllAtOnce();
        long wall = System.nanoTime() - t0;
        // CPU next to wall time: with 2 cores, CPU/wall near 2 means the run was CPU-bound, not lock-bound
        System.out.printf("%n# concurrent: %.0f ms wall, %.0f ms CPU (whole JVM)%n", wall / 1e6,
                (processCpuNanos() - cpu0) / 1e6);
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean)
                java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    private void runAllAtOnce() throws Exception {
        List<Future<?>> all = new ArrayList<>();
        for (PciAddress a : vfs) {
            all.add(pool.submit(() -> {
                roundTrip(a);
                return null;
            }));
        }
        for (Future<?> f : all) {
            f.get();
        }
    }
}
