package org.xenhost.hostdev;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenhost.libxl.LibxlDevicePci;
import org.xenhost.libxl.pcispec.PciSpecParser;
import org.xenhost.pci.PciAddress;
import org.xenhost.pci.PciDevice;
import org.xenhost.pci.SysfsPciReader;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Per-device locking: a parked operation on one device blocks neither queries nor other devices; operations on one
 * device or one IOMMU group are serialised. No time is asserted: latches and step hooks park an operation at a
 * known point, and the bounds on waits only keep a broken build from hanging.
 */
class ConcurrencyTest {
    private static final PciAddress SAS = PciAddress.parse("0000:04:00.0");
    private static final PciAddress AUDIO = PciAddress.parse("0000:00:1b.0");
    /** Two r8169 NICs sharing IOMMU group 8 (with root ports, which are exempt). */
    private static final PciAddress NIC1 = PciAddress.parse("0000:07:00.0");
    private static final PciAddress NIC2 = PciAddress.parse("0000:08:00.0");

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
        // mid-hand-over: not offered to anyone (the verdict names the operation in flight)
        assertFalse(m.verdicts().get(SAS).assignable());
        assertTrue(m.verdicts().get(SAS).reason().contains("ADD in progress"), m.verdicts().get(SAS).reason());
        assertFalse(slow.isDone(), "the parked operation is still in flight");

        release.countDown();
        assertEquals(DeviceState.ASSIGNABLE, slow.get(60, TimeUnit.SECONDS).state());
        host.assertConsistent();
    }

    /**
     * A device on pciback in the middle of a hand-over (libxl has bound it, the journal still says ADD; a remove
     * announced but not yet carried out; a managed start that has taken it but not attached it) is not free: the
     * pool list leaves it out and the verdict says what is in flight. Before the fix each showed as free.
     */
    @Test
    void aDeviceMidHandOverIsNeitherListedNorAssignable() throws Exception {
        host = EmulatedHost.of("asus-p6t6", dir);
        java.util.concurrent.atomic.AtomicReference<String> parkAt = new java.util.concurrent.atomic.AtomicReference<>();
        CountDownLatch[] parked = {new CountDownLatch(1)};
        CountDownLatch[] release = {new CountDownLatch(1)};
        HostdevManager m = host.start((op, step, name, devices) -> {
            if ((op + ":" + step).equals(parkAt.get()) && devices.contains(SAS)) {
                parked[0].countDown();
                try {
                    release[0].await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        });
        // add, parked after libxl bound SAS to pciback, before the journal says ASSIGNABLE
        parkAt.set("assignable-add:4");
        Future<?> add = pool.submit(() -> m.assignableAdd(SAS, "hba", false));
        assertTrue(parked[0].await(60, TimeUnit.SECONDS));
        assertEquals("pciback", host.driver(SAS.toString()));
        assertMidHandOver(m, Pending.ADD);
        release[0].countDown();
        add.get(60, TimeUnit.SECONDS);
        assertEquals(List.of(SAS), m.assignableList().stream().map(PoolDevice::bdf).toList());

        // remove, parked after the journal announced it, SAS still on pciback
        parkAt.set("assignable-remove:3");
        parked[0] = new CountDownLatch(1);
        release[0] = new CountDownLatch(1);
        Future<?> remove = pool.submit(() -> m.assignableRemove(SAS.toString(), true));
        assertTrue(parked[0].await(60, TimeUnit.SECONDS));
        assertEquals("pciback", host.driver(SAS.toString()));
        assertMidHandOver(m, Pending.REMOVE);
        release[0].countDown();
        remove.get(60, TimeUnit.SECONDS);

        // a managed start, parked after it took SAS from dom0 and before it attached it
        host.createDomain("guest1", "hvm");
        parkAt.set("managed-start:4");
        parked[0] = new CountDownLatch(1);
        release[0] = new CountDownLatch(1);
        Future<?> start = pool.submit(() -> m.startDomainDevices("guest1",
                List.of(new HostdevSpec(PciSpecParser.parse(SAS.toString()), true))));
        assertTrue(parked[0].await(60, TimeUnit.SECONDS));
        assertEquals("pciback", host.driver(SAS.toString()));
        assertTrue(m.assignableList().isEmpty(), m.assignableList().toString());
        assertFalse(m.verdicts().get(SAS).assignable());
        assertTrue(m.verdicts().get(SAS).reason().contains("guest1"), m.verdicts().get(SAS).reason());
        release[0].countDown();
        start.get(60, TimeUnit.SECONDS);
        host.assertConsistent();
    }

    private static void assertMidHandOver(HostdevManager m, Pending pending) {
        assertEquals(pending, m.ownership(SAS).orElseThrow().pending());
        assertTrue(m.assignableList().isEmpty(), "listed as free while " + pending + " is in flight: " + m.assignableList());
        DeviceVerdict v = m.verdicts().get(SAS);
        assertFalse(v.assignable(), "assignable while " + pending + " is in flight");
        assertTrue(v.reason().contains(pending + " in progress"), v.reason());
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

    @Test
    void aDeviceParkedInItsResetInsideLibxlHoldsUpNeitherOtherDevicesNorQueries() throws Exception {
        host = EmulatedHost.of("asus-p6t6", dir);
        HostdevManager m = host.start();
        CountDownLatch parked = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        // the emulated kernel parks SAS's reset (pciback resets it on bind) with SAS's kernel and libxl locks held
        host.libxl.kernel().setResetHook(bdf -> {
            if (bdf.equals(SAS.toString()) && parked.getCount() > 0) {
                parked.countDown();
                release.await();
            }
        });
        Future<Ownership> slow = pool.submit(() -> m.assignableAdd(SAS, null, false));
        assertTrue(parked.await(60, TimeUnit.SECONDS));

        // queries answer while the reset is parked
        assertEquals(Pending.ADD, m.ownership(SAS).orElseThrow().pending());
        assertEquals(Pending.ADD, m.ownerships().get(SAS).pending());
        m.assignableList();
        assertTrue(m.verdicts().containsKey(SAS));
        // another device goes to a guest and back (three resets of its own) meanwhile
        int domid = host.createDomain("guest1", "hvm");
        assertEquals(DeviceState.ASSIGNABLE, m.assignableAdd(AUDIO, "snd", false).state());
        m.attach("guest1", PciSpecParser.parse(AUDIO.toString()), false);
        assertEquals(DeviceState.ATTACHED, m.ownership(AUDIO).orElseThrow().state());
        m.detach(Integer.toString(domid), AUDIO, false);
        assertTrue(m.assignableList().stream().anyMatch(d -> d.bdf().equals(AUDIO)), "AUDIO is back in the pool");
        // a second operation on SAS itself waits for the first
        Future<PciAddress> sameDevice = pool.submit(() -> m.assignableRemove(SAS.toString(), true));
        assertFalse(slow.isDone(), "the parked add is still in its reset");
        assertEquals(0, host.libxl.kernel().resetCount(SAS.toString()));

        release.countDown();
        assertEquals(DeviceState.ASSIGNABLE, slow.get(60, TimeUnit.SECONDS).state());
        assertEquals(SAS, sameDevice.get(60, TimeUnit.SECONDS));
        assertEquals("mpt3sas", host.driver(SAS.toString()), "removed after it was added, not before");
        host.assertConsistent();
    }

    /**
     * Two attaches of IOMMU-group peers to different domains: the first is parked after its checks, before the
     * journal shows it; the second must wait for it (it locks the whole group) and is then refused, naming the
     * group. Checking the peers without holding them would let both through and split the group.
     */
    @Test
    void attachesOfIommuGroupPeersToTwoDomainsAreSerialisedAndTheSecondRefused() throws Exception {
        host = EmulatedHost.of("asus-p6t6", dir);
        CountDownLatch parked = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        HostdevManager m = host.start((op, step, name, devices) -> {
            if (op.equals("attach") && step == 2 && devices.contains(NIC1)) {
                parked.countDown(); // checks passed; the journal does not yet say NIC1 is being attached
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        });
        m.assignableAdd(NIC1, null, false);
        m.assignableAdd(NIC2, null, false);
        host.createDomain("guest1", "hvm");
        host.createDomain("guest2", "hvm");
        Future<AttachResult> first = pool.submit(() -> m.attach("guest1", PciSpecParser.parse(NIC1.toString()), false));
        assertTrue(parked.await(60, TimeUnit.SECONDS));

        AtomicInteger outcome = new AtomicInteger(); // 1 attached, 2 refused
        List<Throwable> unexpected = new ArrayList<>();
        Thread second = new Thread(() -> {
            try {
                m.attach("guest2", PciSpecParser.parse(NIC2.toString()), false);
                outcome.set(1);
            } catch (DeviceRefusedException e) {
                outcome.set(2);
                if (!e.getMessage().contains("shares IOMMU group")) {
                    unexpected.add(e);
                }
            } catch (Throwable e) {
                unexpected.add(e);
            }
        });
        second.start();
        // wait until the second attach blocks on a lock; it must not get through while the first is parked
        while (second.getState() != Thread.State.WAITING && second.isAlive()) {
            Thread.onSpinWait();
        }
        assertTrue(second.isAlive(), "the second attach finished (" + (outcome.get() == 1 ? "attached" : "refused")
                + ") while its group peer was mid-attach: the group was not locked");

        release.countDown();
        first.get(60, TimeUnit.SECONDS);
        second.join(60_000);
        assertTrue(unexpected.isEmpty(), unexpected.toString());
        assertEquals(2, outcome.get(), "the second attach was refused");
        assertEquals(DeviceState.ATTACHED, m.ownership(NIC1).orElseThrow().state());
        assertEquals(DeviceState.ASSIGNABLE, m.ownership(NIC2).orElseThrow().state());
        host.assertConsistent();
    }

    /**
     * Eight threads pick devices and operations at random among 32 VFs (so they collide on the same devices) and
     * two domains. Refusals of requests that no longer fit (already in the pool, owned by the other domain) are
     * expected; nothing else may fail. Afterwards the journal, sysfs and libxl agree on every device.
     */
    @Test
    void manyThreadsOnSharedDevicesEndConsistent() throws Exception {
        host = EmulatedHost.generated(dir, 1 + 19 * 2);
        HostdevManager m = host.start();
        List<PciAddress> vfs = new ArrayList<>();
        for (PciDevice d : new SysfsPciReader(host.tree).scan().devices()) {
            if ("igbvf".equals(d.driver())) {
                vfs.add(d.address());
            }
        }
        assertEquals(32, vfs.size());
        String[] domains = {"guest1", "guest2"};
        int[] domids = {host.createDomain("guest1", "hvm"), host.createDomain("guest2", "hvm")};
        int threads = 8;
        ExecutorService workers = Executors.newFixedThreadPool(threads);
        AtomicInteger done = new AtomicInteger();
        AtomicInteger refused = new AtomicInteger();
        AtomicInteger attaches = new AtomicInteger();
        try {
            List<Future<?>> all = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                long seed = 77 + t;
                all.add(workers.submit(() -> {
                    Random r = new Random(seed);
                    for (int i = 0; i < 40; i++) {
                        PciAddress a = vfs.get(r.nextInt(12)); // 12 devices for 8 threads: collisions are certain
                        int d = r.nextInt(2);
                        try {
                            switch (r.nextInt(4)) {
                                case 0 -> m.assignableAdd(a, null, false);
                                case 1 -> m.assignableRemove(a.toString(), true);
                                case 2 -> {
                                    m.attach(domains[d], PciSpecParser.parse(a.toString()), false);
                                    attaches.incrementAndGet();
                                }
                                default -> m.detach(Integer.toString(domids[d]), a, r.nextBoolean());
                            }
                            done.incrementAndGet();
                        } catch (IllegalArgumentException e) {
                            refused.incrementAndGet(); // not in the pool, not attached there, owned elsewhere
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : all) {
                f.get(300, TimeUnit.SECONDS);
            }
        } finally {
            workers.shutdownNow();
        }
        assertTrue(done.get() > 40 && attaches.get() > 0, "operations that went through: " + done + " ("
                + attaches + " attaches), refused: " + refused);
        host.assertConsistent();
        // and a fresh manager reconciling the same host finds nothing out of place
        HostdevManager again = host.restart();
        assertEquals(List.of(), again.startupFindings());
        host.assertConsistent();
        for (PciAddress a : vfs.subList(12, 32)) {
            assertEquals("igbvf", host.driver(a.toString()), "untouched device " + a);
        }
        for (LibxlDevicePci p : host.libxl.assignableList()) {
            assertTrue(vfs.contains(Host.address(p)), p.bdf());
        }
        assertThrows(IllegalArgumentException.class, () -> again.assignableRemove(vfs.get(20).toString(), true),
                "a device never added is not in the pool");
    }
}
