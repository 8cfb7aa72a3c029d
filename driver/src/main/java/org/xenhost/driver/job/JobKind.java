package org.xenhost.driver.job;

/** What a job does to its domain; decides whether it excludes other jobs (libvirt's job classes). */
public enum JobKind {
    START, DESTROY, SHUTDOWN, PAUSE, RESUME, SAVE, RESTORE, ATTACH_DEVICE, DETACH_DEVICE, MIGRATE_OUT, MIGRATE_IN,
    DEFINE, UNDEFINE, ADOPT;

    /** Operator-facing name, e.g. {@code migrate-out}. */
    public String label() {
        return name().toLowerCase().replace('_', '-');
    }
}
