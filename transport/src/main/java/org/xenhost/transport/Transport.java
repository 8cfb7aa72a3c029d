package org.xenhost.transport;

import org.xenhost.transport.internal.NettyTransport;

import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * The daemon-to-daemon transport: listens on one port and dials peers, giving {@link PeerConnection}s over mutually
 * authenticated TLS. One instance per daemon; it owns its I/O threads and buffer pool until {@link #close()}.
 * At start it logs once which socket implementation (epoll/NIO) and TLS provider (OpenSSL/JDK) it uses.
 */
public interface Transport extends AutoCloseable {

    /** {@return a started transport for the given configuration} */
    static Transport start(TransportConfig config) {
        return NettyTransport.start(config);
    }

    /**
     * Listens on {@code bind} for peers. Connections appear from {@link PeerAcceptor#accept} once TLS, the
     * allowlist and the hello exchange passed; everything else is refused and logged.
     */
    PeerAcceptor listen(InetSocketAddress bind) throws IOException;

    /**
     * Dials a peer and waits until the connection is open (TLS, allowlist, hello) or the handshake timeout passes.
     *
     * @param host the name or address the peer's certificate must carry as SAN (verified)
     * @throws IOException naming the peer and why it could not be reached or was refused
     */
    PeerConnection connect(String host, int port) throws IOException;

    /** {@return e.g. "epoll, OpenSSL provider (BoringSSL ...)": the implementations chosen at start} */
    String description();

    /** {@return bytes held by this transport's buffer pool (direct and heap), for monitoring and tests} */
    long bufferMemoryInUse();

    /** Closes listeners and connections and stops the I/O threads; waits for them. Idempotent. */
    @Override
    void close();
}
