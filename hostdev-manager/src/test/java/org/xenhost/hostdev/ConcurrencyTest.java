package org.xenhost.hostdev;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenhost.pci.PciAddress;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Per-device locking: a parked operation on one device blocks neither queries nor other devices. */
class ConcurrencyTest {
    private static final PciAddress SAS = PciAddress.parse("0000:04:00.0");
    private static final PciAddress AUDIO = PciAddress.parse("0000:00:1b.0");

    @TempDir
    Path dir;
    private EmulatedHost host;
    private final ExecutorService pool = Executors.newFixedThreadPool(2);

    @AfterEach
    void close() {
        pool.shutdownNow();
        if (host != null) {
            host.close();
        }
    }

    @Test
    void whileOneDeviceIsMidOperationQueriesAndOtherDevicesProceed() throws Exception {
        host = EmulatedHost.of("asus-p6t6", dir);
        CountDownLatch parked = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        HostdevManager m = host.start((op, step, name, devices) -> {
            if (op.equals("assignable-add") && step == 3 && devices.contains(SAS)) {
                parked.countDown(); // holds SAS's lock, journal says pending ADD, libxl not yet called
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        });
        Future<Ownership> slow = pool.submit(() -> m.assignableAdd(SAS, null, false));
        assertTrue(parked.await(60, TimeUnit.SECONDS));

        // the bounds below only keep a broken build from hanging; a lock shared with SAS would deadlock here
        Future<Ownership> other = pool.submit(() -> m.assignableAdd(AUDIO, null, false));
        assertEquals(DeviceState.ASSIGNABLE, other.get(60, TimeUnit.SECONDS).state());
        assertEquals(List.of(AUDIO), m.assignableList().stream().map(PoolDevice::bdf).toList());
        assertEquals(Pending.ADD, m.ownership(SAS).orElseThrow().pending());
        assertTrue(m.verdicts().get(SAS).assignable());
        assertFalse(slow.isDone(), "the parked operation is still in flight");

        release.countDown();
        assertEquals(DeviceState.ASSIGNABLE, slow.get(60, TimeUnit.SECONDS).state());
        host.assertConsistent();
    }

    @Test
    void queriesNeverCallLibxlSoTheyCannotWaitBehindAResetInsideIt() throws Exception {
        host = EmulatedHost.of("asus-p6t6", dir);
        HostdevManager m = host.start();
        m.assignableAdd(SAS, "hba", false);
        long before = host.faulty.calls.get();
        m.assignableList();
        m.verdicts();
        m.ownerships();
        m.ownership(SAS);
        m.resetPlan(SAS);
        assertEquals(before, host.faulty.calls.get(), "queries made libxl calls");
    }
}
