package org.xenhost.daemon;

/**
 * Whether this JVM has begun shutting down (Ctrl-C, SIGTERM, System.exit). The JVM offers no query; it only refuses
 * new shutdown hooks once it has begun, so a thread that failed because of the shutdown can tell that this, not its
 * own error, is the cause.
 */
public final class JvmShutdown {
    private JvmShutdown() {
    }

    public static boolean inProgress() {
        Thread probe = new Thread(() -> { }, "xenhost-shutdown-probe");
        try {
            Runtime.getRuntime().addShutdownHook(probe);
            Runtime.getRuntime().removeShutdownHook(probe);
            return false;
        } catch (IllegalStateException shuttingDown) {
            return true;
        }
    }
}
