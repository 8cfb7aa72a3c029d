package org.xenhost.driver.job;

import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Per-domain job slots, as in libvirt's job model but without a driver-wide lock: a modify job excludes other
 * modify jobs on the same domain only; queries never wait (they read {@link #current}). A second modify request
 * waits briefly for the slot, then fails with {@link BusyException} naming the job that holds it.
 *
 * <pre>
 *   free ──begin(kind)──▶ held(kind, since) ──close()──▶ free
 *                              │
 *                   begin(other) waits ≤ wait, then BusyException
 * </pre>
 */
public final class DomainJobs {
    private final Map<String, Job> held = new ConcurrentHashMap<>();
    private final Duration wait;
    private final Clock clock;

    /** @param wait how long a modify request waits for a busy domain before it is refused */
    public DomainJobs(Duration wait, Clock clock) {
        this.wait = wait;
        this.clock = clock;
    }

    public DomainJobs() {
        this(Duration.ofSeconds(2), Clock.systemUTC());
    }

    /**
     * Takes the domain's slot for a modify job. The key is the domain's stable identity (its uuid).
     *
     * @param label the domain's name, for the busy message
     */
    public Job begin(String key, String label, JobKind kind) throws InterruptedException {
        long deadline = System.nanoTime() + wait.toNanos();
        while (true) {
            Job mine = new Job(this, key, kind, clock.instant());
            Job other = held.putIfAbsent(key, mine);
            if (other == null) {
                return mine;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new BusyException(label, kind, other.kind(), other.started());
            }
            synchronized (this) {
                // woken by release(); the timeout bounds a missed wake-up
                wait(Math.max(1, Math.min(left / 1_000_000, 50)));
            }
        }
    }

    /** The job holding the domain, if any; never blocks. */
    public Optional<Job> current(String key) {
        return Optional.ofNullable(held.get(key));
    }

    void release(Job job) {
        held.remove(job.domain(), job);
        synchronized (this) {
            notifyAll();
        }
    }
}
