package org.xenhost.hostdev;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenhost.libxl.pcispec.PciSpecParser;
import org.xenhost.pci.PciAddress;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * For every step of add, remove, attach, detach and managed start/stop: xenhost dies at that step (before it, so
 * every earlier step is done), a new manager starts on the same state directory with Xen, xenstore and sysfs as
 * the dead one left them, and reconciles. Afterwards the journal agrees with sysfs and libxl, nothing is pending,
 * no device is in two domains, and each device is where the rule says: with its owner, or in the pool (or back
 * with dom0 for a managed device or a remove that had begun).
 */
class CrashRecoveryTest {
    private static final PciAddress SAS = PciAddress.parse("0000:04:00.0");
    private static final List<String> VFS = List.of("0000:02:10.0", "0000:02:10.2", "0000:02:10.4");

    @TempDir
    Path dir;
    private EmulatedHost host;

    @AfterEach
    void close() {
        if (host != null) {
            host.close();
        }
    }

    /** Dies at one step of one operation, optionally after doing part of that step's work itself. */
    private static final class CrashAt implements StepHook {
        volatile String op;
        volatile int step;
        volatile IoAction partial;

        interface IoAction {
            void run() throws IOException;
        }

        void arm(String operation, int atStep, IoAction partialWork) {
            op = operation;
            step = atStep;
            partial = partialWork;
        }

        @Override
        public void before(String operation, int s, String name, List<PciAddress> devices) {
            if (operation.equals(op) && s == step) {
                op = null;
                try {
                    if (partial != null) {
                        partial.run();
                    }
                } catch (IOException e) {
                    throw new AssertionError(e);
                }
                throw new SimulatedCrash(operation + " at step " + s + " (" + name + ")");
            }
        }
    }

    private final CrashAt crash = new CrashAt();

    private HostdevManager crashAndRestart(String op, int step, CrashAt.IoAction partial, ThrowingRun operation)
            throws Exception {
        crash.arm(op, step, partial);
        SimulatedCrash died = assertThrows(SimulatedCrash.class, operation::run, op + " step " + step);
        assertTrue(died.getMessage().contains("step " + step));
        HostdevManager m = host.restart(crash);
        try {
            host.assertConsistent();
        } catch (AssertionError e) {
            throw new AssertionError(op + ", crash at step " + step + ": " + e.getMessage() + "\nfindings: "
                    + m.startupFindings(), e);
        }
        return m;
    }

    @FunctionalInterface
    interface ThrowingRun {
        void run() throws Exception;
    }

    private String where(PciAddress a) throws IOException {
        Ownership o = host.manager.ownership(a).orElse(null);
        return (o == null ? "HOST" : o.state().name()) + "/" + host.driver(a.toString());
    }

    @Test
    void assignableAddAndRemove() throws Exception {
        host = EmulatedHost.of("asus-p6t6", dir);
        host.start(crash);
        List<String> seen = new ArrayList<>();
        for (int step = 1; step <= 4; step++) {
            HostdevManager m = crashAndRestart("assignable-add", step, null,
                    () -> host.manager.assignableAdd(SAS, "hba", false));
            String expected = step < 4 ? "HOST/mpt3sas" : "ASSIGNABLE/pciback";
            assertEquals(expected, where(SAS), "add, crash at step " + step + "; findings " + m.startupFindings());
            seen.add(where(SAS));
            if (step == 4) {
                assertEquals("hba", m.ownership(SAS).orElseThrow().name(), "the name survives");
                assertEquals("mpt3sas", m.ownership(SAS).orElseThrow().originalDriver());
            }
            if (m.ownership(SAS).isPresent()) {
                m.assignableRemove(SAS.toString(), true);
            }
        }
        // libxl itself dies between unbinding the dom0 driver and binding pciback: the device is with nobody
        HostdevManager m = crashAndRestart("assignable-add", 3, () -> host.libxl.kernel().write(
                Path.of("sys/bus/pci/drivers/mpt3sas/unbind"), SAS.toString()),
                () -> host.manager.assignableAdd(SAS, null, false));
        assertEquals("ASSIGNABLE/pciback", where(SAS), m.startupFindings().toString());
        assertTrue(m.startupFindings().stream().anyMatch(f -> f.found().contains("bound to no driver")
                && f.action().contains("/sys/bus/pci/drivers/mpt3sas/bind")), m.startupFindings().toString());
        // libxl died before it recorded the dom0 driver, so a remove with rebind cannot restore it: the operator
        // binds it as the finding says, and it is added again so that libxl remembers mpt3sas
        m.assignableRemove(SAS.toString(), true);
        assertEquals("HOST/null", where(SAS));
        host.libxl.kernel().write(Path.of("sys/bus/pci/drivers/mpt3sas/bind"), SAS.toString());
        m.assignableAdd(SAS, null, false);

        for (int step = 1; step <= 4; step++) {
            m = crashAndRestart("assignable-remove", step, null,
                    () -> host.manager.assignableRemove(SAS.toString(), true));
            String expected = step < 4 ? "ASSIGNABLE/pciback" : "HOST/mpt3sas";
            assertEquals(expected, where(SAS), "remove, crash at step " + step + "; findings " + m.startupFindings());
            if (step == 4) {
                m.assignableAdd(SAS, null, false);
            }
        }
        // libxl dies after unbinding pciback, before binding mpt3sas again: the remove is finished through libxl
        m = crashAndRestart("assignable-remove", 3, () -> host.libxl.kernel().write(
                Path.of("sys/bus/pci/drivers/pciback/unbind"), SAS.toString()),
                () -> host.manager.assignableRemove(SAS.toString(), true));
        assertEquals("HOST/mpt3sas", where(SAS), m.startupFindings().toString());
        assertEquals("mpt3sas", host.lspciDriver(SAS.toString()));
    }

    @Test
    void attachAndDetach() throws Exception {
        host = EmulatedHost.of("asus-p6t6", dir);
        HostdevManager m = host.start(crash);
        int domid = host.createDomain("guest1", "hvm");
        m.assignableAdd(SAS, null, false);
        for (int step = 1; step <= 5; step++) {
            m = crashAndRestart("attach", step, null,
                    () -> host.manager.attach("guest1", PciSpecParser.parse("04:00.0@4,permissive=1"), false));
            String expected = step < 5 ? "ASSIGNABLE/pciback" : "ATTACHED/pciback";
            assertEquals(expected, where(SAS), "attach, crash at step " + step + "; findings " + m.startupFindings());
            if (step == 5) {
                assertEquals(domid, m.ownership(SAS).orElseThrow().owner().domid());
                m.detach("guest1", SAS, false);
            }
        }
        // seize from dom0, dying after the seize (step 3 done)
        m.assignableRemove(SAS.toString(), true);
        m = crashAndRestart("attach", 4, null,
                () -> host.manager.attach("guest1", PciSpecParser.parse("04:00.0,seize=1"), false));
        assertEquals("ASSIGNABLE/pciback", where(SAS), "a seized device not yet attached is in the pool");

        m.attach("guest1", PciSpecParser.parse("04:00.0"), false);
        for (int step = 1; step <= 4; step++) {
            m = crashAndRestart("detach", step, null, () -> host.manager.detach("guest1", SAS, false));
            String expected = step < 4 ? "ATTACHED/pciback" : "ASSIGNABLE/pciback";
            assertEquals(expected, where(SAS), "detach, crash at step " + step + "; findings " + m.startupFindings());
            if (step == 4) {
                m.attach("guest1", PciSpecParser.parse("04:00.0"), false);
            }
        }
        // the domain dies while xenhost is down: its device comes back to the pool
        m.close();
        host.libxl.destroy(domid);
        m = host.restart(crash);
        host.assertConsistent();
        assertEquals("ASSIGNABLE/pciback", where(SAS), m.startupFindings().toString());
    }

    @Test
    void managedStartAndStop() throws Exception {
        host = EmulatedHost.of("sriov-82576", dir);
        HostdevManager m = host.start(crash);
        host.createDomain("vm", "hvm");
        List<HostdevSpec> specs = new ArrayList<>();
        for (String vf : VFS) {
            specs.add(new HostdevSpec(PciSpecParser.parse(vf), true));
        }
        for (int step = 1; step <= 6; step++) {
            m = crashAndRestart("managed-start", step, null, () -> host.manager.startDomainDevices("vm", specs));
            for (String vf : VFS) {
                String expected = step < 6 ? "HOST/igbvf" : "ATTACHED/pciback";
                assertEquals(expected, where(PciAddress.parse(vf)),
                        "start, crash at step " + step + "; findings " + m.startupFindings());
            }
            if (step == 6) {
                assertTrue(m.ownership(PciAddress.parse(VFS.get(0))).orElseThrow().managed());
                m.stopDomainDevices("vm");
            }
        }
        for (int step = 1; step <= 6; step++) {
            m.startDomainDevices("vm", specs);
            m = crashAndRestart("managed-stop", step, null, () -> host.manager.stopDomainDevices("vm"));
            for (String vf : VFS) {
                String expected = step <= 3 ? "ATTACHED/pciback" : "HOST/igbvf";
                assertEquals(expected, where(PciAddress.parse(vf)),
                        "stop, crash at step " + step + "; findings " + m.startupFindings());
            }
            if (step <= 3) {
                m.stopDomainDevices("vm");
            }
            for (String vf : VFS) {
                assertEquals("igbvf", host.driver(vf));
            }
        }
        assertTrue(m.ownerships().isEmpty());
        assertFalse(host.attached().containsKey(PciAddress.parse(VFS.get(0))));
    }
}
