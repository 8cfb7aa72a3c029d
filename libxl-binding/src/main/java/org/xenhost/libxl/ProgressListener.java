package org.xenhost.libxl;

/**
 * Receives progress while a domain is saved or restored. Called from a libxl (or emulator) thread: it must
 * return quickly and must not call back into {@link Libxl}.
 */
@FunctionalInterface
public interface ProgressListener {
    /** Ignores every report. */
    ProgressListener NONE = p -> { };

    void progress(SaveProgress progress);
}
