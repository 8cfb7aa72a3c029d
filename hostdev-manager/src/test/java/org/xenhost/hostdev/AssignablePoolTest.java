package org.xenhost.hostdev;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenhost.pci.PciAddress;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** xl pci-assignable-add/-remove/-list semantics on the emulated host over asus-p6t6, with lspci as the oracle. */
class AssignablePoolTest {
    private static final String SAS = "0000:04:00.0";   // mpt3sas behind a PCIe switch
    private static final String AUDIO = "0000:00:1b.0"; // snd_hda_intel on the root bus

    @TempDir
    Path dir;
    private EmulatedHost host;

    @AfterEach
    void close() {
        if (host != null) {
            host.close();
        }
    }

    @Test
    void addShowsPcibackInLspciAndRemoveWithRebindGivesTheOriginalDriverBack() throws Exception {
        host = EmulatedHost.of("asus-p6t6", dir);
        HostdevManager m = host.start();
        assertEquals("mpt3sas", host.lspciDriver(SAS));

        Ownership o = m.assignableAdd(PciAddress.parse(SAS), "hba0", false);
        assertEquals(DeviceState.ASSIGNABLE, o.state());
        assertEquals("mpt3sas", o.originalDriver());
        assertEquals("pciback", host.lspciDriver(SAS));
        assertEquals(List.of(new PoolDevice(PciAddress.parse(SAS), "hba0", "mpt3sas")), m.assignableList());
        assertEquals(1, host.libxl.assignableList().size());
        host.assertConsistent();

        assertEquals(PciAddress.parse(SAS), m.assignableRemove("hba0", true));
        assertEquals("mpt3sas", host.lspciDriver(SAS));
        assertTrue(m.assignableList().isEmpty());
        assertTrue(m.ownership(PciAddress.parse(SAS)).isEmpty());
        assertTrue(Files.readString(host.tree.resolve("sys/bus/pci/drivers/pciback/slots")).isBlank(),
                "pciback's slot list is left clean");
        host.assertConsistent();
    }

    @Test
    void removeWithoutRebindLeavesTheDeviceUnbound() throws Exception {
        host = EmulatedHost.of("asus-p6t6", dir);
        HostdevManager m = host.start();
        m.assignableAdd(PciAddress.parse(AUDIO), null, false);
        m.assignableRemove(AUDIO, false);
        assertNull(host.lspciDriver(AUDIO));
        host.assertConsistent();
    }

    @Test
    void addingAnAssignableDeviceAgainChangesNothing() throws Exception {
        host = EmulatedHost.of("asus-p6t6", dir);
        HostdevManager m = host.start();
        Ownership first = m.assignableAdd(PciAddress.parse(SAS), "hba0", false);
        Path journal = host.state.resolve("hostdev/journal");
        long size = Files.size(journal);
        Ownership again = m.assignableAdd(PciAddress.parse(SAS), null, false);
        assertEquals(first, again);
        assertEquals(first, m.assignableAdd(PciAddress.parse("04:00.0"), "hba0", false));
        assertEquals(size, Files.size(journal), "an idempotent add writes nothing");
        IllegalArgumentException rename = assertThrows(IllegalArgumentException.class,
                () -> m.assignableAdd(PciAddress.parse(SAS), "other", false));
        assertTrue(rename.getMessage().contains("already assignable as 'hba0'"), rename.getMessage());
    }

    @Test
    void aDevicePreBoundToPcibackIsAdoptedAtStartAndListed() throws Exception {
        host = EmulatedHost.of("asus-p6t6", dir);
        // as xen-pciback.hide= or a plain `xl pci-assignable-add` would leave it
        host.libxl.assignableAdd(Host.pci(PciAddress.parse(AUDIO)), true);
        HostdevManager m = host.start();
        assertEquals(1, m.startupFindings().size(), m.startupFindings().toString());
        assertTrue(m.startupFindings().get(0).action().contains("adopted into the assignable pool"));
        assertEquals(PciAddress.parse(AUDIO), m.assignableList().get(0).bdf());
        host.assertConsistent();
    }

    @Test
    void badInputIsNamed() throws Exception {
        host = EmulatedHost.of("asus-p6t6", dir);
        HostdevManager m = host.start();
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
                () -> m.assignableAdd(PciAddress.parse("0000:0a:00.0"), null, false));
        assertTrue(unknown.getMessage().contains("unknown device 0000:0a:00.0"), unknown.getMessage());
        IllegalArgumentException bridge = assertThrows(IllegalArgumentException.class,
                () -> m.assignableAdd(PciAddress.parse("0000:00:1c.0"), null, false));
        assertTrue(bridge.getMessage().contains("0000:00:1c.0 is a bridge"), bridge.getMessage());
        IllegalArgumentException name = assertThrows(IllegalArgumentException.class,
                () -> m.assignableAdd(PciAddress.parse(SAS), "two words", false));
        assertTrue(name.getMessage().contains("'two words'"), name.getMessage());
        IllegalArgumentException notInPool = assertThrows(IllegalArgumentException.class,
                () -> m.assignableRemove(SAS, true));
        assertTrue(notInPool.getMessage().contains("not in the assignable pool (bound to dom0 driver mpt3sas)"),
                notInPool.getMessage());
        IllegalArgumentException noSuchName = assertThrows(IllegalArgumentException.class,
                () -> m.assignableRemove("gpu0", true));
        assertTrue(noSuchName.getMessage().contains("'gpu0' is neither a PCI address"), noSuchName.getMessage());
        assertEquals("mpt3sas", host.driver(SAS));
        assertTrue(m.ownerships().isEmpty());
    }

    @Test
    void withoutPcibackTheOperatorIsToldToLoadIt() throws Exception {
        host = EmulatedHost.of("asus-p6t6", dir);
        host.libxl.kernel().unloadPciback();
        HostdevManager m = host.start();
        HostdevException e = assertThrows(HostdevException.class,
                () -> m.assignableAdd(PciAddress.parse(SAS), null, false));
        assertTrue(e.getMessage().contains("modprobe xen-pciback"), e.getMessage());
        assertEquals("mpt3sas", host.driver(SAS));
        assertTrue(m.ownerships().isEmpty());
    }

    @Test
    void readOnlySysfsIsRefusedBeforeAnythingMoves() throws Exception {
        host = EmulatedHost.of("asus-p6t6", dir);
        HostdevManager m = host.start();
        String tree = host.tree.toString();
        run("mount", "--bind", tree, tree);
        try {
            run("mount", "-o", "remount,ro,bind", tree);
            HostdevException e = assertThrows(HostdevException.class,
                    () -> m.assignableAdd(PciAddress.parse(SAS), null, false));
            assertTrue(e.getMessage().contains("read-only"), e.getMessage());
            assertFalse(e.getMessage().contains("modprobe"), e.getMessage());
        } finally {
            run("umount", tree);
        }
        assertEquals("mpt3sas", host.driver(SAS));
        assertTrue(m.ownerships().isEmpty());
    }

    private static void run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).inheritIO().start();
        assertEquals(0, p.waitFor(), String.join(" ", cmd));
    }
}
