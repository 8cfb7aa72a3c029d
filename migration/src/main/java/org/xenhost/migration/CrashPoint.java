package org.xenhost.migration;

/**
 * Fault injection for the crash tests: when the environment variable {@code XENHOST_MIGRATION_HALT_AT} names a
 * step (e.g. {@code source:migrated-away}), the daemon stops dead there, like kill -9 (no shutdown hooks, no
 * flush), so a test can crash a daemon at an exact handshake step, which no timing from outside can. Unset,
 * it costs one string comparison per step.
 */
final class CrashPoint {
    private static final String AT = System.getenv("XENHOST_MIGRATION_HALT_AT");

    private CrashPoint() {
    }

    static void reached(String step) {
        if (AT != null && AT.equals(step)) {
            System.err.println("xenhostd: halting at " + step + " (XENHOST_MIGRATION_HALT_AT)");
            Runtime.getRuntime().halt(137);
        }
    }
}
