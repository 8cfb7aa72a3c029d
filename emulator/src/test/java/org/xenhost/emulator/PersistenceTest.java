package org.xenhost.emulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenhost.emulator.domain.EmulatedDomain;
import org.xenhost.libxl.DomainInfo;
import org.xenhost.libxl.DomainState;
import org.xenhost.libxl.LibxlError;
import org.xenhost.libxl.LibxlException;

/** The emulated hypervisor outlives the process running it, and two emulated hosts do not share anything. */
class PersistenceTest {
    @TempDir
    Path tmp;

    @Test
    void guestsSurviveKillDashNineAndKeepRunning() throws Exception {
        Path dir = tmp.resolve("host");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                EmulatorChildMain.class.getName(), dir.toString()).redirectErrorStream(true).start();
        long lastSteps;
        int domid;
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
            String line = out.readLine();
            assertTrue(line != null && line.startsWith("READY "), "child said: " + line);
            domid = Integer.parseInt(line.substring(6).trim());
            lastSteps = 0;
            for (int i = 0; i < 8; i++) {
                line = out.readLine();
                lastSteps = Long.parseLong(line.substring(6).trim());
            }
            assertTrue(lastSteps > 0, "the child's guest dirties memory");
            // while the child holds it, nobody else may open the same host
            IOException busy = assertThrows(IOException.class, () -> TestHosts.open(dir));
            assertTrue(busy.getMessage().contains("already open"), busy.getMessage());
        } finally {
            child.destroyForcibly(); // SIGKILL
            assertTrue(child.waitFor(30, TimeUnit.SECONDS));
        }
        assertEquals(137, child.exitValue(), "killed by SIGKILL");

        try (EmulatedLibxl host = TestHosts.open(dir)) {
            List<DomainInfo> domains = host.listDomains();
            assertEquals(2, domains.size(), "dom0 and the guest: " + domains);
            DomainInfo guest = host.domainInfo(domid);
            assertEquals("persist", guest.name());
            assertEquals(DomainState.RUNNING, guest.state());
            EmulatedDomain d = host.hypervisor().domain(domid).orElseThrow();
            long s1 = d.workloadSteps();
            assertTrue(s1 >= lastSteps, "the workload continues from where it was killed: " + s1 + " < " + lastSteps);
            String m1 = d.memory().digest();
            TestHosts.sleep(Duration.ofMillis(300));
            assertTrue(d.workloadSteps() > s1, "the workload resumed");
            assertNotEquals(m1, d.memory().digest(), "memory keeps changing");
            // a new domain does not reuse the live guest's id
            int next = host.createDomain(TestHosts.config("second", "pvh", 1, 0, 0), true);
            assertTrue(next > domid, "domid " + next + " after " + domid);
        }
    }

    @Test
    void twoHostsOnOneMachineAreIndependent() throws Exception {
        try (EmulatedLibxl a = TestHosts.open(tmp.resolve("a")); EmulatedLibxl b = TestHosts.open(tmp.resolve("b"))) {
            long freeB = b.hostInfo().freeMemoryKb();
            int da = a.createDomain(TestHosts.config("same-name", "pvh", 512, 0, 0), false);
            int db = b.createDomain(TestHosts.config("same-name", "hvm", 8, 0, 0), true);
            assertEquals(1, da);
            assertEquals(1, db);
            assertEquals(freeB - 8 * 1024, b.hostInfo().freeMemoryKb(), "b's memory is charged only for b's guest");
            a.destroy(da);
            assertEquals(DomainState.PAUSED, b.domainInfo(db).state());
            assertEquals(LibxlError.DOMAIN_NOTFOUND,
                    assertThrows(LibxlException.class, () -> a.domainInfo(da)).error());
        }
    }
}
