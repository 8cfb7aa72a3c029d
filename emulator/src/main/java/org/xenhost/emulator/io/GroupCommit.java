package org.xenhost.emulator.io;

import java.io.IOException;

/**
 * Makes a shared state file durable for many threads at once. A change is published (an immutable snapshot, under
 * whatever lock ordered the change) and gets a ticket; {@link #await} returns once a snapshot at least that new is
 * on disk. Whoever finds the file behind writes the newest snapshot, for itself and for every thread that published
 * before it, so N concurrent changes cost one or two file writes instead of N writes in a queue. The lock that
 * orders changes is never held across the write.
 *
 * @param <T> an immutable snapshot of the state
 */
public final class GroupCommit<T> {
    /** Writes one snapshot durably (e.g. {@link AtomicFiles#write}). */
    @FunctionalInterface
    public interface Writer<T> {
        void write(T snapshot) throws IOException;
    }

    private final Writer<T> writer;
    private final Object fileLock = new Object();
    private T latest;
    private long published;
    private long written; // guarded by fileLock

    public GroupCommit(Writer<T> writer) {
        this.writer = writer;
    }

    /** Records {@code snapshot} as the newest state; returns the ticket to {@link #await}. */
    public synchronized long publish(T snapshot) {
        latest = snapshot;
        return ++published;
    }

    /** Returns once the state of {@code ticket} (or a newer one) is on disk; rethrows the write's failure. */
    public void await(long ticket) throws IOException {
        synchronized (fileLock) {
            if (written >= ticket) {
                return; // carried by another thread's write
            }
            T snapshot;
            long newest;
            synchronized (this) {
                snapshot = latest;
                newest = published;
            }
            writer.write(snapshot);
            written = newest;
        }
    }
}
