package org.xenhost.driver.state;

import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * What the driver keeps about one domain between restarts (domains/&lt;uuid&gt;/state.json). libxl is stateless:
 * this is the only place that knows a domain's name-to-uuid binding, whether it is defined, which devices it
 * owns, and which job was running when the daemon stopped.
 *
 * @param domid         Xen's id while the domain exists, else null
 * @param persistent    defined (survives shutdown) rather than transient
 * @param ownedDevices  BDFs (DDDD:BB:DD.F) attached to it by us
 * @param job           the modify job in flight when this was written, or null
 */
public record DomainRecord(String uuid, String name, Integer domid, RunState state, boolean persistent,
                           List<String> ownedDevices, InterruptedJob job) {

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
        ownedDevices = List.copyOf(ownedDevices == null ? List.of() : ownedDevices);
    }

    public DomainRecord withRuntime(Integer newDomid, RunState newState) {
        return new DomainRecord(uuid, name, newDomid, newState, persistent, ownedDevices, job);
    }

    public DomainRecord withJob(InterruptedJob newJob) {
        return new DomainRecord(uuid, name, domid, state, persistent, ownedDevices, newJob);
    }

    public DomainRecord withDevices(List<String> devices) {
        return new DomainRecord(uuid, name, domid, state, persistent, devices, job);
    }

    public DomainRecord withPersistent(boolean p) {
        return new DomainRecord(uuid, name, domid, state, p, ownedDevices, job);
    }
}
