package org.xenhost.transport;

import java.time.Duration;

/** A listening port that hands out authenticated connections; see {@link Transport#listen}. */
public interface PeerAcceptor extends PeerListener {
    /**
     * Waits for the next connection that passed TLS, the allowlist and the hello exchange.
     *
     * @return the connection, or {@code null} when none arrived within {@code timeout}
     */
    PeerConnection accept(Duration timeout) throws InterruptedException;
}
