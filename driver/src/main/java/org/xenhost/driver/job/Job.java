package org.xenhost.driver.job;

import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One running modify job on one domain. Queries read it without locks: its fields are immutable or atomic.
 * Closing it releases the domain for the next job.
 */
public final class Job implements AutoCloseable {
    private final DomainJobs owner;
    private final String domain;
    private final JobKind kind;
    private final Instant started;
    private final AtomicReference<String> phase = new AtomicReference<>("starting");
    private final AtomicReference<Runnable> abortHandler = new AtomicReference<>();
    private final AtomicBoolean abortRequested = new AtomicBoolean();
    private final AtomicBoolean closed = new AtomicBoolean();

    Job(DomainJobs owner, String domain, JobKind kind, Instant started) {
        this.owner = owner;
        this.domain = domain;
        this.kind = kind;
        this.started = started;
    }

    public String domain() {
        return domain;
    }

    public JobKind kind() {
        return kind;
    }

    public Instant started() {
        return started;
    }

    public String phase() {
        return phase.get();
    }

    /** Records the step the job is in, for {@code domjobinfo}. */
    public void phase(String now) {
        phase.set(Objects.requireNonNull(now));
    }

    /**
     * Installs what {@link #abort()} calls (e.g. stop the migration pump). If an abort was requested before the
     * job could take it, the handler runs at once.
     */
    public void onAbort(Runnable handler) {
        abortHandler.set(handler);
        if (abortRequested.get()) {
            handler.run();
        }
    }

    /** Asks the job to stop; {@code false} if it cannot be aborted (no handler installed). */
    public boolean abort() {
        abortRequested.set(true);
        Runnable h = abortHandler.get();
        if (h == null) {
            return false;
        }
        h.run();
        return true;
    }

    public boolean abortRequested() {
        return abortRequested.get();
    }

    public JobSnapshot snapshot() {
        return new JobSnapshot(domain, kind, started, phase.get(), abortHandler.get() != null, abortRequested.get());
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            owner.release(this);
        }
    }
}
