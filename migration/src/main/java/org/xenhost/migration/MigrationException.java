package org.xenhost.migration;

/**
 * A migration that did not happen or did not finish; the message says where the guest is now.
 */
public class MigrationException extends RuntimeException {
    /** Whose fault: the request (bad destination, options), or the peer refused, or it failed underway. */
    public enum Kind { INVALID_INPUT, REFUSED, FAILED, ABORTED }

    private final Kind kind;

    public MigrationException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public MigrationException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
