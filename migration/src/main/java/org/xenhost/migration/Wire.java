package org.xenhost.migration;

import org.xenhost.transport.ControlMessage;

import java.io.IOException;

/**
 * The migration's control messages on the transport: a type name and a JSON body, version 1 of each. A message
 * of an unknown version is refused rather than guessed at.
 */
public final class Wire {
    private Wire() {
    }

    static final int VERSION = 1;

    /** Source → destination: the cookie; the destination checks it and answers {@link Prepared}. */
    static final String PREPARE = "migration.prepare";
    static final String PREPARED = "migration.prepared";
    /** Destination → source: the stream was restored, the copy is paused under NAME--incoming. */
    static final String READY = "migration.ready";
    /** Source → destination: "domain is yours, you are cleared to unpause" (after journaling MIGRATED_AWAY). */
    static final String GO = "migration.go";
    /** Destination → source: the outcome; {@code ok=false} means the destination destroyed its copy. */
    static final String RESULT = "migration.result";
    /** Either way: stop; the sender's side is rolling back. */
    static final String ABORT = "migration.abort";
    /** Recovery: "here is my phase of migration ID, what is yours?" */
    static final String RESOLVE = "migration.resolve";
    static final String RESOLVED = "migration.resolved";

    record Prepare(MigrationCookie cookie) {
    }

    /** @param replug the destination's device for each source device (source BDF → destination BDF) */
    record Prepared(boolean accepted, String reason, java.util.Map<String, String> replug) {
        Prepared(boolean accepted, String reason) {
            this(accepted, reason, java.util.Map.of());
        }
    }

    record Ready(long bytes, long pages) {
    }

    record Go(String id) {
    }

    record Result(boolean ok, String message) {
    }

    record Abort(String reason) {
    }

    record Resolve(String id, String role, Phase phase) {
    }

    /** @param phase the responder's phase, null if it has no journal for the id */
    record Resolved(String id, Phase phase) {
    }

    static ControlMessage encode(String type, Object body) {
        try {
            return new ControlMessage(type, VERSION, MigrationJournal.JSON.writeValueAsBytes(body));
        } catch (IOException e) {
            throw new IllegalStateException("cannot encode " + type, e);
        }
    }

    static <T> T decode(ControlMessage m, String expectedType, Class<T> type) throws IOException {
        if (m == null) {
            throw new IOException("the peer sent nothing while " + expectedType + " was expected");
        }
        if (m.type().equals(ABORT) && !expectedType.equals(ABORT)) {
            Abort a = MigrationJournal.JSON.readValue(m.body(), Abort.class);
            throw new PeerAbortedException(a.reason());
        }
        if (!m.type().equals(expectedType)) {
            throw new IOException("the peer sent " + m.type() + " where " + expectedType + " was expected");
        }
        if (m.version() != VERSION) {
            throw new IOException("the peer sent " + m.type() + " version " + m.version() + "; this host speaks version "
                    + VERSION + " (upgrade the older daemon)");
        }
        return MigrationJournal.JSON.readValue(m.body(), type);
    }

    /** The peer said stop. */
    static final class PeerAbortedException extends IOException {
        PeerAbortedException(String reason) {
            super("the peer aborted the migration: " + reason);
        }
    }
}
