package org.xenhost.emulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenhost.emulator.kernel.EmulatedKernel;
import org.xenhost.fixtures.Fixtures;
import org.xenhost.libxl.LibxlDevicePci;

/**
 * Per-device locking in the emulated kernel and libxl PCI recipes: a device held mid-reset (its reset hook parked
 * on a latch) stalls only itself. No time is measured: progress is shown by operations completing while the reset
 * is provably still parked, and ordering on one device by an operation that cannot finish until it is released.
 * The waits' bounds only keep a broken build from hanging.
 */
class PciConcurrencyTest {
    static final String NIC = "0000:07:00.0";   // r8169, has a reset method
    static final String AUDIO = "0000:00:1b.0"; // snd_hda_intel, has a reset method

    @TempDir
    Path tmp;
    EmulatedLibxl host;
    final ExecutorService pool = Executors.newFixedThreadPool(4);

    @AfterEach
    void close() {
        pool.shutdownNow();
        if (host != null) {
            host.close();
        }
    }

    static LibxlDevicePci pci(String bdf) {
        String[] p = bdf.split("[:.]");
        return LibxlDevicePci.of(Integer.parseInt(p[0], 16), Integer.parseInt(p[1], 16), Integer.parseInt(p[2], 16),
                Integer.parseInt(p[3], 16));
    }

    @Test
    void aParkedResetStallsOnlyItsOwnDevice() throws Exception {
        Path sysfs = Fixtures.copyTree("asus-p6t6", tmp.resolve("sysfs"));
        host = TestHosts.open(tmp.resolve("host"), sysfs);
        EmulatedKernel kernel = host.kernel();
        CountDownLatch parked = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        kernel.setResetHook(bdf -> {
            if (bdf.equals(NIC) && parked.getCount() > 0) {
                parked.countDown();
                release.await();
            }
        });
        // pciback resets the NIC when it binds it: the add stops there, holding the NIC's locks
        Future<?> add = pool.submit(() -> {
            host.assignableAdd(pci(NIC), true);
            return null;
        });
        assertTrue(parked.await(60, TimeUnit.SECONDS));

        // the same device waits its turn
        Future<?> removeSame = pool.submit(() -> {
            host.assignableRemove(pci(NIC), true);
            return null;
        });

        // another device goes all the way to a guest and back, with two resets of its own
        pool.submit(() -> {
            host.assignableAdd(pci(AUDIO), true);
            int domid = host.createDomain("{\"name\":\"g1\",\"type\":\"hvm\",\"memory\":16}", false);
            host.pciAdd(domid, pci(AUDIO));
            assertEquals(List.of(AUDIO), host.pciList(domid).stream().map(LibxlDevicePci::bdf).toList());
            host.pciRemove(domid, pci(AUDIO), false);
            host.destroy(domid);
            return null;
        }).get(60, TimeUnit.SECONDS);
        assertEquals(3, kernel.resetCount(AUDIO), "pciback bind, pci-attach and pci-detach each reset it");

        // queries answer at once: the pool, pciback's slots, the driver links, the domain list
        assertTrue(host.assignableList().stream().anyMatch(d -> d.bdf().equals(AUDIO)));
        assertTrue(kernel.slots().containsAll(List.of(NIC, AUDIO)), kernel.slots().toString());
        assertEquals(java.util.Optional.of(EmulatedKernel.PCIBACK), kernel.boundDriver(AUDIO),
                "AUDIO stays assignable, on pciback");
        assertEquals(1, host.listDomains().size());

        assertEquals(0, kernel.resetCount(NIC), "the NIC's reset is still parked");
        assertFalse(add.isDone());
        assertFalse(removeSame.isDone(), "a second operation on the NIC ran while its reset was parked");

        release.countDown();
        add.get(60, TimeUnit.SECONDS);
        removeSame.get(60, TimeUnit.SECONDS);
        assertEquals("r8169", kernel.boundDriver(NIC).orElseThrow(), "back on its dom0 driver, after the add");
        assertFalse(kernel.slots().contains(NIC));
        assertEquals(2, kernel.resetCount(NIC), "reset on pciback bind, then on unbind");
    }

    /**
     * Eight threads move 32 SR-IOV VFs between igbvf, the pool and two HVM guests at random; afterwards sysfs,
     * pciback's slots, xenstore (libxl's lists) and the IOMMU table all tell the same story, and the guests'
     * virtual slots are distinct (guest slot choice and backend entries are atomic per domain).
     */
    @Test
    void manyThreadsOnManyDevicesEndConsistent() throws Exception {
        Path sysfs = tmp.resolve("sysfs");
        Fixtures.largeTree(sysfs, 1 + 19 * 2);
        host = TestHosts.open(tmp.resolve("host"), sysfs);
        EmulatedKernel kernel = host.kernel();
        List<String> vfs = new ArrayList<>();
        for (String bdf : kernel.deviceNames()) {
            if (kernel.boundDriver(bdf).filter("igbvf"::equals).isPresent()) {
                vfs.add(bdf);
            }
        }
        assertEquals(32, vfs.size());
        int[] domids = {
            host.createDomain("{\"name\":\"g1\",\"type\":\"hvm\",\"memory\":16}", false),
            host.createDomain("{\"name\":\"g2\",\"type\":\"hvm\",\"memory\":16}", false)};
        int threads = 8;
        ExecutorService workers = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Map<String, Integer>>> results = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                List<String> mine = vfs.subList(t * 4, t * 4 + 4);
                long seed = 1000 + t;
                results.add(workers.submit(() -> {
                    // where each device ends: -1 host, 0 pool, else the domid
                    Map<String, Integer> end = new HashMap<>();
                    Random r = new Random(seed);
                    for (int round = 0; round < 3; round++) {
                        for (String bdf : mine) {
                            host.assignableAdd(pci(bdf), true);
                            int domid = domids[r.nextInt(2)];
                            host.pciAdd(domid, pci(bdf));
                            int stop = r.nextInt(3);
                            if (round == 2 && stop == 0) {
                                end.put(bdf, domid);
                                continue;
                            }
                            host.pciRemove(domid, pci(bdf), r.nextBoolean());
                            if (round == 2 && stop == 1) {
                                end.put(bdf, 0);
                                continue;
                            }
                            host.assignableRemove(pci(bdf), true);
                            end.put(bdf, -1);
                        }
                    }
                    return end;
                }));
            }
            Map<String, Integer> expected = new HashMap<>();
            for (Future<Map<String, Integer>> f : results) {
                expected.putAll(f.get(300, TimeUnit.SECONDS));
            }

            Set<String> onPciback = new TreeSet<>();
            for (String bdf : vfs) {
                String driver = kernel.boundDriver(bdf).orElse("none");
                int where = expected.get(bdf);
                assertEquals(where == -1 ? "igbvf" : EmulatedKernel.PCIBACK, driver, bdf);
                assertEquals(where == -1 ? java.util.Optional.empty()
                                : java.util.Optional.of(where == 0 ? EmulatedHypervisor.DOMID_IO : where),
                        host.hypervisor().assignedTo(bdf), bdf + " in the IOMMU table");
                if (where != -1) {
                    onPciback.add(bdf);
                }
            }
            assertEquals(onPciback, new TreeSet<>(kernel.slots()), "pciback's slots are exactly its devices");
            Set<String> pooled = new TreeSet<>();
            host.assignableList().forEach(d -> pooled.add(d.bdf()));
            Set<String> attached = new HashSet<>();
            for (int domid : domids) {
                List<LibxlDevicePci> list = host.pciList(domid);
                Set<Integer> slots = new HashSet<>();
                for (LibxlDevicePci d : list) {
                    assertEquals(domid, (int) expected.get(d.bdf()), d.bdf() + " listed in domain " + domid);
                    assertTrue(slots.add(d.vdevfn() >>> 3), "guest slot " + (d.vdevfn() >>> 3) + " given twice in "
                            + domid + ": " + list);
                    attached.add(d.bdf());
                }
            }
            for (String bdf : vfs) {
                int where = expected.get(bdf);
                assertEquals(where == 0, pooled.contains(bdf), bdf + " in the assignable list");
                assertEquals(where > 0, attached.contains(bdf), bdf + " in a domain's backend");
            }
            // every device took one reset per pciback bind/unbind and per attach/detach: none lost or doubled
            for (String bdf : vfs) {
                assertTrue(kernel.resetCount(bdf) >= 10, bdf + " resets " + kernel.resetCount(bdf));
            }
            try (Stream<Path> links = Files.list(sysfs.resolve("sys/bus/pci/drivers/pciback"))) {
                assertEquals(onPciback, links.map(p -> p.getFileName().toString())
                        .filter(n -> n.startsWith("0000:")).collect(java.util.stream.Collectors.toCollection(TreeSet::new)));
            }
        } finally {
            workers.shutdownNow();
        }
    }

    /**
     * An attach whose reset is parked while its domain is destroyed: the destroy does not wait for it (the domain
     * lock is not held across the reset), and the attach, resuming, finds the domain gone and unwinds: the device
     * is in no backend, back in quarantine, free in the pool.
     */
    @Test
    void anAttachRacingTheDomainsDestroyIsRefusedAndLeavesNothingBehind() throws Exception {
        Path sysfs = Fixtures.copyTree("asus-p6t6", tmp.resolve("sysfs"));
        host = TestHosts.open(tmp.resolve("host"), sysfs);
        EmulatedKernel kernel = host.kernel();
        host.assignableAdd(pci(NIC), true);
        int domid = host.createDomain("{\"name\":\"g1\",\"type\":\"hvm\",\"memory\":16}", false);
        CountDownLatch parked = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        kernel.setResetHook(bdf -> {
            if (bdf.equals(NIC) && parked.getCount() > 0) {
                parked.countDown();
                release.await();
            }
        });
        Future<?> attach = pool.submit(() -> {
            host.pciAdd(domid, pci(NIC)); // libxl resets the function before it records the device
            return null;
        });
        assertTrue(parked.await(60, TimeUnit.SECONDS));
        pool.submit(() -> {
            host.destroy(domid);
            return null;
        }).get(60, TimeUnit.SECONDS);
        assertTrue(host.listDomains().stream().noneMatch(d -> d.domid() == domid));

        release.countDown();
        java.util.concurrent.ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(
                java.util.concurrent.ExecutionException.class, () -> attach.get(60, TimeUnit.SECONDS));
        assertTrue(e.getCause().getMessage().contains("being destroyed"), e.getCause().getMessage());
        assertEquals(java.util.Optional.of(EmulatedHypervisor.DOMID_IO), host.hypervisor().assignedTo(NIC));
        assertTrue(host.hypervisor().xenstore().snapshot().keySet().stream()
                .noneMatch(k -> k.startsWith("/local/domain/0/backend/pci/" + domid)
                        || k.equals("/libxl/pci/0000-07-00-0/domid")), "nothing recorded for the dead domain");
        assertTrue(host.assignableList().stream().anyMatch(d -> d.bdf().equals(NIC)), "back in the pool");
    }
}
