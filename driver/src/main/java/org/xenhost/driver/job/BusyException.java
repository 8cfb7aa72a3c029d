package org.xenhost.driver.job;

import java.time.Instant;

/** A modify job was refused because another one holds the domain; says which and since when. */
public final class BusyException extends RuntimeException {
    private final JobKind holder;
    private final Instant since;

    public BusyException(String domain, JobKind wanted, JobKind holder, Instant since) {
        super("busy: domain '" + domain + "' is running " + holder.label() + " since " + since
                + "; retry " + wanted.label() + " when it ends (see 'xenhost domjobinfo " + domain + "')");
        this.holder = holder;
        this.since = since;
    }

    public JobKind holder() {
        return holder;
    }

    public Instant since() {
        return since;
    }
}
