package org.xenhost.jmh;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;
import org.xenhost.transport.InboundStream;
import org.xenhost.transport.OutboundStream;
import org.xenhost.transport.PeerAcceptor;
import org.xenhost.transport.PeerAllowlist;
import org.xenhost.transport.PeerConnection;
import org.xenhost.transport.Transport;
import org.xenhost.transport.TransportConfig;
import org.xenhost.transport.internal.NettyTransport;
import org.xenhost.transport.pki.CertificateAuthority;
import org.xenhost.transport.pki.HostCredentials;
import org.xenhost.transport.pki.SubjectAltName;
import org.xenhost.transport.pki.Validity;

import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.runner.IterationType;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Bulk data end to end through one transport connection on loopback: a sending daemon and a receiving daemon in
 * this JVM (two transports, each with its own I/O threads), one stream, the receiver consuming into a 1 MiB buffer
 * on its own thread. One benchmark operation is one 1,000,000-byte write, so the score in ops/s is MB/s.
 * The sender blocks when the receiver's window is full, so the score is the end-to-end rate, not a queueing rate.
 * {@code tlsStream} is the real thing (mutual TLS 1.3, AUTO provider: BoringSSL); {@code plainStream} is the same
 * framing and flow control without TLS, the ceiling. The OpenSSL baseline is {@code jmh/baseline/tls_stream.c},
 * run by {@code jmh/transport-vs-openssl.sh}.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Threads(1)
@Fork(value = 1, jvmArgsAppend = {"-Xms256m", "-Xmx256m"})
@Warmup(iterations = 2, time = 5)
@Measurement(iterations = 3, time = 10)
public class TransportThroughput {
    /** One write: 10^6 bytes, so ops/s reads as MB/s. */
    static final int WRITE = 1_000_000;

    /** A sending and a receiving transport with one open stream and a consuming thread. */
    @State(Scope.Benchmark)
    public abstract static class Link {
        Path dir;
        Transport server;
        Transport client;
        PeerConnection dialer;
        OutboundStream out;
        Thread consumer;
        final AtomicReference<Throwable> consumerFailure = new AtomicReference<>();
        final ByteBuffer chunk = ByteBuffer.allocateDirect(WRITE);
        InboundStream in;
        /** CPU accounting over measurement iterations: contention-independent cost per byte. */
        long cpuAtStart;
        long bytesAtStart;
        long cpuSpent;
        long bytesMoved;

        abstract Transport start(TransportConfig config);

        @Setup(Level.Trial)
        public void setUp() throws Exception {
            dir = Files.createTempDirectory("xenhost-jmh-pki");
            CertificateAuthority ca = CertificateAuthority.init(dir, "bench-ca", Validity.days(2));
            ca.issue("bench-a", List.of(SubjectAltName.parse("127.0.0.1")), Validity.days(2));
            ca.issue("bench-b", List.of(SubjectAltName.parse("127.0.0.1")), Validity.days(2));
            PeerAllowlist allow = PeerAllowlist.of(List.of("CN=bench-*,O=xenhost"));
            server = start(TransportConfig.builder(HostCredentials.load(dir, "bench-a"), allow).streamWindow(Integer.getInteger("xenhost.jmh.streamWindowMiB", 4) << 20).build());
            client = start(TransportConfig.builder(HostCredentials.load(dir, "bench-b"), allow).streamWindow(Integer.getInteger("xenhost.jmh.streamWindowMiB", 4) << 20).build());
            PeerAcceptor acceptor = server.listen(new InetSocketAddress("127.0.0.1", 0));
            dialer = client.connect("127.0.0.1", acceptor.address().getPort());
            PeerConnection accepted = acceptor.accept(Duration.ofSeconds(10));
            out = dialer.openStream("bench");
            InboundStream in = accepted.acceptStream(Duration.ofSeconds(10));
            this.in = in;
            consumer = new Thread(() -> {
                ByteBuffer sink = ByteBuffer.allocateDirect(1 << 20);
                try {
                    while (in.read(sink.clear()) >= 0) {
                        // discard: the benchmark measures moving the bytes
                    }
                } catch (IOException | RuntimeException e) {
                    consumerFailure.set(e);
                } finally {
                    in.close();
                }
            }, "bench-consumer");
            consumer.start();
            for (int i = 0; i < WRITE; i++) {
                chunk.put(i, (byte) (i * 31));
            }
            System.out.println("# " + server.description() + "; " + dialer.tlsDescription());
        }

        private static long processCpuNanos() {
            return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
        }

        @Setup(Level.Iteration)
        public void iterationStart() {
            cpuAtStart = processCpuNanos();
            bytesAtStart = in.bytesReceived();
        }

        @TearDown(Level.Iteration)
        public void iterationEnd(IterationParams params) {
            if (params.getType() == IterationType.MEASUREMENT) {
                cpuSpent += processCpuNanos() - cpuAtStart;
                bytesMoved += in.bytesReceived() - bytesAtStart;
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() throws Exception {
            if (bytesMoved > 0) {
                // whole JVM (both daemons, JIT, GC, JMH): comparable with the baseline's sender + receiver
                System.out.printf("%n# %s CPU: %.3f s per GB (process CPU time over measurement iterations)%n",
                        this instanceof TlsLink ? "tlsStream" : "plainStream", cpuSpent / 1e9 / (bytesMoved / 1e9));
            }
            out.close();
            consumer.join(30_000);
            client.close();
            server.close();
            try (var files = Files.list(dir)) {
                for (Path p : (Iterable<Path>) files::iterator) {
                    Files.delete(p);
                }
            }
            Files.delete(dir);
            if (consumerFailure.get() != null) {
                throw new IllegalStateException("receiver failed", consumerFailure.get());
            }
        }

        void write() throws IOException {
            out.write(chunk.clear());
        }
    }

    /** Mutual TLS 1.3 as the daemons run it. */
    public static class TlsLink extends Link {
        @Override
        Transport start(TransportConfig config) {
            return Transport.start(config);
        }
    }

    /** No TLS: the framing and flow-control ceiling. */
    public static class PlainLink extends Link {
        @Override
        Transport start(TransportConfig config) {
            return NettyTransport.startPlaintextLoopbackForBenchmarks(config);
        }
    }

    @Benchmark
    public void tlsStream(TlsLink link) throws IOException {
        link.write();
    }

    @Benchmark
    public void plainStream(PlainLink link) throws IOException {
        link.write();
    }
}
