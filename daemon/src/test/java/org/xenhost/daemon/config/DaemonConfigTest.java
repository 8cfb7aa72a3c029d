package org.xenhost.daemon.config;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DaemonConfigTest {
    @Test
    void flagsOverrideTheFileWhichOverridesDefaults() {
        String file = "# xenhostd.conf\nstate_dir = \"/srv/xenhost\"\nhypervisor = \"emulated\"\n"
                + "listen = \"127.0.0.1:0\"\ntls_dir = \"/etc/xenhost/pki\"\ntls_name = \"h1\"\n"
                + "allow_peer = [ \"CN=h2\", \"DNS:*.example.org\" ]\n";
        Map<String, Object> flags = new HashMap<>();
        flags.put("state_dir", "/tmp/other");
        DaemonConfig c = DaemonConfig.resolve("xenhostd.conf", file, flags);
        assertEquals(Path.of("/tmp/other"), c.stateDir());
        assertEquals(Path.of("/"), c.sysfsRoot());
        assertEquals(0, c.listen().getPort());
        assertEquals(List.of("CN=h2", "DNS:*.example.org"), c.allowPeers());
        assertNull(c.adminGroup());
    }

    @Test
    void theShippedExampleFileIsValid() throws Exception {
        java.nio.file.Path example = java.nio.file.Path.of(System.getProperty("xenhost.root"), "daemon/systemd/xenhostd.conf");
        DaemonConfig c = DaemonConfig.resolve(example.toString(), java.nio.file.Files.readString(example), Map.of());
        assertEquals("native", c.hypervisor());
        assertEquals(Path.of("/run/xenhost/xenhostd.sock"), c.adminSocket());
    }

    @Test
    void unknownKeysAndBadValuesAreNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DaemonConfig.resolve("x.conf", "statedir = \"/x\"\n", Map.of()));
        assertTrue(e.getMessage().startsWith("x.conf:1: unknown setting 'statedir'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> DaemonConfig.resolve(null, null, Map.of("hypervisor", "kvm")));
        assertTrue(e.getMessage().contains("\"kvm\""), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> DaemonConfig.resolve(null, null,
                Map.of("listen", "127.0.0.1:99999", "tls_dir", "/d", "tls_name", "h")));
        assertTrue(e.getMessage().contains("port must be 0..65535"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> DaemonConfig.resolve(null, null, Map.of("listen", "127.0.0.1:0")));
        assertTrue(e.getMessage().contains("no plaintext migration port"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> DaemonConfig.resolve(null, null,
                Map.of("listen", "127.0.0.1:0", "tls_dir", "/d", "tls_name", "h")));
        assertTrue(e.getMessage().contains("allow_peer"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> DaemonConfig.resolve(null, null, Map.of("emulated_memory", "1024")));
        assertTrue(e.getMessage().contains("emulated_memory \"1024\"") && e.getMessage().contains("2048"), e.getMessage());
        assertEquals(4096, DaemonConfig.resolve(null, null, Map.of("emulated_memory", "4096")).emulatedMemoryMiB());
        for (String bad : new String[] {"0", "-5", "ten", "3601"}) {
            e = assertThrows(IllegalArgumentException.class, () -> DaemonConfig.resolve(null, null, Map.of("peer_timeout", bad)));
            assertTrue(e.getMessage().contains("peer_timeout \"" + bad + "\"") && e.getMessage().contains("1-3600"), e.getMessage());
        }
        assertEquals(120, DaemonConfig.resolve(null, null, Map.of("peer_timeout", "120")).peerTimeoutSeconds());
        assertEquals(0, DaemonConfig.resolve(null, null, Map.of()).peerTimeoutSeconds(), "unset: the transport's default");
        for (String bad : new String[] {"-1", "often", "3601"}) {
            e = assertThrows(IllegalArgumentException.class, () -> DaemonConfig.resolve(null, null, Map.of("domain_watch", bad)));
            assertTrue(e.getMessage().contains("domain_watch \"" + bad + "\"") && e.getMessage().contains("0-3600"), e.getMessage());
        }
        assertEquals(5, DaemonConfig.resolve(null, null, Map.of()).domainWatchSeconds(), "on by default");
        assertEquals(0, DaemonConfig.resolve(null, null, Map.of("domain_watch", "0")).domainWatchSeconds(), "0 turns it off");
        assertEquals(1, DaemonConfig.resolve("x.conf", "domain_watch = 1\n", Map.of()).domainWatchSeconds());
    }
}
