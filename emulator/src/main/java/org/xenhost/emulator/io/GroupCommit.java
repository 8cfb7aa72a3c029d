package org.xenhost.emulator.io;

import java.io.IOException;
import java.util.Map;
import java.util.TreeMap;

/**
 * Makes a shared state file durable for many threads at once. A change is published (an immutable snapshot, under
 * whatever lock ordered the change) and gets a ticket; {@link #await} returns once a snapshot at least that new is
 * on disk. Whoever finds the file behind writes the newest snapshot, for itself and for every thread that published
 * before it, so N concurrent changes cost one or two file writes instead of N writes in a queue. The lock that
 * orders changes is never held across the write.
 *
 * <p>When a write fails, every change published since the last good write fails with it: each was built on the
 * ones before, none is on disk. The owner's {@link Restore} puts its in-memory state back to the last snapshot on
 * disk (holding its own lock, so no change is published meanwhile), and every waiter of those tickets gets the
 * error. Nothing that failed stays in memory.
 *
 * @param <T> an immutable snapshot of the state
 */
public final class GroupCommit<T> {
    /** Writes one snapshot durably (e.g. {@link org.xenhost.pci.io.AtomicFiles#write}). */
    @FunctionalInterface
    public interface Writer<T> {
        void write(T snapshot) throws IOException;
    }

    /**
     * Undoes, in the owner's memory, the changes a failed write did not persist. The owner takes the lock it
     * publishes under, runs {@code markFailed} (which fails every ticket published so far and not written), then
     * sets its state back to {@code durable}, the last snapshot written (or the one given at construction).
     */
    @FunctionalInterface
    public interface Restore<T> {
        void restore(T durable, Runnable markFailed);
    }

    private final Writer<T> writer;
    private final Restore<T> restore;
    private final Object fileLock = new Object();
    private T latest;
    private long published;
    /** The last snapshot on disk (guarded by this). */
    private T durable;
    /** Failed ticket ranges, first → last (guarded by this), with the failure they share. */
    private final TreeMap<Long, Long> failedRanges = new TreeMap<>();
    private final Map<Long, String> failures = new TreeMap<>();
    private long written; // guarded by fileLock

    /**
     * @param onDisk  the state as the file holds it now
     * @param writer  writes a snapshot durably
     * @param restore puts the owner's memory back after a failed write
     */
    public GroupCommit(T onDisk, Writer<T> writer, Restore<T> restore) {
        this.durable = onDisk;
        this.writer = writer;
        this.restore = restore;
    }

    /** Records {@code snapshot} as the newest state; returns the ticket to {@link #await}. */
    public synchronized long publish(T snapshot) {
        latest = snapshot;
        return ++published;
    }

    /**
     * Returns once the state of {@code ticket} (or a newer one) is on disk. Throws the write's failure, for this
     * ticket's own write or for an earlier one it was built on; the change is then no longer in memory.
     */
    public void await(long ticket) throws IOException {
        synchronized (fileLock) {
            rethrowIfFailed(ticket);
            if (written >= ticket) {
                return; // carried by another thread's write
            }
            T snapshot;
            long newest;
            synchronized (this) {
                snapshot = latest;
                newest = published;
            }
            try {
                writer.write(snapshot);
            } catch (IOException | RuntimeException e) {
                long from = written + 1;
                restore.restore(durableSnapshot(), () -> {
                    synchronized (this) {
                        failedRanges.put(from, published);
                        failures.put(from, String.valueOf(e.getMessage()));
                        latest = durable;
                    }
                });
                throw e;
            }
            synchronized (this) {
                durable = snapshot;
            }
            written = newest;
        }
    }

    private synchronized T durableSnapshot() {
        return durable;
    }

    private synchronized void rethrowIfFailed(long ticket) throws IOException {
        Map.Entry<Long, Long> range = failedRanges.floorEntry(ticket);
        if (range != null && range.getValue() >= ticket) {
            throw new IOException("the write that was to make this change durable failed ("
                    + failures.get(range.getKey()) + "); the change was undone");
        }
    }
}
