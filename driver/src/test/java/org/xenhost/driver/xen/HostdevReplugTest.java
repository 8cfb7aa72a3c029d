package org.xenhost.driver.xen;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenhost.hostdev.DeviceState;
import org.xenhost.hostdev.HostdevSpec;
import org.xenhost.libxl.pcispec.PciSpecParser;
import org.xenhost.migration.MigrationCookie;
import org.xenhost.migration.MigrationOptions;
import org.xenhost.migration.PassedDevice;
import org.xenhost.pci.PciAddress;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The source half of {@code --hostdev-policy=replug} on the emulated sriov-82576 host: a guest with a managed VF
 * (taken from igbvf at start) has it detached for a migration, and the migration rolls back.
 */
class HostdevReplugTest {
    private static final String VF = "0000:02:10.0";

    @TempDir
    Path dir;
    private DeviceHost host;

    @AfterEach
    void close() {
        if (host != null) {
            host.close();
        }
    }

    /**
     * The rollback gives the VF back to the guest in one move, straight from the pool: not first back to igbvf
     * and then taken again (two more binds, two more resets, igbvf probing a device about to leave). It stays
     * managed: when the guest stops it goes back to igbvf. Before the fix the rollback called libxl's
     * assignable-remove and assignable-add once each.
     */
    @Test
    void aRollbackReplugsAManagedDeviceOnceAndItStaysManaged() throws Exception {
        host = new DeviceHost("sriov-82576", dir);
        int domid = host.xen.createDomain("{\"name\":\"nic\",\"memory\":16,\"passthrough\":\"enabled\",\"type\":\"hvm\"}", true);
        String uuid = host.xen.domainInfo(domid).uuid().toString();
        host.manager.startDomainDevices("nic", List.of(new HostdevSpec(PciSpecParser.parse(VF), true)));
        assertEquals("pciback", host.driver(VF));

        HostdevReplug replug = new HostdevReplug(host.libxl, host.manager, host.tree);
        List<PassedDevice> devices = replug.describe(domid, Map.of());
        assertEquals(1, devices.size());
        assertTrue(devices.get(0).managed(), "taken from igbvf at start: managed");
        MigrationOptions options = new MigrationOptions(true, false, false, false, false, 0, false, null, 0,
                MigrationOptions.HostdevPolicy.REPLUG, Map.of());
        MigrationCookie cookie = new MigrationCookie("m1", "nic", uuid, "host-a", null, null, 3, 16, 1, List.of(), "{}",
                options, devices, Map.of(VF, "0000:02:10.2"));

        replug.unplug(cookie, domid);
        assertEquals(DeviceState.ASSIGNABLE, host.manager.ownership(PciAddress.parse(VF)).orElseThrow().state());
        int removes = host.calls("assignableRemove");
        int adds = host.calls("assignableAdd");
        int plugs = host.calls("pciAdd");

        replug.replug(cookie, domid);
        assertEquals(0, host.calls("assignableRemove") - removes, "the VF went back to igbvf on the way");
        assertEquals(0, host.calls("assignableAdd") - adds, "the VF was taken from igbvf again");
        assertEquals(1, host.calls("pciAdd") - plugs, "plugged into the guest once");
        assertEquals(List.of(VF), host.xen.pciList(domid).stream().map(p -> p.bdf()).toList());
        assertTrue(host.manager.ownership(PciAddress.parse(VF)).orElseThrow().managed(), "still managed");

        // repeating it (migration recovery may) moves nothing
        replug.replug(cookie, domid);
        assertEquals(1, host.calls("pciAdd") - plugs);

        // the guest stops: the managed VF goes back to igbvf, as it would have without the migration
        host.xen.destroy(domid);
        DomainDevices.release(host.manager, uuid, "nic");
        assertEquals("igbvf", host.driver(VF));
        assertTrue(host.manager.ownership(PciAddress.parse(VF)).isEmpty());
    }
}
