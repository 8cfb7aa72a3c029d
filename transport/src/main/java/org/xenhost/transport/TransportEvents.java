package org.xenhost.transport;

import java.net.SocketAddress;

/**
 * What a transport reports about peers it accepts or refuses, beyond the connections themselves. The default
 * methods do nothing: the transport logs every event itself; implement this to count or audit them.
 * Methods are called on I/O threads and <strong>must not</strong> block.
 */
public interface TransportEvents {
    /** Does nothing beyond the transport's own logging. */
    TransportEvents NONE = new TransportEvents() {
    };

    /** A peer completed TLS, was on the allowlist and agreed on a protocol version. */
    default void peerAccepted(SocketAddress remote, PeerIdentity peer) {
    }

    /**
     * A connection was refused before it could carry anything.
     *
     * @param remote  the peer's address
     * @param subject the certificate subject when the peer presented one that verified, else {@code null}
     * @param reason  why, in words (e.g. "not TLS", "certificate not trusted", "not on the allowlist")
     */
    default void peerRefused(SocketAddress remote, String subject, String reason) {
    }
}
