package org.xenhost.hostdev;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenhost.libxl.LibxlDevicePci;
import org.xenhost.libxl.RdmPolicy;
import org.xenhost.libxl.pcispec.PciSpecParser;
import org.xenhost.pci.PciAddress;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Attach/detach to running domains on the emulated host, with every libxl_device_pci option. */
class HotplugTest {
    private static final PciAddress SAS = PciAddress.parse("0000:04:00.0");
    private static final PciAddress AUDIO = PciAddress.parse("0000:00:1b.0");

    @TempDir
    Path dir;
    private EmulatedHost host;

    @AfterEach
    void close() {
        if (host != null) {
            host.close();
        }
    }

    private LibxlDevicePci listed(int domid, PciAddress a) throws Exception {
        return host.libxl.pciList(domid).stream().filter(p -> Host.address(p).equals(a)).findFirst().orElseThrow();
    }

    @Test
    void everyOptionReachesLibxlAndDetachReturnsTheDeviceToThePool() throws Exception {
        host = EmulatedHost.of("asus-p6t6", dir);
        HostdevManager m = host.start();
        int domid = host.createDomain("guest1", "hvm");
        m.assignableAdd(SAS, null, false);

        AttachResult r = m.attach("guest1", PciSpecParser.parse(
                "0000:04:00.0@5,permissive=1,msitranslate=1,power_mgmt=1,rdm_policy=relaxed"), false);
        assertEquals(List.of(SAS), r.devices());
        assertEquals(ResetMethod.FLR, r.resets().get(0).method(), r.resets().toString());
        LibxlDevicePci p = listed(domid, SAS);
        assertEquals(5 << 3, p.vdevfn());
        assertTrue(p.permissive() && p.msitranslate() && p.powerMgmt());
        assertEquals(RdmPolicy.RELAXED, p.rdmPolicy());
        assertTrue(Files.readString(host.tree.resolve("sys/bus/pci/drivers/pciback/permissive")).contains(SAS.toString()),
                "pciback was told the device is permissive");
        Ownership o = m.ownership(SAS).orElseThrow();
        assertEquals(DeviceState.ATTACHED, o.state());
        assertEquals("guest1", o.owner().name());
        assertTrue(m.assignableList().isEmpty(), "an attached device is not assignable");
        host.assertConsistent();

        m.detach(Integer.toString(domid), SAS, false);
        assertTrue(host.libxl.pciList(domid).isEmpty());
        assertEquals(DeviceState.ASSIGNABLE, m.ownership(SAS).orElseThrow().state());
        assertEquals(SAS, m.assignableList().get(0).bdf());
        host.assertConsistent();
    }

    @Test
    void seizeTakesTheDeviceFromDom0AndOtherwiseTheOperatorIsToldToAddItFirst() throws Exception {
        host = EmulatedHost.of("asus-p6t6", dir);
        HostdevManager m = host.start();
        host.createDomain("guest1", "hvm");
        DeviceRefusedException e = assertThrows(DeviceRefusedException.class,
                () -> m.attach("guest1", PciSpecParser.parse("04:00.0"), false));
        assertTrue(e.getMessage().contains("0000:04:00.0 is not assignable (bound to dom0 driver mpt3sas)"),
                e.getMessage());
        assertTrue(e.getMessage().contains("xenhost pci assignable-add 0000:04:00.0"), e.getMessage());
        assertEquals("mpt3sas", host.driver(SAS.toString()));

        m.attach("guest1", PciSpecParser.parse("04:00.0,seize=1"), false);
        assertEquals("pciback", host.driver(SAS.toString()));
        assertEquals("mpt3sas", m.ownership(SAS).orElseThrow().originalDriver());
        host.assertConsistent();
    }

    @Test
    void wholeMultiFunctionDeviceNeedsAVslotAndThenEveryFunctionGoes() throws Exception {
        host = EmulatedHost.of("gpu-audio", dir);
        HostdevManager m = host.start();
        int domid = host.createDomain("gamer", "hvm");
        IllegalArgumentException noSlot = assertThrows(IllegalArgumentException.class,
                () -> m.attach("gamer", PciSpecParser.parse("06:00.*,seize=1"), false));
        assertTrue(noSlot.getMessage().contains("conflicting options") && noSlot.getMessage().contains("vslot"),
                noSlot.getMessage());
        assertEquals("nouveau", host.driver("0000:06:00.0"));

        AttachResult r = m.attach("gamer", PciSpecParser.parse("06:00.*@6,seize=1"), false);
        assertEquals(2, r.devices().size());
        assertEquals(6 << 3, listed(domid, PciAddress.parse("0000:06:00.0")).vdevfn());
        assertEquals(6 << 3 | 1, listed(domid, PciAddress.parse("0000:06:00.1")).vdevfn());
        // together, the bus reset that neither could have alone is allowed
        assertTrue(r.resets().stream().allMatch(p -> p.method() == ResetMethod.BUS), r.resets().toString());
        host.assertConsistent();
    }

    @Test
    void conflictsAcrossDomainsAndUnknownsAreRefusedByName() throws Exception {
        host = EmulatedHost.of("asus-p6t6", dir);
        HostdevManager m = host.start();
        int one = host.createDomain("guest1", "hvm");
        host.createDomain("guest2", "hvm");
        m.assignableAdd(SAS, "hba", false);
        m.attach("guest1", PciSpecParser.parse("name=hba"), false);

        DeviceRefusedException other = assertThrows(DeviceRefusedException.class,
                () -> m.attach("guest2", PciSpecParser.parse("04:00.0"), false));
        assertTrue(other.getMessage().contains("0000:04:00.0 is owned by domain guest1 (domid " + one + ")"),
                other.getMessage());
        DeviceRefusedException twice = assertThrows(DeviceRefusedException.class,
                () -> m.attach("guest1", PciSpecParser.parse("04:00.0"), false));
        assertTrue(twice.getMessage().contains("already attached to domain guest1"), twice.getMessage());
        IllegalArgumentException remove = assertThrows(IllegalArgumentException.class,
                () -> m.assignableRemove("hba", true));
        assertTrue(remove.getMessage().contains("attached to domain guest1"), remove.getMessage());
        IllegalArgumentException notThere = assertThrows(IllegalArgumentException.class,
                () -> m.detach("guest2", SAS, false));
        assertTrue(notThere.getMessage().contains("not attached to domain guest2")
                && notThere.getMessage().contains("belongs to domain guest1"), notThere.getMessage());
        IllegalArgumentException unknownDomain = assertThrows(IllegalArgumentException.class,
                () -> m.attach("nosuch", PciSpecParser.parse("00:1b.0"), false));
        assertTrue(unknownDomain.getMessage().contains("unknown domain 'nosuch'"), unknownDomain.getMessage());
        IllegalArgumentException unknownDomid = assertThrows(IllegalArgumentException.class,
                () -> m.detach("4242", SAS, false));
        assertTrue(unknownDomid.getMessage().contains("unknown domain '4242'"), unknownDomid.getMessage());
        IllegalArgumentException dom0 = assertThrows(IllegalArgumentException.class,
                () -> m.attach("0", PciSpecParser.parse("00:1b.0"), false));
        assertTrue(dom0.getMessage().contains("dom0"), dom0.getMessage());
        IllegalArgumentException unknownDevice = assertThrows(IllegalArgumentException.class,
                () -> m.attach("guest2", PciSpecParser.parse("0000:0b:00.0,seize=1"), false));
        assertTrue(unknownDevice.getMessage().contains("unknown device 0000:0b:00.0"), unknownDevice.getMessage());
        assertEquals(one, m.ownership(SAS).orElseThrow().owner().domid());
        host.assertConsistent();
    }

    @Test
    void aDeviceThatVanishesWhileAssignedIsForgottenOnDetach() throws Exception {
        host = EmulatedHost.of("asus-p6t6", dir);
        HostdevManager m = host.start();
        int domid = host.createDomain("guest1", "hvm");
        m.attach("guest1", PciSpecParser.parse("00:1b.0,seize=1"), false);
        // hot-unplug: the kernel removes the device's sysfs entries
        Files.delete(host.tree.resolve("sys/bus/pci/devices/0000:00:1b.0"));
        m.detach("guest1", AUDIO, true);
        assertTrue(host.libxl.pciList(domid).isEmpty());
        assertFalse(m.ownership(AUDIO).isPresent());
    }
}
