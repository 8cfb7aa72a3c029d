package org.xenhost.transport;

import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetectorFactory;
import io.netty.util.internal.PlatformDependent;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Breaking the link mid-transfer: both sides get an error (at once on a reset, within the idle timeout on a black
 * hole), and a hundred such breaks leak neither threads nor buffers. Runs in its own JVM (Surefire reuseForks=false)
 * so that Netty's leak detector can be replaced by one that counts.
 */
class LinkFailureTest {
    static final List<String> LEAKS = new CopyOnWriteArrayList<>();

    static {
        // before any ByteBuf class is initialised: every buffer tracked, every leak counted
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        ResourceLeakDetectorFactory.setResourceLeakDetectorFactory(new ResourceLeakDetectorFactory() {
            @Override
            @SuppressWarnings("deprecation")
            public <T> ResourceLeakDetector<T> newResourceLeakDetector(Class<T> resource, int samplingInterval, long maxActive) {
                return new ResourceLeakDetector<T>(resource, samplingInterval) {
                    @Override
                    protected void reportTracedLeak(String type, String records) {
                        LEAKS.add(type + records);
                    }

                    @Override
                    protected void reportUntracedLeak(String type) {
                        LEAKS.add(type);
                    }
                };
            }
        });
    }

    private static TestPki pki;
    static final Duration IDLE = Duration.ofSeconds(2);

    @BeforeAll
    static void pki() throws IOException {
        pki = new TestPki();
    }

    static TransportConfig.Builder config(String host) {
        return pki.config(host).idleTimeout(IDLE).keepaliveInterval(Duration.ofMillis(500)).handshakeTimeout(Duration.ofSeconds(5));
    }

    /** Sends until it fails; returns the failure. */
    static CompletableFuture<IOException> sendUntilFailure(OutboundStream out) {
        return CompletableFuture.supplyAsync(() -> {
            ByteBuffer chunk = ByteBuffer.allocateDirect(256 * 1024);
            try {
                while (true) {
                    out.write(chunk.clear());
                }
            } catch (IOException e) {
                return e;
            }
        });
    }

    /** Reads until it fails (a clean end would be a bug here); signals once {@code after} bytes arrived. */
    static CompletableFuture<IOException> readUntilFailure(InboundStream in, CompletableFuture<Void> progress, long after) {
        return CompletableFuture.supplyAsync(() -> {
            ByteBuffer buf = ByteBuffer.allocateDirect(256 * 1024);
            try {
                while (in.read(buf.clear()) >= 0) {
                    if (in.bytesReceived() >= after) {
                        progress.complete(null);
                    }
                }
                return null;
            } catch (IOException e) {
                return e;
            } finally {
                in.close();
            }
        });
    }

    record Broken(IOException sender, IOException receiver) {
    }

    /** One connection through a relay, a transfer, then {@code breakIt}; returns both sides' errors. */
    static Broken transferAndBreak(Transport server, PeerAcceptor acceptor, Transport client, Relay relay,
                                   Runnable breakIt, Duration limit) throws Exception {
        PeerConnection dialer = client.connect("localhost", relay.port());
        PeerConnection accepted = acceptor.accept(Duration.ofSeconds(10));
        assertNotNull(accepted);
        try {
            OutboundStream out = dialer.openStream("doomed");
            CompletableFuture<IOException> sender = sendUntilFailure(out);
            InboundStream in = accepted.acceptStream(Duration.ofSeconds(10));
            CompletableFuture<Void> progress = new CompletableFuture<>();
            CompletableFuture<IOException> receiver = readUntilFailure(in, progress, 2 << 20);
            progress.get(20, TimeUnit.SECONDS);
            breakIt.run();
            IOException s = sender.get(limit.toMillis(), TimeUnit.MILLISECONDS);
            IOException r = receiver.get(limit.toMillis(), TimeUnit.MILLISECONDS);
            assertNotNull(s, "sender saw an error");
            assertNotNull(r, "receiver saw an error, not a clean end of stream");
            assertThrows(IOException.class, () -> dialer.send(new ControlMessage("after.break", 1, null)));
            assertThrows(IOException.class, () -> accepted.receive(Duration.ofSeconds(5)));
            return new Broken(s, r);
        } finally {
            dialer.close();
            accepted.close();
        }
    }

    @Test
    void aResetLinkFailsBothSidesAtOnce() throws Exception {
        try (Transport server = Transport.start(config("host-a").build());
             Transport client = Transport.start(config("host-b").build());
             PeerAcceptor acceptor = server.listen(new java.net.InetSocketAddress("127.0.0.1", 0));
             Relay relay = new Relay(acceptor.address().getPort())) {
            Broken b = transferAndBreak(server, acceptor, client, relay, relay::kill, IDLE.multipliedBy(3));
            assertTrue(b.sender().getMessage().contains("lost") || b.sender().getMessage().contains("reset"), b.sender().getMessage());
        }
    }

    @Test
    void aBlackHoledLinkIsDeclaredDeadWithinTheIdleTimeout() throws Exception {
        try (Transport server = Transport.start(config("host-a").build());
             Transport client = Transport.start(config("host-b").build());
             PeerAcceptor acceptor = server.listen(new java.net.InetSocketAddress("127.0.0.1", 0));
             Relay relay = new Relay(acceptor.address().getPort())) {
            // generous bound: idle timeout plus scheduling slack on a busy machine
            Broken b = transferAndBreak(server, acceptor, client, relay, relay::freeze, IDLE.multipliedBy(4));
            assertTrue(b.sender().getMessage().contains("declared dead"), b.sender().getMessage());
            assertTrue(b.receiver().getMessage().contains("declared dead"), b.receiver().getMessage());
        }
    }

    @Test
    void aHundredBrokenTransfersLeakNoThreadsAndNoBuffers() throws Exception {
        try (Transport server = Transport.start(config("host-a").build());
             Transport client = Transport.start(config("host-b").build());
             PeerAcceptor acceptor = server.listen(new java.net.InetSocketAddress("127.0.0.1", 0))) {
            long threadsBefore = 0;
            long poolBefore = 0;
            long directBefore = 0;
            for (int cycle = 0; cycle < 100; cycle++) {
                if (cycle == 10) {
                    settle();
                    threadsBefore = threads();
                    poolBefore = server.bufferMemoryInUse() + client.bufferMemoryInUse();
                    directBefore = PlatformDependent.usedDirectMemory();
                }
                try (Relay relay = new Relay(acceptor.address().getPort())) {
                    transferAndBreak(server, acceptor, client, relay, relay::kill, IDLE.multipliedBy(3));
                }
            }
            settle();
            long threadsAfter = threads();
            long poolAfter = server.bufferMemoryInUse() + client.bufferMemoryInUse();
            long directAfter = PlatformDependent.usedDirectMemory();
            assertTrue(threadsAfter <= threadsBefore, "threads: " + threadsBefore + " after 10 cycles, " + threadsAfter + " after 100");
            assertTrue(poolAfter <= poolBefore + (8 << 20), "pooled buffers: " + poolBefore + " -> " + poolAfter);
            // JVM-wide direct memory includes the pool's reserved chunks (4 MiB each, per arena and thread), which
            // grow in steps and are kept for reuse; a leak of one window per broken transfer would be 90 x 4 MiB
            assertTrue(directAfter <= directBefore + (64 << 20), "direct memory: " + directBefore + " -> " + directAfter);
            assertEquals(List.of(), LEAKS, "Netty leak detector (paranoid) found unreleased buffers");
        }
    }

    /** Lets closing connections finish and makes the leak detector look at collected buffers. */
    private static void settle() throws InterruptedException {
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(300);
            // leak reports are produced when new buffers are tracked
            for (int j = 0; j < 100; j++) {
                io.netty.buffer.PooledByteBufAllocator.DEFAULT.directBuffer(64).release();
            }
        }
    }

    private static long threads() {
        return ManagementFactory.getThreadMXBean().getThreadCount();
    }
}
