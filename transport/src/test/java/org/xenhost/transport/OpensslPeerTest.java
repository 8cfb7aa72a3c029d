package org.xenhost.transport;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A foreign TLS stack ({@code openssl s_client}) against a xenhost listener: it completes TLS 1.3 and even the hello
 * exchange with a xenhost-issued certificate, and is refused without a certificate, with another CA's, with an
 * expired one, or with a subject off the allowlist. Non-TLS clients are refused without disturbing a transfer.
 */
class OpensslPeerTest {
    private static TestPki pki;
    private static Transport server;
    private static PeerAcceptor acceptor;
    private static final RecordingEvents events = new RecordingEvents();

    @BeforeAll
    static void listen() throws IOException {
        pki = new TestPki();
        server = Transport.start(pki.config("host-a").events(events).handshakeTimeout(Duration.ofSeconds(3)).build());
        acceptor = server.listen(new InetSocketAddress("127.0.0.1", 0));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /** The transport hello frame, as documented in Frame: header then magic, versions 1-1, window, max frame. */
    static byte[] helloFrame() {
        ByteBuffer b = ByteBuffer.allocate(30);
        b.putInt(20).put((byte) 1).put((byte) 0).putInt(0);
        b.putInt(0x58485450).putShort((short) 1).putShort((short) 1).putInt(4 << 20).putInt(1 << 20).putInt(0);
        return b.array();
    }

    /** Runs s_client with the given certificate arguments, sends our hello, returns its output after it ends. */
    static String sClient(List<String> certArgs, boolean expectOpen) throws Exception {
        return sClient(acceptor, "-tls1_3", certArgs, expectOpen);
    }

    static String sClient(PeerAcceptor acceptor, String tlsVersion, List<String> certArgs, boolean expectOpen) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("openssl", "s_client", "-connect", "127.0.0.1:" + acceptor.address().getPort(),
                tlsVersion, "-CAfile", pki.caCert().toString(), "-verify_return_error", "-verify_hostname", "localhost",
                "-servername", "localhost", "-nocommands"));
        cmd.addAll(certArgs);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        CompletableFuture<Void> reader = CompletableFuture.runAsync(() -> {
            try (InputStream in = p.getInputStream()) {
                in.transferTo(out);
            } catch (IOException e) {
                // process gone
            }
        });
        OutputStream stdin = p.getOutputStream();
        try {
            stdin.write(helloFrame());
            stdin.flush();
        } catch (IOException e) {
            // already refused and gone
        }
        if (expectOpen) {
            PeerConnection c = acceptor.accept(Duration.ofSeconds(15));
            assertNotNull(c, "listener accepted the s_client connection; output:\n" + out);
            assertEquals("CN=host-b,O=xenhost", c.peer().subject());
            assertTrue(c.tlsDescription().startsWith(tlsVersion.equals("-tls1_2") ? "TLSv1.2" : "TLSv1.3"), c.tlsDescription());
            c.close();
        }
        // a refused client ends by itself; an accepted one ends when we close
        boolean ended = p.waitFor(20, TimeUnit.SECONDS);
        if (!ended) {
            p.destroyForcibly();
        }
        try {
            stdin.close();
        } catch (IOException e) {
            // s_client already exited and the JDK closed its end of the pipe
        }
        reader.get(10, TimeUnit.SECONDS);
        assertTrue(ended, "s_client ended; output:\n" + out);
        return out.toString(StandardCharsets.ISO_8859_1);
    }

    static List<String> cert(Path cert, Path key) {
        return List.of("-cert", cert.toString(), "-key", key.toString());
    }

    @Test
    void opensslWithAXenhostCertificateCompletesTls13AndTheHello() throws Exception {
        events.refused.clear();
        String out = sClient(cert(pki.cert("host-b"), pki.key("host-b")), true);
        assertTrue(out.contains("TLSv1.3"), out);
        assertTrue(out.contains("Verify return code: 0 (ok)"), out);
        assertTrue(out.contains("XHTP"), "s_client received the xenhost hello:\n" + out);
    }

    @Test
    void opensslWithoutClientCertificateIsRefused() throws Exception {
        events.refused.clear();
        String out = sClient(List.of(), false);
        RecordingEvents.Refusal r = events.nextRefusal();
        assertTrue(r.reason().contains("TLS"), r.reason());
        assertFalse(out.contains("XHTP"), out);
        assertNull(acceptor.accept(Duration.ofMillis(200)));
    }

    @Test
    void opensslWithAnotherCasCertificateIsRefused() throws Exception {
        events.refused.clear();
        String out = sClient(cert(pki.otherDir.resolve("host-x-cert.pem"), pki.otherDir.resolve("host-x-key.pem")), false);
        RecordingEvents.Refusal r = events.nextRefusal();
        assertEquals("CN=host-x,O=xenhost", r.subject());
        assertTrue(r.reason().contains("TLS"), r.reason());
        assertFalse(out.contains("XHTP"), out);
        assertNull(acceptor.accept(Duration.ofMillis(200)));
    }

    @Test
    void opensslWithAnExpiredCertificateIsRefused() throws Exception {
        events.refused.clear();
        String out = sClient(cert(pki.cert("host-expired"), pki.key("host-expired")), false);
        RecordingEvents.Refusal r = events.nextRefusal();
        assertTrue(r.reason().contains("peer certificate expired"), r.reason());
        assertEquals("CN=host-expired,O=xenhost", r.subject(), "refusal names the certificate's subject");
        assertFalse(out.contains("XHTP"), out);
        assertNull(acceptor.accept(Duration.ofMillis(200)));
    }

    @Test
    void opensslWithASubjectOffTheAllowlistIsRefusedAndItsSubjectReported() throws Exception {
        events.refused.clear();
        String out = sClient(cert(pki.cert("intruder"), pki.key("intruder")), false);
        RecordingEvents.Refusal r = events.nextRefusal();
        assertEquals("CN=intruder,O=xenhost", r.subject());
        assertTrue(r.reason().contains("allowlist"), r.reason());
        assertFalse(out.contains("XHTP"), out);
        assertNull(acceptor.accept(Duration.ofMillis(200)));
    }

    @Test
    void tls12IsRefusedByDefaultAndAcceptedWhenConfigured() throws Exception {
        events.refused.clear();
        String out = sClient(acceptor, "-tls1_2", cert(pki.cert("host-b"), pki.key("host-b")), false);
        assertTrue(events.nextRefusal().reason().contains("TLS"));
        assertFalse(out.contains("XHTP"), out);
        try (Transport legacy = Transport.start(pki.config("host-a").allowTls12(true).build())) {
            PeerAcceptor a = legacy.listen(new InetSocketAddress("127.0.0.1", 0));
            out = sClient(a, "-tls1_2", cert(pki.cert("host-b"), pki.key("host-b")), true);
            assertTrue(out.contains("TLSv1.2"), out);
            assertTrue(out.contains("XHTP"), out);
        }
    }

    @Test
    void theJdkProviderOverNioAcceptsAndRefusesTheSame() throws Exception {
        RecordingEvents jdkEvents = new RecordingEvents();
        try (Transport jdk = Transport.start(pki.config("host-a").events(jdkEvents)
                .tlsProvider(TransportConfig.TlsProvider.JDK).io(TransportConfig.IoKind.NIO).build())) {
            assertTrue(jdk.description().startsWith("NIO, JDK"), jdk.description());
            PeerAcceptor a = jdk.listen(new InetSocketAddress("127.0.0.1", 0));
            String out = sClient(a, "-tls1_3", cert(pki.cert("host-b"), pki.key("host-b")), true);
            assertTrue(out.contains("XHTP"), out);
            out = sClient(a, "-tls1_3", cert(pki.cert("intruder"), pki.key("intruder")), false);
            assertEquals("CN=intruder,O=xenhost", jdkEvents.nextRefusal().subject());
            assertFalse(out.contains("XHTP"), out);
            out = sClient(a, "-tls1_3", List.of(), false);
            assertTrue(jdkEvents.nextRefusal().reason().contains("TLS"));
            out = sClient(a, "-tls1_3", cert(pki.cert("host-expired"), pki.key("host-expired")), false);
            RecordingEvents.Refusal expired = jdkEvents.nextRefusal();
            assertTrue(expired.reason().contains("peer certificate expired"), expired.reason());
            assertEquals("CN=host-expired,O=xenhost", expired.subject());
            assertFalse(out.contains("XHTP"), out);
        }
    }

    @Test
    void aClientThatSaysNothingIsClosedAfterTheHandshakeTimeout() throws Exception {
        events.refused.clear();
        try (Socket s = new Socket("127.0.0.1", acceptor.address().getPort())) {
            s.setSoTimeout(20_000);
            assertEquals(-1, s.getInputStream().read(), "listener closed the silent connection");
        }
        assertTrue(events.nextRefusal().reason().contains("within"));
    }

    @Test
    void plaintextAndHttpClientsAreRefusedWhileATransferGoesOn() throws Exception {
        try (Transport client = Transport.start(pki.config("host-b").build())) {
            PeerConnection dialer = client.connect("localhost", acceptor.address().getPort());
            PeerConnection accepted = acceptor.accept(Duration.ofSeconds(10));
            long size = 256L << 20;
            OutboundStream out = dialer.openStream("during-intruders");
            CompletableFuture<Long> sent = CompletableFuture.supplyAsync(() -> {
                try {
                    return TransferTest.send(out, size);
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            InboundStream in = accepted.acceptStream(Duration.ofSeconds(10));
            CompletableFuture<long[]> received = CompletableFuture.supplyAsync(() -> {
                try {
                    return TransferTest.receive(in, 2_000_000); // a little slow, so intruders arrive mid-stream
                } catch (IOException | InterruptedException e) {
                    throw new RuntimeException(e);
                }
            });
            events.refused.clear();
            for (String junk : List.of("hello xenhost\n", "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")) {
                try (Socket s = new Socket("127.0.0.1", acceptor.address().getPort())) {
                    s.setSoTimeout(15_000);
                    s.getOutputStream().write(junk.getBytes(StandardCharsets.US_ASCII));
                    int first;
                    try {
                        first = s.getInputStream().read();
                    } catch (IOException reset) {
                        first = -1;
                    }
                    assertEquals(-1, first, "the listener closed the non-TLS connection (" + junk.trim() + ")");
                }
                RecordingEvents.Refusal r = events.nextRefusal();
                assertTrue(r.reason().contains("not TLS"), r.reason());
            }
            long[] r = received.get(60, TimeUnit.SECONDS);
            assertEquals(size, r[0]);
            assertEquals(sent.get(10, TimeUnit.SECONDS), r[1]);
            dialer.send(new ControlMessage("still.here", 1, new byte[0]));
            assertEquals("still.here", accepted.receive(Duration.ofSeconds(10)).type());
            assertTrue(dialer.isOpen() && accepted.isOpen());
        }
    }
}
