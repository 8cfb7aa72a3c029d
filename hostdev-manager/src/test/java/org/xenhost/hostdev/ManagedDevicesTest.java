package org.xenhost.hostdev;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.xenhost.libxl.LibxlDevicePci;
import org.xenhost.libxl.pcispec.PciSpecParser;
import org.xenhost.pci.PciAddress;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * libvirt's virhostdevtest round trips, translated: three hostdevs (three 82576 VFs on igbvf, each in its own IOMMU
 * group, as virhostdevtest's 0000:00:01-03.0), one domain and a second one for conflicts. "inactive" is our pool,
 * "active" is what libxl shows attached.
 */
class ManagedDevicesTest {
    private static final List<String> VFS = List.of("0000:02:10.0", "0000:02:10.2", "0000:02:10.4");

    @TempDir
    Path dir;
    private EmulatedHost host;
    private HostdevManager m;

    @AfterEach
    void close() {
        if (host != null) {
            host.close();
        }
    }

    private void open() throws Exception {
        host = EmulatedHost.of("sriov-82576", dir);
        m = host.start();
        host.createDomain("test_domain", "hvm");
        host.createDomain("test_domain1", "hvm");
    }

    private static List<HostdevSpec> specs(boolean managed) {
        List<HostdevSpec> out = new ArrayList<>();
        for (String vf : VFS) {
            out.add(new HostdevSpec(PciSpecParser.parse(vf), managed));
        }
        return out;
    }

    private void assertCounts(int pool, int active) throws Exception {
        assertEquals(pool, host.poolSize(), "devices in the pool");
        assertEquals(active, host.attached().size(), "devices attached");
        host.assertConsistent();
    }

    private void assertAllOnIgbvf() throws IOException {
        for (String vf : VFS) {
            assertEquals("igbvf", host.driver(vf), vf);
        }
    }

    private void nodeDetachAll() throws Exception {
        int before = host.poolSize();
        for (String vf : VFS) {
            m.assignableAdd(PciAddress.parse(vf), null, false);
            assertEquals(++before, host.poolSize());
        }
    }

    private void nodeReattachAll() throws Exception {
        int before = host.poolSize();
        for (String vf : VFS) {
            m.assignableRemove(vf, true);
            assertEquals(--before, host.poolSize());
        }
        assertAllOnIgbvf();
    }

    private void conflicts() {
        for (String domain : List.of("test_domain", "test_domain1")) {
            assertThrows(IllegalArgumentException.class, () -> m.startDomainDevices(domain, specs(true)), domain);
        }
    }

    @Test
    void roundtripNoGuest() throws Exception {
        open();
        nodeDetachAll();
        assertCounts(3, 0);
        nodeReattachAll();
        assertCounts(0, 0);
    }

    @Test
    void roundtripUnmanaged() throws Exception {
        open();
        nodeDetachAll();
        assertEquals(0, m.startDomainDevices("test_domain", List.of()).devices().size());
        AttachResult r = m.startDomainDevices("test_domain", specs(false));
        assertEquals(3, r.devices().size());
        assertTrue(r.resets().stream().allMatch(p -> p.method() == ResetMethod.FLR), r.resets().toString());
        assertCounts(0, 3);
        conflicts();
        assertCounts(0, 3);
        StopResult s = m.stopDomainDevices("test_domain");
        assertEquals(3, s.pooled().size());
        assertTrue(s.problems().isEmpty(), s.problems().toString());
        assertCounts(3, 0);
        assertEquals(0, m.stopDomainDevices("test_domain").pooled().size(), "a second stop has nothing to do");
        nodeReattachAll();
    }

    @Test
    void roundtripManaged() throws Exception {
        open();
        m.startDomainDevices("test_domain", specs(true));
        assertCounts(0, 3);
        conflicts();
        assertCounts(0, 3);
        StopResult s = m.stopDomainDevices("test_domain");
        assertEquals(3, s.returned().size(), s.toString());
        assertCounts(0, 0);
        assertAllOnIgbvf();
        assertTrue(m.ownerships().isEmpty());
    }

    @Test
    void roundtripMixed() throws Exception {
        open();
        nodeDetachAll();
        m.startDomainDevices("test_domain", specs(true));
        assertCounts(0, 3);
        m.stopDomainDevices("test_domain");
        // managed devices that were already in the pool go back to the pool, where they were
        assertCounts(3, 0);
        nodeReattachAll();
    }

    @Test
    void theSameDeviceTwiceInOneRequestAndUnmanagedOutsideThePoolAreRefused() throws Exception {
        open();
        List<HostdevSpec> twice = new ArrayList<>(specs(true));
        twice.add(new HostdevSpec(PciSpecParser.parse("02:10.2"), true));
        DeviceRefusedException dup = assertThrows(DeviceRefusedException.class,
                () -> m.startDomainDevices("test_domain", twice));
        assertTrue(dup.getMessage().contains("0000:02:10.2 is listed twice"), dup.getMessage());
        DeviceRefusedException unmanaged = assertThrows(DeviceRefusedException.class,
                () -> m.startDomainDevices("test_domain", specs(false)));
        assertTrue(unmanaged.getMessage().contains("0000:02:10.0 is not assignable (bound to dom0 driver igbvf)"),
                unmanaged.getMessage());
        assertCounts(0, 0);
        assertAllOnIgbvf();
    }

    /** A failure at the start of each step unwinds every earlier step: every device is exactly where it was. */
    @ParameterizedTest
    @ValueSource(ints = {2, 3, 4, 5, 6})
    void aFailureBeforeAnyStepOfAManagedStartLeavesEverythingWhereItWas(int failAt) throws Exception {
        host = EmulatedHost.of("sriov-82576", dir);
        m = host.start((op, step, name, devices) -> {
            if (op.equals("managed-start") && step == failAt) {
                throw new UncheckedIOException(new IOException("injected failure before step " + step));
            }
        });
        host.createDomain("test_domain", "hvm");
        m.assignableAdd(PciAddress.parse(VFS.get(1)), "second", false); // one of them starts in the pool
        HostdevException e = assertThrows(HostdevException.class, () -> m.startDomainDevices("test_domain", specs(true)));
        assertTrue(e.getMessage().contains("step " + failAt) && e.getMessage().contains("every completed step was undone"),
                e.getMessage());
        assertEquals("igbvf", host.driver(VFS.get(0)));
        assertEquals("pciback", host.driver(VFS.get(1)));
        assertEquals("igbvf", host.driver(VFS.get(2)));
        assertEquals(Ownership.assignable(PciAddress.parse(VFS.get(1)), "igbvf", "second"),
                m.ownership(PciAddress.parse(VFS.get(1))).orElseThrow());
        assertCounts(1, 0);
    }

    /** A libxl failure in the middle of a step (the third device) unwinds the two that succeeded. */
    @ParameterizedTest
    @ValueSource(strings = {"assignableAdd", "pciAdd"})
    void aLibxlFailureOnTheLastDeviceUnwindsTheOthers(String op) throws Exception {
        open();
        host.faulty.failOn(op, VFS.get(2));
        HostdevException e = assertThrows(HostdevException.class, () -> m.startDomainDevices("test_domain", specs(true)));
        assertTrue(e.getMessage().contains("injected failure of " + op + " " + VFS.get(2)), e.getMessage());
        assertAllOnIgbvf();
        assertCounts(0, 0);
        assertTrue(m.ownerships().isEmpty());
    }

    @Test
    void stopAfterTheDomainIsGoneGivesManagedDevicesBackAndForgetsVanishedOnes() throws Exception {
        open();
        int domid = host.libxl.findByName("test_domain").orElseThrow().domid();
        m.startDomainDevices("test_domain", specs(true));
        host.libxl.destroy(domid);
        // the VF at 02:10.4 disappears (its PF's VFs were reconfigured) while the domain had it
        Files.delete(host.tree.resolve("sys/bus/pci/devices/0000:02:10.4"));
        StopResult s = m.stopDomainDevices("test_domain");
        assertEquals(2, s.returned().size(), s.toString());
        assertTrue(s.problems().get(0).contains("0000:02:10.4: vanished"), s.problems().toString());
        assertEquals("igbvf", host.driver(VFS.get(0)));
        assertEquals("igbvf", host.driver(VFS.get(1)));
        assertTrue(m.ownerships().isEmpty());
    }

    @Test
    void aWholeDeviceAndOptionsGoThroughManagedStart() throws Exception {
        host = EmulatedHost.of("gpu-audio", dir);
        m = host.start();
        int domid = host.createDomain("gamer", "hvm");
        AttachResult r = m.startDomainDevices("gamer",
                List.of(new HostdevSpec(PciSpecParser.parse("06:00.*@7,permissive=1"), true)));
        assertEquals(2, r.devices().size());
        for (LibxlDevicePci p : host.libxl.pciList(domid)) {
            assertTrue(p.permissive());
            assertEquals(7, p.vdevfn() >> 3);
        }
        host.assertConsistent();
        m.stopDomainDevices("gamer");
        assertEquals("nouveau", host.driver("0000:06:00.0"));
        assertEquals("snd_hda_intel", host.driver("0000:06:00.1"));
        assertFalse(m.ownership(PciAddress.parse("06:00.0")).isPresent());
    }
}
