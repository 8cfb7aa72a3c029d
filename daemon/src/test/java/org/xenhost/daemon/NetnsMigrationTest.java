package org.xenhost.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.xenhost.transport.pki.CertificateAuthority;
import org.xenhost.transport.pki.SubjectAltName;
import org.xenhost.transport.pki.Validity;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two hosts in their own network namespaces joined by a veth pair limited to 1 Gbit/s with tc tbf (set up and
 * torn down here, as root); traffic only between the namespaces' own addresses. Each daemon runs inside its
 * namespace; the CLI reaches it over its UNIX socket, which network namespaces do not separate.
 */
@Timeout(300)
class NetnsMigrationTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;
    private final String tag = Long.toString(ProcessHandle.current().pid() % 100000, 36);
    private final String nsA = "xha-" + tag;
    private final String nsB = "xhb-" + tag;
    private final String vethA = "xva" + tag;
    private final String vethB = "xvb" + tag;
    private final int subnet = (int) (ProcessHandle.current().pid() % 200) + 20;
    private final String ipA = "10.199." + subnet + ".1";
    private final String ipB = "10.199." + subnet + ".2";

    @BeforeEach
    void link() throws Exception {
        sh("ip", "netns", "add", nsA);
        sh("ip", "netns", "add", nsB);
        sh("ip", "link", "add", vethA, "type", "veth", "peer", "name", vethB);
        sh("ip", "link", "set", vethA, "netns", nsA);
        sh("ip", "link", "set", vethB, "netns", nsB);
        for (String[] side : new String[][] {{nsA, vethA, ipA}, {nsB, vethB, ipB}}) {
            sh("ip", "-n", side[0], "addr", "add", side[2] + "/24", "dev", side[1]);
            sh("ip", "-n", side[0], "link", "set", side[1], "up");
            sh("ip", "-n", side[0], "link", "set", "lo", "up");
            sh("tc", "-n", side[0], "qdisc", "add", "dev", side[1], "root", "tbf", "rate", "1gbit", "burst", "256kb", "latency", "50ms");
        }
    }

    @AfterEach
    void unlink() throws Exception {
        // deleting the namespaces deletes the veth pair with them
        for (String ns : List.of(nsA, nsB)) {
            new ProcessBuilder("ip", "netns", "del", ns).redirectErrorStream(true).start().waitFor(30, TimeUnit.SECONDS);
        }
    }

    private static void sh(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", cmd) + " failed: " + out);
        }
    }

    private DaemonProcess[] daemons() throws IOException {
        Path pki = tmp.resolve("pki");
        CertificateAuthority ca = CertificateAuthority.init(pki, "test-ca", Validity.days(2));
        ca.issue("host-a", List.of(SubjectAltName.parse(ipA)), Validity.days(1));
        ca.issue("host-b", List.of(SubjectAltName.parse(ipB)), Validity.days(1));
        DaemonProcess a = new DaemonProcess(tmp.resolve("a/state"), tmp.resolve("a/sock"), "--listen", ipA + ":16514",
                "--tls-dir", pki.toString(), "--tls-name", "host-a", "--allow-peer", "CN=host-*").inNetns(nsA);
        DaemonProcess b = new DaemonProcess(tmp.resolve("b/state"), tmp.resolve("b/sock"), "--listen", ipB + ":16514",
                "--tls-dir", pki.toString(), "--tls-name", "host-b", "--allow-peer", "CN=host-*").inNetns(nsB);
        return new DaemonProcess[] {a, b};
    }

    private Path cfg(String name, int memoryMiB, String dirtyRate) throws IOException {
        Path f = tmp.resolve(name + ".cfg");
        Files.writeString(f, "name = \"" + name + "\"\ntype = \"pvh\"\nmemory = " + memoryMiB + "\nvcpus = 2\n"
                + "emulated_dirty_rate = \"" + dirtyRate + "\"\n");
        return f;
    }

    private static String state(DaemonProcess d, String name) throws IOException {
        for (JsonNode n : JSON.readTree(d.ok("list", "--all", "--json"))) {
            if (n.path("name").asText().equals(name)) {
                return n.path("state").asText();
            }
            if (n.path("name").asText().startsWith(name + "--")) {
                return n.path("name").asText();
            }
        }
        return null;
    }


    private static BooleanSupplier oneCopy(DaemonProcess runs, DaemonProcess other, String name) {
        return () -> {
            try {
                return "running".equals(state(runs, name)) && state(other, name) == null;
            } catch (IOException | RuntimeException | AssertionError e) {
                return false;
            }
        };
    }

    @Test
    void liveDebugMigrationOverA1GbitLink() throws Exception {
        DaemonProcess[] d = daemons();
        try (DaemonProcess a = d[0].start(); DaemonProcess b = d[1].start()) {
            a.ok("create", cfg("web", 512, "20M").toString());
            Thread.sleep(1000);
            String out = a.ok("migrate", "web", ipB + ":16514", "--debug", "--json");
            String[] lines = out.split("\n");
            JsonNode last = JSON.readTree(lines[lines.length - 1]);
            assertEquals("completed", last.path("event").asText(), out);
            assertTrue(last.path("downtimeMs").asLong(-1) >= 0, last.toString());
            DaemonProcess.await("web on b only", oneCopy(b, a, "web"));
        }
    }

    @Test
    void linkCutMidStreamLeavesTheGuestAtTheSource() throws Exception {
        DaemonProcess[] d = daemons();
        try (DaemonProcess a = d[0].start(); DaemonProcess b = d[1].start()) {
            a.ok("create", cfg("web", 256, "64M").toString());
            Thread.sleep(1500);
            CompletableFuture<DaemonProcess.Cli> m = CompletableFuture.supplyAsync(() -> a.cli("migrate", "web", ipB + ":16514", "--bandwidth", "16"));
            DaemonProcess.await("the stream under way", () -> {
                DaemonProcess.Cli r = a.cli("domjobinfo", "web", "--json");
                try {
                    return r.exit() == 0 && JSON.readTree(r.out()).path("migration").path("bytes").asLong() > (8 << 20);
                } catch (IOException e) {
                    return false;
                }
            });
            sh("ip", "-n", nsA, "link", "set", vethA, "down");
            DaemonProcess.Cli r = m.get(120, TimeUnit.SECONDS);
            assertEquals(1, r.exit(), r.out());
            DaemonProcess.await("web on a only", oneCopy(a, b, "web"));
            assertNull(state(b, "web"));
        }
    }
}
