package org.xenhost.driver.xen;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenhost.driver.api.DomainSummary;
import org.xenhost.driver.api.DriverError;
import org.xenhost.driver.api.DriverException;
import org.xenhost.driver.job.DomainJobs;
import org.xenhost.emulator.EmulatedLibxl;
import org.xenhost.emulator.HostSettings;
import org.xenhost.libxl.DomainInfo;
import org.xenhost.libxl.DomainState;
import org.xenhost.migration.MigrationOptions;
import org.xenhost.migration.MigrationStats;
import org.xenhost.pci.HostFacts;
import org.xenhost.transport.PeerAcceptor;
import org.xenhost.transport.PeerAllowlist;
import org.xenhost.transport.Transport;
import org.xenhost.transport.TransportConfig;
import org.xenhost.transport.pki.CertificateAuthority;
import org.xenhost.transport.pki.HostCredentials;
import org.xenhost.transport.pki.SubjectAltName;
import org.xenhost.transport.pki.Validity;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two toolstacks on one Xen, as xl's own localhost migration and realxen's scenario 4 run it: both drivers share
 * one emulated hypervisor, so the destination sees the source's guest under the same name and uuid while it
 * arrives. That copy is no conflict (the cookie's host id says so); the incoming copy waits as NAME--incoming until
 * the source's copy is renamed NAME--migratedaway, and afterwards exactly one domain has the uuid.
 */
class SameHostMigrationTest {
    private static final HostFacts FACTS = XenDriverTest.FACTS;

    @TempDir
    Path tmp;
    private EmulatedLibxl xen;
    private final List<AutoCloseable> open = new ArrayList<>();
    private XenDriver a;
    private XenDriver b;
    private String endpointA;
    private String endpointB;

    @BeforeEach
    void twoDaemonsOnOneXen() throws Exception {
        xen = EmulatedLibxl.open(tmp.resolve("xen"), null, HostSettings.DEFAULT.withTotalMemory(4L << 30));
        CertificateAuthority ca = CertificateAuthority.init(tmp.resolve("pki"), "test-ca", Validity.days(2));
        Transport ta = transport(ca.issue("host-a", List.of(SubjectAltName.parse("127.0.0.1")), Validity.days(1)));
        Transport tb = transport(ca.issue("host-b", List.of(SubjectAltName.parse("127.0.0.1")), Validity.days(1)));
        PeerAcceptor accA = ta.listen(new InetSocketAddress("127.0.0.1", 0));
        PeerAcceptor accB = tb.listen(new InetSocketAddress("127.0.0.1", 0));
        open.add(accA);
        open.add(accB);
        endpointA = "127.0.0.1:" + accA.address().getPort();
        endpointB = "127.0.0.1:" + accB.address().getPort();
        a = new XenDriver(xen, tmp.resolve("a"), jobs(), () -> FACTS, ta, endpointA);
        b = new XenDriver(xen, tmp.resolve("b"), jobs(), () -> FACTS, tb, endpointB);
        a.serveMigrations(accA);
        b.serveMigrations(accB);
    }

    private Transport transport(HostCredentials creds) {
        Transport t = Transport.start(TransportConfig.builder(creds, PeerAllowlist.of(List.of("CN=host-*"))).build());
        open.add(t);
        return t;
    }

    private static DomainJobs jobs() {
        return new DomainJobs(Duration.ofMillis(200), Clock.systemUTC());
    }

    @AfterEach
    void close() throws Exception {
        a.close();
        b.close();
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
        xen.close();
    }

    private List<DomainInfo> withUuid(String uuid) {
        return xen.listDomains().stream().filter(d -> d.uuid().toString().equals(uuid)).toList();
    }

    @Test
    void aGuestMovesToTheOtherDaemonOnTheSameXenAndExactlyOneCopyRemains() throws Exception {
        DomainSummary started = a.createTransient("name = \"vm\"\ntype = \"pvh\"\nmemory = 64\nvcpus = 1\n", "vm.cfg");
        assertEquals("foreign", b.list(true).stream().filter(s -> s.name().equals("vm")).findFirst().orElseThrow().state(),
                "before: the destination daemon sees the guest, as another toolstack's");
        MigrationStats stats = a.migrate("vm", endpointB, MigrationOptions.defaults());

        assertEquals("completed", stats.outcome(), "outcome: " + stats);
        assertTrue(stats.downtimeMs() >= 0, "the migration reports its downtime: " + stats);
        List<DomainInfo> copies = withUuid(started.uuid());
        assertEquals(1, copies.size(), "exactly one domain has the guest's uuid afterwards: " + copies);
        DomainInfo moved = copies.get(0);
        assertEquals("vm", moved.name(), "the incoming copy took the guest's name");
        assertNotEquals(started.domid(), moved.domid(), "a new domain, restored from the stream");
        assertEquals(DomainState.RUNNING, moved.state());

        DomainSummary onB = b.list(false).stream().filter(s -> s.name().equals("vm")).findFirst().orElseThrow();
        assertEquals("running", onB.state(), "the destination daemon owns it: " + onB);
        assertEquals(moved.domid(), onB.domid());
        DomainSummary onA = a.list(true).stream().filter(s -> s.name().equals("vm")).findFirst().orElseThrow();
        assertEquals("foreign", onA.state(), "the source daemon sees it as another toolstack's: " + onA);
    }

    @Test
    void migratingAGuestToItsOwnDaemonIsRefusedAndTheGuestKeepsRunning() {
        DomainSummary started = a.createTransient("name = \"self\"\ntype = \"pvh\"\nmemory = 64\nvcpus = 1\n", "self.cfg");
        DriverException refused = assertThrows(DriverException.class, () -> a.migrate("self", endpointA, MigrationOptions.defaults()));
        assertEquals(DriverError.REFUSED, refused.error(), refused.getMessage());
        assertTrue(refused.getMessage().contains("this daemon's own"), refused.getMessage());
        List<DomainInfo> copies = withUuid(started.uuid());
        assertEquals(1, copies.size(), "nothing was created: " + copies);
        assertEquals("self", copies.get(0).name());
        assertEquals(DomainState.RUNNING, copies.get(0).state());
    }

    @Test
    void aDifferentGuestWithTheNameStillConflictsOnTheSameXen() {
        a.createTransient("name = \"web\"\ntype = \"pvh\"\nmemory = 64\nvcpus = 1\n", "web-a.cfg");
        b.createTransient("name = \"web2\"\ntype = \"pvh\"\nmemory = 64\nvcpus = 1\n", "web-b.cfg");
        MigrationOptions renamed = new MigrationOptions(true, false, false, false, false, 0, false, "web2", 0, null, null);
        DriverException refused = assertThrows(DriverException.class, () -> a.migrate("web", endpointB, renamed));
        assertEquals(DriverError.REFUSED, refused.error(), refused.getMessage());
        assertTrue(refused.getMessage().contains("web2"), refused.getMessage());
        assertEquals(1, xen.listDomains().stream().filter(d -> "web".equals(d.name())).count(), "the source guest stays");
    }
}
