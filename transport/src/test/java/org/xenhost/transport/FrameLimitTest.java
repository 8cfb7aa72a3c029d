package org.xenhost.transport;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bounds checked before anything goes on the wire. */
class FrameLimitTest {
    @Test
    void controlMessagesAreBoundedAndVersioned() {
        assertThrows(IllegalArgumentException.class, () -> new ControlMessage("x", 1, new byte[ControlMessage.MAX_BODY + 1]));
        assertThrows(IllegalArgumentException.class, () -> new ControlMessage("Upper", 1, null));
        assertThrows(IllegalArgumentException.class, () -> new ControlMessage("x", 0, null));
        assertThrows(IllegalArgumentException.class, () -> new ControlMessage("x", 65536, null));
        byte[] body = {1, 2, 3};
        ControlMessage m = new ControlMessage("migration.prepare", 2, body);
        body[0] = 9;
        assertEquals(1, m.body()[0], "the message holds its own copy");
    }

    @Test
    void allowlistPatternsMatchSubjectsAndSans() {
        PeerAllowlist a = PeerAllowlist.of(List.of("CN=host-?,O=xenhost", "dns:*.rack1.example", "ip:10.0.0.*"));
        assertTrue(a.allows(new PeerIdentity("CN=host-b,O=xenhost", List.of(), List.of())));
        assertTrue(!a.allows(new PeerIdentity("CN=host-bb,O=xenhost", List.of(), List.of())));
        assertTrue(a.allows(new PeerIdentity("CN=z", List.of("n1.rack1.example"), List.of())));
        assertTrue(a.allows(new PeerIdentity("CN=z", List.of(), List.of("10.0.0.5"))));
        assertTrue(!a.allows(new PeerIdentity("CN=z", List.of("rack1.example.evil"), List.of("10.0.1.5"))));
        assertThrows(IllegalArgumentException.class, () -> PeerAllowlist.of(List.of()));
        assertThrows(IllegalArgumentException.class, () -> PeerAllowlist.of(List.of("dns:")));
    }

    @Test
    void configurationRejectsUnsafeLimits() throws Exception {
        TestPki pki = new TestPki();
        TransportConfig.Builder b = pki.config("host-a");
        assertThrows(IllegalArgumentException.class, () -> b.maxFrameSize(TransportConfig.MAX_FRAME + 1).build());
        assertThrows(IllegalArgumentException.class, () -> pki.config("host-a").streamWindow(1024).build());
        assertThrows(IllegalArgumentException.class, () -> pki.config("host-a").keepaliveInterval(Duration.ofSeconds(20)).build());
    }
}
