package org.xenhost.hostdev;

import org.junit.jupiter.api.Test;
import org.xenhost.pci.PciAddress;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DeviceLocksTest {
    private static final PciAddress A = PciAddress.parse("0000:03:00.0");
    private static final PciAddress B = PciAddress.parse("0000:04:00.0");
    private static final PciAddress C = PciAddress.parse("0001:00:02.0");

    @Test
    void requestsNamingTheSameDevicesInOppositeOrderNeverDeadlock() throws Exception {
        DeviceLocks locks = new DeviceLocks();
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger maxInside = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<?> f1 = pool.submit(() -> hammer(locks, List.of(A, B, C), inside, maxInside));
            Future<?> f2 = pool.submit(() -> hammer(locks, List.of(C, B, A), inside, maxInside));
            // a lock-order deadlock would hang here; the bound only keeps a broken build from hanging forever
            f1.get(120, TimeUnit.SECONDS);
            f2.get(120, TimeUnit.SECONDS);
        } finally {
            pool.shutdownNow();
        }
        assertEquals(1, maxInside.get(), "two holders of overlapping device sets were inside at once");
    }

    private static void hammer(DeviceLocks locks, List<PciAddress> order, AtomicInteger inside, AtomicInteger max) {
        for (int i = 0; i < 20_000; i++) {
            try (DeviceLocks.Held h = locks.lock(order)) {
                int n = inside.incrementAndGet();
                max.accumulateAndGet(n, Math::max);
                inside.decrementAndGet();
            }
        }
    }

    @Test
    void differentDevicesDoNotWaitForEachOther() throws Exception {
        DeviceLocks locks = new DeviceLocks();
        CountDownLatch holding = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Thread holder = new Thread(() -> {
            try (DeviceLocks.Held h = locks.lock(List.of(A))) {
                holding.countDown();
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        holder.start();
        holding.await();
        try (DeviceLocks.Held h = locks.lock(List.of(B, C))) {
            assertTrue(holder.isAlive(), "A is still held while B and C were taken");
        }
        release.countDown();
        holder.join();
        assertFalse(holder.isAlive());
    }
}
