package org.xenhost.driver.state;

import java.time.Instant;
import java.util.Objects;

/**
 * What the driver keeps about one domain between restarts (domains/&lt;uuid&gt;/state.json). libxl is stateless:
 * this is the only place that knows a domain's name-to-uuid binding, whether it is defined, and which job was
 * running when the daemon stopped. Which devices a domain owns is the host-device manager's ownership journal's
 * to say (records written before it was dropped here carry an {@code ownedDevices} list, ignored when read).
 *
 * @param domid         Xen's id while the domain exists, else null
 * @param persistent    defined (survives shutdown) rather than transient
 * @param job           the modify job in flight when this was written, or null
 */
public record DomainRecord(String uuid, String name, Integer domid, RunState state, boolean persistent,
                           InterruptedJob job) {

    /** The states xenhost shows; {@code FOREIGN} is never stored (it marks domains libxl knows and we do not). */
    public enum RunState {
        SHUT_OFF, RUNNING, PAUSED, SUSPENDED, CRASHED, FOREIGN
    }

    /** A job that was running when the record was written; at start-up it is reported as interrupted. */
    public record InterruptedJob(String kind, String phase, Instant since) {
    }

    public DomainRecord {
        Objects.requireNonNull(uuid, "uuid");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(state, "state");
    }

    public DomainRecord withRuntime(Integer newDomid, RunState newState) {
        return new DomainRecord(uuid, name, newDomid, newState, persistent, job);
    }

    public DomainRecord withJob(InterruptedJob newJob) {
        return new DomainRecord(uuid, name, domid, state, persistent, newJob);
    }

    public DomainRecord withPersistent(boolean p) {
        return new DomainRecord(uuid, name, domid, state, p, job);
    }
}
