package org.xenhost.transport;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.xenhost.transport.TransportConfig.IoKind;
import org.xenhost.transport.TransportConfig.TlsProvider;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bulk streams and control messages between two transports over loopback, for each TLS provider and socket kind. */
class TransferTest {
    private static TestPki pki;

    @BeforeAll
    static void pki() throws IOException {
        pki = new TestPki();
    }

    static Stream<Arguments> permutations() {
        return Stream.of(Arguments.of(TlsProvider.OPENSSL, IoKind.EPOLL), Arguments.of(TlsProvider.JDK, IoKind.EPOLL),
                Arguments.of(TlsProvider.OPENSSL, IoKind.NIO), Arguments.of(TlsProvider.JDK, IoKind.NIO));
    }

    /** A listening transport (host-a) and a dialing one (host-b) with one open connection. */
    static final class Pair implements AutoCloseable {
        final Transport server;
        final Transport client;
        final PeerAcceptor acceptor;
        final PeerConnection dialer;
        final PeerConnection accepted;

        Pair(TestPki pki, TlsProvider tls, IoKind io, java.util.function.UnaryOperator<TransportConfig.Builder> tweak) throws Exception {
            server = Transport.start(tweak.apply(pki.config("host-a").tlsProvider(tls).io(io)).build());
            client = Transport.start(tweak.apply(pki.config("host-b").tlsProvider(tls).io(io)).build());
            acceptor = server.listen(new InetSocketAddress("127.0.0.1", 0));
            dialer = client.connect("localhost", acceptor.address().getPort());
            accepted = acceptor.accept(Duration.ofSeconds(10));
            assertNotNull(accepted, "server accepted the connection");
        }

        @Override
        public void close() {
            client.close();
            server.close();
        }
    }

    /** {@link #send} on another thread; the future gives the CRC32C sent. */
    static CompletableFuture<Long> sendAsync(OutboundStream out, long total) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return send(out, total);
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
    }

    /** Sends {@code total} bytes of a pattern whose every MiB carries its index, and returns the CRC32C sent. */
    static long send(OutboundStream out, long total) throws IOException {
        ByteBuffer chunk = ByteBuffer.allocateDirect(1 << 20);
        new Random(42).ints(chunk.capacity() / 4).forEach(chunk::putInt);
        CRC32C crc = new CRC32C();
        for (long sent = 0, index = 0; sent < total; index++) {
            int n = (int) Math.min(chunk.capacity(), total - sent);
            chunk.clear().putLong(0, index).limit(n);
            crc.update(chunk.duplicate());
            out.write(chunk);
            sent += n;
        }
        out.close();
        return crc.getValue();
    }

    /** Reads to the end of stream; returns {bytes, CRC32C}. */
    static long[] receive(InboundStream in, long delayNanosPerMiB) throws IOException, InterruptedException {
        ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
        CRC32C crc = new CRC32C();
        long total = 0;
        for (int n; (n = in.read(buf.clear())) >= 0; ) {
            buf.flip();
            crc.update(buf);
            long before = total;
            total += n;
            if (delayNanosPerMiB > 0 && (before >> 20) != (total >> 20)) {
                TimeUnit.NANOSECONDS.sleep(delayNanosPerMiB);
            }
        }
        in.close();
        return new long[] {total, crc.getValue()};
    }

    @ParameterizedTest(name = "{0} over {1}")
    @MethodSource("permutations")
    void controlMessagesAndAStreamArriveIntact(TlsProvider tls, IoKind io) throws Exception {
        try (Pair p = new Pair(pki, tls, io, b -> b)) {
            assertTrue(p.dialer.tlsDescription().startsWith("TLSv1.3"), p.dialer.tlsDescription());
            assertEquals("CN=host-a,O=xenhost", p.dialer.peer().subject());
            assertEquals("CN=host-b,O=xenhost", p.accepted.peer().subject());
            byte[] body = new byte[ControlMessage.MAX_BODY];
            new Random(1).nextBytes(body);
            p.dialer.send(new ControlMessage("test.prepare", 3, body));
            ControlMessage got = p.accepted.receive(Duration.ofSeconds(10));
            assertEquals("test.prepare", got.type());
            assertEquals(3, got.version());
            assertArrayEquals(body, got.body());
            p.accepted.send(new ControlMessage("test.ready", 1, new byte[0]));
            assertEquals("test.ready", p.dialer.receive(Duration.ofSeconds(10)).type());
            // the waiting send returns only once written, and the message arrives like any other
            p.dialer.sendAndWait(new ControlMessage("test.go", 1, body), Duration.ofSeconds(10));
            ControlMessage go = p.accepted.receive(Duration.ofSeconds(10));
            assertEquals("test.go", go.type());
            assertArrayEquals(body, go.body());

            long size = 32L << 20 | 12345; // not a multiple of anything
            OutboundStream out = p.dialer.openStream("memory");
            CompletableFuture<Long> sent = sendAsync(out, size);
            InboundStream in = p.accepted.acceptStream(Duration.ofSeconds(10));
            assertEquals("memory", in.label());
            long[] r = receive(in, 0);
            assertEquals(size, r[0]);
            assertEquals(sent.get(30, TimeUnit.SECONDS), r[1], "CRC32C of received bytes equals what was sent");
        }
    }

    @Test
    void twoGibibytesArriveByteExact() throws Exception {
        try (Pair p = new Pair(pki, TlsProvider.OPENSSL, IoKind.AUTO, b -> b)) {
            long size = 2L << 30;
            OutboundStream out = p.dialer.openStream("big");
            CompletableFuture<Long> sent = sendAsync(out, size);
            long[] r = receive(p.accepted.acceptStream(Duration.ofSeconds(10)), 0);
            assertEquals(size, r[0]);
            assertEquals(sent.get(60, TimeUnit.SECONDS), r[1]);
        }
    }

    @Test
    void aCountedTransferMovesExactlyTheBytesAskedForFromTransportBuffersAndStopsAtTheEnd() throws Exception {
        try (Pair p = new Pair(pki, TlsProvider.OPENSSL, IoKind.AUTO, b -> b)) {
            long size = (9L << 20) + 12345;
            OutboundStream out = p.dialer.openStream("pages");
            CompletableFuture<Long> sent = sendAsync(out, size);
            InboundStream in = p.accepted.acceptStream(Duration.ofSeconds(10));
            CRC32C crc = new CRC32C();
            // a consumer that takes at most 1000 bytes per call (like a positional write that stops short)
            java.nio.channels.WritableByteChannel stingy = new java.nio.channels.WritableByteChannel() {
                @Override
                public int write(ByteBuffer src) {
                    ByteBuffer part = src.duplicate();
                    part.limit(part.position() + Math.min(1000, part.remaining()));
                    int n = part.remaining();
                    crc.update(part);
                    src.position(src.position() + n);
                    return n;
                }

                @Override
                public boolean isOpen() {
                    return true;
                }

                @Override
                public void close() {
                }
            };
            long first = (3L << 20) + 7;
            assertEquals(first, in.transferTo(first, stingy));
            assertEquals(first, in.bytesReceived());
            // a plain read in between continues exactly where the transfer stopped
            ByteBuffer some = ByteBuffer.allocate(4096);
            int n = in.read(some);
            assertTrue(n > 0);
            crc.update(some.flip());
            long rest = size - first - n;
            assertEquals(rest, in.transferTo(rest + 100, stingy), "a transfer past the end stops at the clean end");
            assertEquals(0, in.transferTo(10, stingy));
            assertEquals(size, in.bytesReceived());
            assertEquals(sent.get(30, TimeUnit.SECONDS), crc.getValue(), "CRC32C of transferred bytes equals what was sent");
            in.close();
        }
    }

    @Test
    void manyStreamsOpenedConcurrentlyFromBothSidesAllArrive() throws Exception {
        try (Pair p = new Pair(pki, TlsProvider.OPENSSL, IoKind.AUTO, b -> b)) {
            int n = 8;
            java.util.List<CompletableFuture<Long>> sends = new java.util.ArrayList<>();
            for (int i = 0; i < n; i++) {
                PeerConnection from = i % 2 == 0 ? p.dialer : p.accepted;
                String label = "s" + i;
                sends.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        return send(from.openStream(label), 3L << 20);
                    } catch (IOException e) {
                        throw new RuntimeException(e);
                    }
                }, r -> new Thread(r).start()));
            }
            java.util.Set<Long> sentCrcs = new java.util.HashSet<>();
            java.util.List<CompletableFuture<long[]>> receives = new java.util.ArrayList<>();
            for (int i = 0; i < n; i++) {
                PeerConnection to = i % 2 == 0 ? p.accepted : p.dialer;
                InboundStream in = to.acceptStream(Duration.ofSeconds(20));
                assertNotNull(in, "stream " + i + " arrived");
                receives.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        return receive(in, 0);
                    } catch (IOException | InterruptedException e) {
                        throw new RuntimeException(e);
                    }
                }, r -> new Thread(r).start()));
            }
            for (CompletableFuture<Long> s : sends) {
                sentCrcs.add(s.get(60, TimeUnit.SECONDS));
            }
            for (CompletableFuture<long[]> r : receives) {
                long[] got = r.get(60, TimeUnit.SECONDS);
                assertEquals(3L << 20, got[0]);
                assertTrue(sentCrcs.contains(got[1]));
            }
            assertTrue(p.dialer.isOpen() && p.accepted.isOpen());
        }
    }

    @Test
    void clientRefusesAServerWhoseCertificateDoesNotNameTheDialedHost() throws Exception {
        try (Transport server = Transport.start(pki.config("host-b").build());
             Transport client = Transport.start(pki.config("host-a").build())) {
            PeerAcceptor acceptor = server.listen(new InetSocketAddress("127.0.0.1", 0));
            // host-b's certificate names host-b and 127.0.0.1, not localhost
            IOException e = assertThrows(IOException.class, () -> client.connect("localhost", acceptor.address().getPort()));
            assertTrue(e.getMessage().contains("localhost"), e.getMessage());
        }
    }
}
