package org.xenhost.libxl;

/**
 * A domain's run state, condensed from {@code libxl_dominfo}'s flags in the order {@code xl list} gives them
 * weight: dying, then shutdown (split by reason: suspend is {@link #SUSPENDED}), then paused, else running
 * (running or blocked on an event; both mean "scheduled" to a manager).
 */
public enum DomainState {
    RUNNING,
    PAUSED,
    /** Shut down with reason suspend: its memory was saved and it waits to be resumed or destroyed. */
    SUSPENDED,
    SHUTDOWN,
    DYING;

    /** Condenses libxl_dominfo's flags. */
    public static DomainState of(boolean paused, boolean shutdown, boolean dying, ShutdownReason reason) {
        if (dying) {
            return DYING;
        }
        if (shutdown) {
            return reason == ShutdownReason.SUSPEND ? SUSPENDED : SHUTDOWN;
        }
        return paused ? PAUSED : RUNNING;
    }
}
