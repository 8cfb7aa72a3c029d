package org.xenhost.transport;

import java.net.SocketAddress;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** Collects accept/refuse events so tests can wait for them. */
final class RecordingEvents implements TransportEvents {
    record Refusal(String subject, String reason) {
    }

    final LinkedBlockingQueue<Refusal> refused = new LinkedBlockingQueue<>();
    final LinkedBlockingQueue<PeerIdentity> accepted = new LinkedBlockingQueue<>();

    @Override
    public void peerAccepted(SocketAddress remote, PeerIdentity peer) {
        accepted.add(peer);
    }

    @Override
    public void peerRefused(SocketAddress remote, String subject, String reason) {
        refused.add(new Refusal(subject, reason));
    }

    Refusal nextRefusal() throws InterruptedException {
        Refusal r = refused.poll(15, TimeUnit.SECONDS);
        if (r == null) {
            throw new AssertionError("no refusal reported");
        }
        return r;
    }
}
