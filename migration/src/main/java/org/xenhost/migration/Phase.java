package org.xenhost.migration;

/**
 * Where one side of a migration is, as its journal records it. The journal is written (and fsynced) before the
 * message that depends on the new phase is sent, so after a crash each side knows at least what the other may
 * have been told.
 *
 * <pre>
 *  SOURCE                                           DESTINATION
 *  BEGIN ──prepare──> PREPARED ──> STREAMING        INCOMING (checked, reserved)
 *        (any failure up to here: ROLLED_BACK,      ──stream restored paused──> RECEIVED ──ready──>
 *         the guest resumes)                         (failure before RECEIVED: DESTROYED)
 *  <──ready── MIGRATED_AWAY (renamed) ──go──>        ──go──> UNPAUSED (renamed, running) ──result──>
 *  <──result ok── COMMITTED (source copy destroyed)  (failure after go: DESTROYED, source rolls back)
 * </pre>
 */
public enum Phase {
    // source
    BEGIN, PREPARED, STREAMING, MIGRATED_AWAY, COMMITTED, ROLLED_BACK,
    // destination
    INCOMING, RECEIVED, UNPAUSED, DESTROYED;

    /** Nothing left to settle. */
    public boolean terminal() {
        return this == COMMITTED || this == ROLLED_BACK || this == UNPAUSED || this == DESTROYED;
    }

    /** The source has given up its right to resume the guest on its own. */
    public boolean pastPointOfNoReturn() {
        return this == MIGRATED_AWAY || this == COMMITTED;
    }

    /** Operator-facing name, e.g. {@code migrated-away}. */
    public String label() {
        return name().toLowerCase().replace('_', '-');
    }
}
