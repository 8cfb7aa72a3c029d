package org.xenhost.emulator.domain;

/**
 * Run state of an emulated domain, as libxl_dominfo reports it.
 *
 * <pre>
 *   (restore) PROVISIONAL ──ok──> PAUSED | RUNNING        PROVISIONAL ──fail──> (removed)
 *   (create) ──> RUNNING <──unpause── PAUSED <──pause── RUNNING
 *   RUNNING|PAUSED ──suspend (save)──> SUSPENDED ──resume(suspend_cancel)──> RUNNING
 *   any ──destroy──> (removed)          SHUTDOWN: guest-initiated, only destroy leaves it
 * </pre>
 */
public enum DomainState {
    /** Being restored: not listed, removed with its memory if the restore fails or the emulator restarts. */
    PROVISIONAL,
    RUNNING,
    PAUSED,
    /** Shut down with reason "suspend" after a successful save; the caller destroys or resumes it. */
    SUSPENDED,
    SHUTDOWN;

    /** True when the guest's vCPUs run (its workload dirties memory). */
    public boolean runs() {
        return this == RUNNING;
    }
}
