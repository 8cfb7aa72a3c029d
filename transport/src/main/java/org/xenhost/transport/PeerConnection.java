package org.xenhost.transport;

import java.io.IOException;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletionStage;

/**
 * One authenticated connection to another daemon: control messages in both directions and any number (up to the
 * configured maximum) of one-way bulk streams, multiplexed on one TLS connection. Methods are thread-safe unless a
 * stream says otherwise. A lost connection (peer gone, idle timeout, protocol error) fails every blocked call with an
 * {@link IOException} naming the cause.
 */
public interface PeerConnection extends AutoCloseable {
    /** {@return the peer's identity from its verified certificate} */
    PeerIdentity peer();

    /** {@return the peer's address} */
    SocketAddress remoteAddress();

    /** {@return the transport protocol version agreed in the hello exchange} */
    int protocolVersion();

    /** {@return the TLS protocol and cipher suite, e.g. "TLSv1.3 TLS_AES_128_GCM_SHA256"} */
    String tlsDescription();

    /** Queues a control message for sending; returns without waiting for the peer. */
    void send(ControlMessage message) throws IOException;

    /**
     * Sends a control message and waits until its bytes are in this host's socket (not until the peer read
     * them). For the message after which a crash changes who owns a guest (migration's clearance to unpause):
     * the step is only "sent" once it can reach the peer without this process.
     *
     * @throws IOException when the connection is lost, the write did not finish within {@code timeout}, or the
     *     thread was interrupted while waiting (its interrupt flag is kept)
     */
    void sendAndWait(ControlMessage message, java.time.Duration timeout) throws IOException;

    /**
     * Waits for the next control message.
     *
     * @return the message, or {@code null} when none arrived within {@code timeout}
     * @throws IOException when the connection is lost (messages that arrived before are still returned first)
     */
    ControlMessage receive(Duration timeout) throws IOException, InterruptedException;

    /** Opens a new stream to the peer; the peer gets it from {@link #acceptStream(Duration)}. */
    OutboundStream openStream(String label) throws IOException;

    /**
     * Waits for the peer to open a stream.
     *
     * @return the stream, or {@code null} when none was opened within {@code timeout}
     */
    InboundStream acceptStream(Duration timeout) throws IOException, InterruptedException;

    /** {@return whether the connection is still usable} */
    boolean isOpen();

    /** {@return completes when the connection is closed, exceptionally with the cause when it was lost} */
    CompletionStage<Void> closed();

    /** Closes the connection; open streams fail on both sides. Idempotent. */
    @Override
    void close();
}
