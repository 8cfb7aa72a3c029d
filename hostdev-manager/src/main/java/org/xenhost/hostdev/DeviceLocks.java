package org.xenhost.hostdev;

import org.xenhost.pci.PciAddress;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One lock per device, no global lock: operations on different devices run in parallel. An operation on several
 * devices takes their locks in address order, so two such operations can never wait for each other in a cycle.
 * Queries take no lock at all.
 */
final class DeviceLocks {
    private final ConcurrentHashMap<PciAddress, ReentrantLock> locks = new ConcurrentHashMap<>();

    /** Held locks; closing releases them in reverse order. */
    interface Held extends AutoCloseable {
        @Override
        void close();
    }

    /** Locks every device in {@code devices} (duplicates ignored), lowest address first. */
    Held lock(Collection<PciAddress> devices) {
        List<ReentrantLock> taken = new ArrayList<>();
        try {
            for (PciAddress a : new TreeSet<>(devices)) {
                ReentrantLock l = locks.computeIfAbsent(a, x -> new ReentrantLock());
                l.lockInterruptibly();
                taken.add(l);
            }
        } catch (InterruptedException e) {
            release(taken);
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for device locks " + devices, e);
        }
        return () -> release(taken);
    }

    private static void release(List<ReentrantLock> taken) {
        for (int i = taken.size() - 1; i >= 0; i--) {
            taken.get(i).unlock();
        }
    }
}
