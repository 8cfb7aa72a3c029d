package org.xenhost.jmh;

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
import org.xenhost.emulator.domain.EmulatedDomain;
import org.xenhost.emulator.memory.GuestMemory;
import org.xenhost.libxl.DomainInfo;
import org.xenhost.migration.MigrationCookie;
import org.xenhost.migration.MigrationHost;
import org.xenhost.migration.MigrationJournal;
import org.xenhost.migration.MigrationOptions;
import org.xenhost.migration.MigrationService;
import org.xenhost.migration.MigrationStats;
import org.xenhost.migration.OutgoingGuest;
import org.xenhost.migration.SourceSession;
import org.xenhost.transport.PeerAcceptor;
import org.xenhost.transport.PeerAllowlist;
import org.xenhost.transport.Transport;
import org.xenhost.transport.TransportConfig;
import org.xenhost.transport.pki.CertificateAuthority;
import org.xenhost.transport.pki.HostCredentials;
import org.xenhost.transport.pki.SubjectAltName;
import org.xenhost.transport.pki.Validity;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Map;
import java.util.TreeMap;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * One live migration of a 1 GiB guest per operation, between two migration services in this JVM (each with its
 * own emulated hypervisor and TLS transport, as two daemons have) over loopback. {@code content=idle}: every page
 * populated with one pattern and nothing dirtied while it moves; {@code random}: every page random bytes. The score
 * is seconds per migration; each operation also prints its stream size, GB/s and downtime ("# migration ...").
 * Compare with {@code TransportThroughput.tlsStream} (MB/s of the bare transport) in the same invocation; both count
 * stream bytes in decimal GB. The migration's time is the whole migration (connection, TLS handshake, prepare,
 * stream, commit handshake), so it is the stricter of the two; each line also gives the CPU time the JVM spent per
 * GB (both daemons, like tlsStream's "CPU s per GB"), which load from other processes does not change, and the
 * threads it went to, and the CPU per GB of the stream alone (first to last stream byte, as tlsStream is measured).
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
// both daemons in one heap of 256 MiB: a migration that completes here kept each daemon's heap under 256 MiB
@Fork(value = 1, jvmArgsAppend = {"-Xms256m", "-Xmx256m"})
@Warmup(iterations = 1)
@Measurement(iterations = 3)
public class MigrationThroughput {
    static final long GUEST_MIB = 1024;

    /** Two hosts; a fresh 1 GiB guest on host a before each migration. */
    @State(Scope.Benchmark)
    public static class Hosts {
        @Param({"idle", "random"})
        public String content;
        /** Guest dirtying rate while it moves, MiB/s (the downtime table varies it on the idle guest). */
        @Param({"0"})
        public int dirtyMiBps;
        /**
         * Where the two emulated hosts keep their state, guest memory included (mmapped files). tmpfs by default:
         * a real guest's memory is RAM, and on the shared disk the kernel's writeback of 2 GiB of mmapped guest
         * pages per operation, not the data path, set the pace ({@code -p workDir=/tmp} shows it).
         */
        @Param({"/dev/shm"})
        public String workDir;

        Path dir;
        EmulatedLibxl xa;
        EmulatedLibxl xb;
        Transport ta;
        Transport tb;
        PeerAcceptor acceptor;
        MigrationService a;
        MigrationService b;
        OutgoingGuest guest;

        @Setup(Level.Trial)
        public void setUp() throws Exception {
            dir = Files.createTempDirectory(Path.of(workDir), "xenhost-jmh-migration");
            CertificateAuthority ca = CertificateAuthority.init(dir.resolve("pki"), "bench-ca", Validity.days(2));
            HostCredentials ca1 = ca.issue("bench-a", List.of(SubjectAltName.parse("127.0.0.1")), Validity.days(2));
            HostCredentials cb = ca.issue("bench-b", List.of(SubjectAltName.parse("127.0.0.1")), Validity.days(2));
            PeerAllowlist allow = PeerAllowlist.of(List.of("CN=bench-*"));
            xa = EmulatedLibxl.open(dir.resolve("a"), null, HostSettings.DEFAULT);
            xb = EmulatedLibxl.open(dir.resolve("b"), null, HostSettings.DEFAULT);
            ta = Transport.start(TransportConfig.builder(ca1, allow).streamWindow(Integer.getInteger("xenhost.jmh.streamWindowMiB", 4) << 20).build());
            tb = Transport.start(TransportConfig.builder(cb, allow).streamWindow(Integer.getInteger("xenhost.jmh.streamWindowMiB", 4) << 20).build());
            acceptor = tb.listen(new InetSocketAddress("127.0.0.1", 0));
            a = new MigrationService(xa, ta, new MigrationJournal(dir.resolve("a")), new Host(xa), null);
            b = new MigrationService(xb, tb, new MigrationJournal(dir.resolve("b")), new Host(xb), null);
            b.serve(acceptor);
            System.out.println("# " + ta.description());
        }

        @Setup(Level.Invocation)
        public void guest() throws Exception {
            for (DomainInfo d : xb.listDomains()) {
                if (d.domid() != 0) {
                    xb.destroy(d.domid());
                }
            }
            String uuid = UUID.randomUUID().toString();
            String json = "{\"c_info\":{\"name\":\"bench\",\"uuid\":\"" + uuid + "\",\"type\":\"pvh\"},\"b_info\":{\"max_memkb\":"
                    + (GUEST_MIB << 10) + ",\"max_vcpus\":2},\"emulated_dirty_rate\":" + ((long) dirtyMiBps << 20) + "}";
            int domid = xa.createDomain(json, false);
            EmulatedDomain d = xa.hypervisor().domain(domid).orElseThrow();
            GuestMemory m = d.memory();
            SplittableRandom rnd = new SplittableRandom(42);
            boolean random = content.equals("random");
            m.lock().lock();
            try (GuestMemory.Pin pin = m.pin()) {
                for (long pfn = 0; pfn < m.pages(); pfn++) {
                    m.writePage(pfn, (segment, index) -> {
                        for (int i = 0; i < GuestMemory.PAGE_SIZE; i += 8) {
                            segment.putLong(index + i, random ? rnd.nextLong() : 0x5a5a5a5a5a5a5a5aL);
                        }
                    });
                }
            } finally {
                m.lock().unlock();
            }
            guest = new OutgoingGuest(domid, "bench", uuid, xa.domainConfigJson(domid), GUEST_MIB, 2, List.of());
        }

        /** After each migration, outside the timed operation: the heap both daemons still hold (live set after a GC). */
        @TearDown(Level.Invocation)
        public void heapAfter() {
            System.gc();
            MemoryUsage heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
            long peak = 0;
            for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
                if (pool.getType() == MemoryType.HEAP) {
                    peak += pool.getPeakUsage().getUsed();
                    pool.resetPeakUsage();
                }
            }
            System.out.printf("# heap (both hosts, max %d MiB): live %d MiB after GC, peak %d MiB incl. garbage; "
                            + "Netty direct %d MiB%n", heap.getMax() >> 20, heap.getUsed() >> 20, peak >> 20,
                    io.netty.util.internal.PlatformDependent.usedDirectMemory() >> 20);
        }

        @TearDown(Level.Trial)
        public void tearDown() throws IOException {
            a.close();
            b.close();
            acceptor.close();
            ta.close();
            tb.close();
            xa.close();
            xb.close();
            // the hosts' state is guest memory on tmpfs: left behind, every trial would keep 1-2 GiB of RAM
            try (var tree = Files.walk(dir)) {
                for (Path p : (Iterable<Path>) tree.sorted(java.util.Comparator.reverseOrder())::iterator) {
                    Files.delete(p);
                }
            }
        }
    }

    @Benchmark
    public MigrationStats migrate(Hosts h) {
        Map<String, Long> threadsBefore = threadCpu();
        long cpu0 = processCpuNanos();
        long t0 = System.nanoTime();
        SourceSession session = h.a.outgoing(h.guest, "127.0.0.1:" + h.acceptor.address().getPort(), MigrationOptions.defaults());
        StreamClock clock = new StreamClock(session);
        MigrationStats s;
        try {
            session.perform();
            s = session.confirm();
        } finally {
            clock.stop();
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        double cpu = (processCpuNanos() - cpu0) / 1e9;
        if (!"completed".equals(s.outcome())) {
            throw new IllegalStateException("migration " + s.outcome() + ": " + s.message());
        }
        double rate = s.bytes() / secs;
        // model: the last dirty set at this migration's stream (link) rate, plus the fixed cost (state records,
        // journal writes, ready/go/result round trips, rename, unpause) that an empty last set measures
        double linkRate = clock.seconds() > 0 ? clock.bytes() / clock.seconds() : rate;
        double modelMs = s.finalPassPages() < 0 ? -1 : s.finalPassPages() * 4096.0 / linkRate * 1000;
        System.out.printf("# migration %s dirty=%d MiB/s: %.3f GB in %.3f s = %.3f GB/s (stream alone %.3f GB in %.3f s = "
                        + "%.3f GB/s), %d passes, downtime %d ms, last dirty set %d pages (%.1f ms at that rate); "
                        + "CPU %.3f s per GB (%s); stream alone CPU %.3f s per GB%n",
                h.content, h.dirtyMiBps, s.bytes() / 1e9, secs, rate / 1e9, clock.bytes() / 1e9, clock.seconds(),
                clock.bytes() / clock.seconds() / 1e9, s.iteration() + 1, s.downtimeMs(), s.finalPassPages(),
                modelMs, cpu / (s.bytes() / 1e9), busiest(threadsBefore, threadCpu(), cpu, s.bytes() / 1e9),
                clock.cpuSeconds() / (clock.bytes() / 1e9));
        return s;
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /** CPU time of every live thread, summed by name with its trailing number dropped (pools count as one). */
    private static Map<String, Long> threadCpu() {
        ThreadMXBean t = ManagementFactory.getThreadMXBean();
        Map<String, Long> byName = new TreeMap<>();
        for (ThreadInfo info : t.getThreadInfo(t.getAllThreadIds())) {
            if (info == null) {
                continue;
            }
            long ns = t.getThreadCpuTime(info.getThreadId());
            if (ns > 0) {
                byName.merge(info.getThreadName().replaceAll("[-#\\d ]+$", ""), ns, Long::sum);
            }
        }
        return byName;
    }

    /** The threads that took the most CPU during the migration, in s per GB. */
    private static String busiest(Map<String, Long> before, Map<String, Long> after, double cpuSecs, double gb) {
        List<Map.Entry<String, Long>> spent = new ArrayList<>();
        after.forEach((name, ns) -> spent.add(Map.entry(name, ns - before.getOrDefault(name, 0L))));
        // threads that ended during the migration (its incoming session's) are not in "after"
        long seen = spent.stream().mapToLong(Map.Entry::getValue).sum();
        spent.add(Map.entry("ended threads", Math.max(0, (long) (cpuSecs * 1e9) - seen)));
        spent.sort((x, y) -> Long.compare(y.getValue(), x.getValue()));
        StringBuilder b = new StringBuilder();
        for (Map.Entry<String, Long> e : spent.subList(0, Math.min(5, spent.size()))) {
            b.append(b.length() == 0 ? "" : ", ").append(String.format("%s %.3f", e.getKey(), e.getValue() / 1e9 / gb));
        }
        return b.toString();
    }

    /**
     * Times the stream alone, as {@code tlsStream} is timed (no connection, prepare or commit handshake): polls the
     * session's byte count every millisecond and keeps when it first moved and when it last changed.
     */
    private static final class StreamClock {
        private final Thread thread;
        private volatile boolean stop;
        private long firstNs;
        private long firstBytes;
        private long lastNs;
        private long lastBytes;
        private long firstCpuNs;
        private long lastCpuNs;

        StreamClock(SourceSession session) {
            thread = new Thread(() -> {
                while (!stop) {
                    long b = session.stats().bytes();
                    long now = System.nanoTime();
                    if (b > 0 && firstNs == 0) {
                        firstNs = now;
                        firstBytes = b;
                        firstCpuNs = processCpuNanos();
                    }
                    if (b != lastBytes) {
                        lastBytes = b;
                        lastNs = now;
                        lastCpuNs = processCpuNanos();
                    }
                    LockSupport.parkNanos(1_000_000);
                }
            }, "bench-stream-clock");
            thread.setDaemon(true);
            thread.start();
        }

        void stop() {
            stop = true;
            try {
                thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        long bytes() {
            return lastBytes - firstBytes;
        }

        double seconds() {
            return (lastNs - firstNs) / 1e9;
        }

        /** CPU time of the whole JVM between the first and the last stream byte (what tlsStream's figure counts). */
        double cpuSeconds() {
            return (lastCpuNs - firstCpuNs) / 1e9;
        }
    }

    /** The driver's part, reduced to what the benchmark needs. */
    private record Host(EmulatedLibxl x) implements MigrationHost {
        public String hostName() {
            return "bench";
        }

        public List<String> cpuFlags() {
            return List.of();
        }

        public long freeMemoryMiB() {
            return x.hostInfo().freeMemoryKb() / 1024;
        }

        public String conflict(String name, String uuid) {
            return null;
        }

        public void incomingCommitted(MigrationCookie cookie, int domid, boolean paused) {
        }

        public void incomingDefined(MigrationCookie cookie) {
        }

        public void outgoingCommitted(String uuid, MigrationOptions options) {
        }

        public void outgoingRolledBack(String uuid, int domid) {
        }
    }

}
