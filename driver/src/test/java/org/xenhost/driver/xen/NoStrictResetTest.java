package org.xenhost.driver.xen;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenhost.driver.api.DeviceChange;
import org.xenhost.driver.api.DeviceOptions;
import org.xenhost.driver.api.DriverError;
import org.xenhost.driver.api.DriverException;
import org.xenhost.driver.job.DomainJobs;
import org.xenhost.hostdev.ResetMethod;
import org.xenhost.pci.PciAddress;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Qubes' {@code nostrictreset}, on the emulated asus-p6t6: its multi-function system peripherals 00:10.* (two
 * functions, IOMMU group 4) and 00:14.* (four, group 5) sit on the root bus, unbound, without FLR or a PM
 * capability, so no reset method exists for them (no FLR, no PM reset, no secondary bus reset on a root bus). By
 * default such a device is refused; with {@code nostrictreset=1} in its PCI spec it is assigned unreset and the
 * reset-selection output says so.
 */
class NoStrictResetTest {
    private static final String QPI = "0000:00:10.*@5";
    private static final List<String> QPI_FUNCTIONS = List.of("0000:00:10.0", "0000:00:10.1");
    private static final String QPI2 = "0000:00:14.*@6";

    @TempDir
    Path dir;
    private DeviceHost host;
    private XenDriver driver;

    @BeforeEach
    void open() throws Exception {
        host = new DeviceHost("asus-p6t6", dir);
        driver = new XenDriver(host.libxl, dir.resolve("driver"), new DomainJobs(Duration.ofMillis(200), Clock.systemUTC()),
                () -> XenDriverTest.FACTS, host.manager, host.tree, null, null);
    }

    @AfterEach
    void close() {
        driver.close();
        host.close();
    }

    private static String cfg(String name, String pci) {
        return "name = \"" + name + "\"\ntype = \"hvm\"\nmemory = 16\npassthrough = \"enabled\"\n"
                + (pci == null ? "" : "pci = [ '" + pci + "' ]\n");
    }

    @Test
    void aDeviceWithoutAnyResetIsRefusedByDefaultAndAssignedUnresetWithNostrictreset() throws Exception {
        // the fixture's verdict: no method at all
        for (String f : QPI_FUNCTIONS) {
            assertEquals(ResetMethod.NONE, host.manager.resetPlan(PciAddress.parse(f)).method());
        }

        driver.define(cfg("strict", QPI + ",managed=yes"), "strict.cfg");
        DriverException refused = assertThrows(DriverException.class, () -> driver.start("strict"));
        assertTrue(refused.getMessage().contains("has no safe reset") && refused.getMessage().contains("root bus")
                && refused.getMessage().contains("nostrictreset=1"), refused.getMessage());
        assertEquals(null, host.driver(QPI_FUNCTIONS.get(0)), "the refused start left the device where it was");
        assertTrue(host.manager.ownerships().isEmpty(), host.manager.ownerships().toString());

        driver.define(cfg("lax", QPI + ",managed=yes,nostrictreset=1"), "lax.cfg");
        driver.start("lax");
        for (String f : QPI_FUNCTIONS) {
            assertEquals("pciback", host.driver(f));
        }
        assertEquals(QPI_FUNCTIONS.stream().map(f -> f + " (managed)").toList(), driver.info("lax").devices());
        int domid = driver.info("lax").summary().domid();
        assertEquals(QPI_FUNCTIONS, host.xen.pciList(domid).stream().map(p -> p.bdf()).sorted().toList());

        // hot-plug: refused without the option, attached unreset with it, and the reset plan returned says so
        DriverException hotRefused = assertThrows(DriverException.class,
                () -> driver.attachDevice("lax", QPI2 + ",seize=1", new DeviceOptions(true, false, false)));
        assertEquals(DriverError.INVALID_INPUT, hotRefused.error());
        assertTrue(hotRefused.getMessage().contains("nostrictreset=1"), hotRefused.getMessage());
        DeviceChange c = driver.attachDevice("lax", QPI2 + ",seize=1,nostrictreset=1", new DeviceOptions(true, false, false));
        assertEquals(4, c.devices().size(), c.devices().toString());
        assertEquals(4, c.resets().size());
        for (String r : c.resets()) {
            assertTrue(r.contains("NONE") && r.contains("root bus") && r.contains("NOT RESET"), r);
        }

        // the managed functions still go back where they came from (unbound) when the guest stops
        driver.destroy("lax");
        for (String f : QPI_FUNCTIONS) {
            assertEquals(null, host.driver(f));
            assertTrue(host.manager.ownership(PciAddress.parse(f)).isEmpty());
        }
    }

    @Test
    void aBadNostrictresetValueIsRefusedNamingTheEntry() {
        DriverException e = assertThrows(DriverException.class,
                () -> driver.define(cfg("bad", "0000:00:10.0,nostrictreset=maybe"), "bad.cfg"));
        assertEquals(DriverError.INVALID_INPUT, e.error());
        assertTrue(e.getMessage().contains("nostrictreset must be yes or no") && e.getMessage().contains("0000:00:10.0"), e.getMessage());
    }
}
