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
import org.xenhost.transport.PeerAcceptor;
import org.xenhost.transport.PeerAllowlist;
import org.xenhost.transport.Transport;
import org.xenhost.transport.TransportConfig;
import org.xenhost.transport.pki.CertificateAuthority;
import org.xenhost.transport.pki.HostCredentials;
import org.xenhost.transport.pki.SubjectAltName;
import org.xenhost.transport.pki.Validity;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * One live migration of a 1 GiB guest per operation, between two migration services in this JVM (each with its
 * own emulated hypervisor and TLS transport, as two daemons have) over loopback. {@code content=idle}: every page
 * populated with one pattern and nothing dirtied while it moves; {@code random}: every page random bytes. The score
 * is seconds per migration; each operation also prints its stream size, GB/s and downtime ("# migration ...").
 * Compare with {@code TransportThroughput.tlsStream} (MB/s of the bare transport) in the same invocation.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms512m", "-Xmx512m"})
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
            ta = Transport.start(TransportConfig.builder(ca1, allow).build());
            tb = Transport.start(TransportConfig.builder(cb, allow).build());
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
            byte[] page = new byte[GuestMemory.PAGE_SIZE];
            m.lock().lock();
            try {
                for (long pfn = 0; pfn < m.pages(); pfn++) {
                    if (content.equals("random")) {
                        for (int i = 0; i < page.length; i += 8) {
                            long r = rnd.nextLong();
                            for (int k = 0; k < 8; k++) {
                                page[i + k] = (byte) (r >>> (k * 8));
                            }
                        }
                    } else {
                        java.util.Arrays.fill(page, (byte) 0x5a);
                    }
                    m.writePage(pfn, page, 0);
                }
            } finally {
                m.lock().unlock();
            }
            guest = new OutgoingGuest(domid, "bench", uuid, xa.domainConfigJson(domid), GUEST_MIB, 2, List.of());
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
        }
    }

    @Benchmark
    public MigrationStats migrate(Hosts h) {
        long t0 = System.nanoTime();
        MigrationStats s = h.a.outgoing(h.guest, "127.0.0.1:" + h.acceptor.address().getPort(), MigrationOptions.defaults()).run();
        double secs = (System.nanoTime() - t0) / 1e9;
        Runtime rt = Runtime.getRuntime();
        double rate = s.bytes() / secs;
        // model: the last dirty set at the measured stream rate, plus the fixed cost (state records, handshake)
        double modelMs = s.finalPassPages() < 0 ? -1 : s.finalPassPages() * 4096.0 / rate * 1000;
        System.out.printf("# migration %s dirty=%d MiB/s: %.3f GB in %.3f s = %.3f GB/s, %d passes, downtime %d ms, "
                        + "last dirty set %d pages (%.1f ms at that rate), heap used %d MiB (both hosts)%n",
                h.content, h.dirtyMiBps, s.bytes() / 1e9, secs, rate / 1e9, s.iteration() + 1, s.downtimeMs(), s.finalPassPages(),
                modelMs, (rt.totalMemory() - rt.freeMemory()) >> 20);
        return s;
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
