package org.xenhost.migration;

/**
 * Who keeps the guest when a migration was cut short (crash, link loss), from the two journals. The source's
 * journal decides: only a source that reached {@link Phase#MIGRATED_AWAY} may let the destination run, and
 * only a destination that holds a complete copy ({@link Phase#RECEIVED} or later) may take over. Both sides
 * apply the same function to the same pair, so they agree without a third party; a side that cannot learn
 * the other's phase waits ({@link Outcome#UNDECIDED}) with its copy paused.
 */
public final class Resolution {
    private Resolution() {
    }

    /** What to do with the two copies. */
    public enum Outcome {
        /** The destination's copy runs; the source's is destroyed. */
        COMMIT,
        /** The source's copy resumes; the destination's is destroyed. */
        ROLLBACK,
        /** Not knowable from this side alone: keep paused, ask again. */
        UNDECIDED
    }

    /**
     * @param source the source's phase, or null if the source has no journal for this migration
     * @param dest   the destination's phase, or null if it is unknown (unreachable, or its journal is gone)
     */
    public static Outcome decide(Phase source, Phase dest) {
        if (source == null || !source.pastPointOfNoReturn()) {
            // the source never handed the guest over: it may resume; a destination copy is never unpaused
            return Outcome.ROLLBACK;
        }
        if (source == Phase.COMMITTED) {
            return Outcome.COMMIT;
        }
        // source MIGRATED_AWAY: the destination decides by what it holds
        if (dest == null) {
            return Outcome.UNDECIDED;
        }
        return switch (dest) {
            case RECEIVED, UNPAUSED -> Outcome.COMMIT;
            case INCOMING, DESTROYED -> Outcome.ROLLBACK;
            default -> throw new IllegalArgumentException("not a destination phase: " + dest);
        };
    }
}
