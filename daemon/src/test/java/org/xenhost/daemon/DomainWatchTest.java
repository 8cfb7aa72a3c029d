package org.xenhost.daemon;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenhost.daemon.config.DaemonConfig;
import org.xenhost.driver.api.DriverError;
import org.xenhost.driver.api.DriverException;
import org.xenhost.driver.api.NodeDevice;
import org.xenhost.pci.HostFacts;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * xenhostd's domain watch: a guest that leaves Xen without xenhost (crashed, xl destroy) gives its devices back and
 * frees its name while the daemon runs, with nobody listing domains. The daemon runs in this JVM so that the test can
 * reach the emulated Xen behind its back, as xl would.
 */
class DomainWatchTest {
    private static final HostFacts FACTS = new HostFacts("test-host", "Debian", 8L << 30, 4L << 30, "GenuineIntel",
            "cpu", 2, 2, List.of("sse2", "vmx"), List.of());
    private static final String SAS = "0000:04:00.0"; // mpt3sas, FLR, alone in its IOMMU group
    private static final String GUEST = "name = \"g\"\ntype = \"hvm\"\nmemory = 64\nvcpus = 1\n"
            + "pci = [ \"04:00.0,managed=yes\" ]\n";

    @TempDir
    Path tmp;

    private Xenhostd start(String watchSeconds) throws Exception {
        Path fixture = Path.of(System.getProperty("xenhost.root")).resolve("fixtures/sysfs/asus-p6t6");
        Files.createDirectories(tmp.resolve("run"));
        DaemonConfig config = DaemonConfig.resolve(null, null, Map.of("sysfs_root", fixture.toString(),
                "state_dir", tmp.resolve("state").toString(), "admin_socket", tmp.resolve("run/xenhostd.sock").toString(),
                "domain_watch", watchSeconds));
        return Xenhostd.start(config, () -> FACTS);
    }

    private static NodeDevice device(Xenhostd d, String bdf) {
        return d.driver().nodeDeviceList().stream().filter(n -> n.bdf().equals(bdf)).findFirst().orElseThrow();
    }

    /** The guest's domid, after destroying it in Xen without the daemon (as {@code xl destroy} would). */
    private static int destroyBehindTheDaemonsBack(Xenhostd d) throws Exception {
        int domid = d.driver().info("g").summary().domid();
        d.host().libxl().destroy(domid);
        return domid;
    }

    @Test
    void aGuestDestroyedBehindTheDaemonsBackGivesItsDeviceBackWithNobodyAsking() throws Exception {
        try (Xenhostd d = start("1")) {
            d.driver().createTransient(GUEST, "g.cfg");
            assertEquals("g", device(d, SAS).owner(), device(d, SAS).toString());
            destroyBehindTheDaemonsBack(d);

            // no list, define, create or restore from here on: only the watch can notice
            DaemonProcess.await("the watch to give " + SAS + " back to mpt3sas", () -> {
                NodeDevice n = device(d, SAS);
                return n.placement().equals("host") && "mpt3sas".equals(n.driver()) && n.owner() == null;
            });
            DriverException gone = assertThrows(DriverException.class, () -> d.driver().info("g"));
            assertEquals(DriverError.NOT_FOUND, gone.error(), "the transient guest is forgotten, its name free");
            assertEquals("running", d.driver().createTransient(GUEST, "g.cfg").state(), "and its device can go again");
        }
    }

    @Test
    void withTheWatchOffOnlyAListingSettlesIt() throws Exception {
        try (Xenhostd d = start("0")) {
            d.driver().createTransient(GUEST, "g.cfg");
            destroyBehindTheDaemonsBack(d);
            Thread.sleep(2500); // what a 1 s watch would have used twice over; nothing may have moved
            assertEquals("g", device(d, SAS).owner(), "without the watch the device stays owned until someone lists");
            assertEquals("running", d.driver().info("g").summary().state());

            assertTrue(d.driver().list(false).stream().noneMatch(s -> s.name().equals("g")));
            assertEquals("host", device(d, SAS).placement());
        }
    }
}
