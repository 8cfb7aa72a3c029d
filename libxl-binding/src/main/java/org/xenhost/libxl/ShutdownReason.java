package org.xenhost.libxl;

/** {@code libxl_shutdown_reason}: why a domain in state shutdown stopped. Meaningful only when it has. */
public enum ShutdownReason {
    UNKNOWN(-1),
    POWEROFF(0),
    REBOOT(1),
    SUSPEND(2),
    CRASH(3),
    WATCHDOG(4),
    SOFT_RESET(5);

    private final int code;

    ShutdownReason(int code) {
        this.code = code;
    }

    /** The C enum value. */
    public int code() {
        return code;
    }

    /** The reason for a C enum value; unknown values map to {@link #UNKNOWN}. */
    public static ShutdownReason ofCode(int code) {
        for (ShutdownReason r : values()) {
            if (r.code == code) {
                return r;
            }
        }
        return UNKNOWN;
    }
}
