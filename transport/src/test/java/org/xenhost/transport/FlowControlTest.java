package org.xenhost.transport;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.xenhost.transport.TransportConfig.IoKind;
import org.xenhost.transport.TransportConfig.TlsProvider;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A slow receiver holds the sender back: neither side's buffers grow beyond the window, whatever the stream size. */
class FlowControlTest {
    private static TestPki pki;

    @BeforeAll
    static void pki() throws IOException {
        pki = new TestPki();
    }

    @Test
    void aSlowReceiverKeepsTheSendersMemoryFlat() throws Exception {
        int window = 4 << 20;
        try (TransferTest.Pair p = new TransferTest.Pair(pki, TlsProvider.OPENSSL, IoKind.AUTO, b -> b.streamWindow(window))) {
            long size = 192L << 20;
            OutboundStream out = p.dialer.openStream("slow");
            CompletableFuture<Long> sent = CompletableFuture.supplyAsync(() -> {
                try {
                    return TransferTest.send(out, size);
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            InboundStream in = p.accepted.acceptStream(Duration.ofSeconds(10));
            // about 100 MiB/s: far slower than the sender could go on loopback
            CompletableFuture<long[]> received = CompletableFuture.supplyAsync(() -> {
                try {
                    return TransferTest.receive(in, 10_000_000);
                } catch (IOException | InterruptedException e) {
                    throw new RuntimeException(e);
                }
            });
            long maxAhead = 0;
            long maxSenderMemory = 0;
            long maxReceiverMemory = 0;
            long firstHalfMax = 0;
            int samples = 0;
            while (!received.isDone()) {
                long ahead = out.bytesSent() - in.bytesReceived();
                maxAhead = Math.max(maxAhead, ahead);
                maxSenderMemory = Math.max(maxSenderMemory, p.client.bufferMemoryInUse());
                maxReceiverMemory = Math.max(maxReceiverMemory, p.server.bufferMemoryInUse());
                if (in.bytesReceived() < size / 2) {
                    firstHalfMax = maxSenderMemory;
                }
                samples++;
                Thread.sleep(20);
            }
            long[] r = received.get(60, TimeUnit.SECONDS);
            assertEquals(size, r[0]);
            assertEquals(sent.get(10, TimeUnit.SECONDS), r[1]);
            assertTrue(samples > 20, "the transfer was slow enough to observe (" + samples + " samples)");
            // the sender counts a frame as sent before handing it over, so it may be one frame beyond the window
            assertTrue(maxAhead <= window + (1 << 20), "sender ran at most one window ahead: " + maxAhead);
            // pool chunks are 4 MiB: window + TLS buffers fit in a few; without flow control it would be ~192 MiB
            assertTrue(maxSenderMemory <= 24 << 20, "sender buffer pool stayed small: " + maxSenderMemory);
            assertTrue(maxReceiverMemory <= 24 << 20, "receiver buffer pool stayed small: " + maxReceiverMemory);
            assertTrue(maxSenderMemory <= firstHalfMax + (4 << 20),
                    "sender memory flat: first half max " + firstHalfMax + ", overall max " + maxSenderMemory);
        }
    }

    @Test
    void aReceiverThatStopsReadingStopsTheSender() throws Exception {
        try (TransferTest.Pair p = new TransferTest.Pair(pki, TlsProvider.JDK, IoKind.NIO,
                b -> b.streamWindow(1 << 20).idleTimeout(Duration.ofSeconds(2)).keepaliveInterval(Duration.ofMillis(500)))) {
            OutboundStream out = p.dialer.openStream("stalled");
            CompletableFuture<Long> sender = CompletableFuture.supplyAsync(() -> {
                try {
                    return TransferTest.send(out, 64L << 20);
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            InboundStream in = p.accepted.acceptStream(Duration.ofSeconds(10));
            Thread.sleep(4000); // twice the idle timeout: only the keepalive pings keep this quiet connection up
            assertTrue(!sender.isDone(), "sender blocks while nobody reads");
            assertTrue(out.bytesSent() <= 2 << 20, "no more than the 1 MiB window (+1 frame) went out: " + out.bytesSent());
            assertTrue(p.dialer.isOpen(), "keepalive kept the idle connection open");
            in.close(); // receiver gives up: the sender's write fails
            Throwable t = org.junit.jupiter.api.Assertions.assertThrows(java.util.concurrent.ExecutionException.class,
                    () -> sender.get(10, TimeUnit.SECONDS));
            assertTrue(t.getCause().getMessage().contains("stopped reading"), t.getCause().getMessage());
        }
    }
}
