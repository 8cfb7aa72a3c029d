package org.xenhost.transport;

import java.net.InetSocketAddress;

/** A listening port accepting daemon connections; see {@link Transport#listen}. */
public interface PeerListener extends AutoCloseable {
    /** {@return the bound address (with the real port when 0 was asked for)} */
    InetSocketAddress address();

    /** Stops accepting; established connections stay open. Idempotent. */
    @Override
    void close();
}
