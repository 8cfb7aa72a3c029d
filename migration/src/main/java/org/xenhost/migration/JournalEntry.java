package org.xenhost.migration;

import java.time.Instant;

/**
 * One migration as one side's journal holds it ({@code migrations/<id>.json}).
 *
 * @param id       the migration id (same on both sides)
 * @param role     "source" or "destination"
 * @param phase    where this side is
 * @param name     guest name on this side
 * @param uuid     guest uuid
 * @param domid    this side's copy, once it exists
 * @param peer     the other daemon's HOST:PORT, for recovery questions (null if unknown)
 * @param cookie   the cookie (destination: to finish the guest's registration after a restart)
 * @param message  why it ended as it did, for the operator
 * @param updated  when this entry was written
 */
public record JournalEntry(String id, String role, Phase phase, String name, String uuid, Integer domid, String peer,
                           MigrationCookie cookie, String message, Instant updated) {
    public static final String SOURCE = "source";
    public static final String DESTINATION = "destination";

    public JournalEntry at(Phase p, String why) {
        return new JournalEntry(id, role, p, name, uuid, domid, peer, cookie, why, Instant.now());
    }

    public JournalEntry withDomid(int d) {
        return new JournalEntry(id, role, phase, name, uuid, d, peer, cookie, message, Instant.now());
    }

    @com.fasterxml.jackson.annotation.JsonIgnore
    public boolean isSource() {
        return SOURCE.equals(role);
    }
}
