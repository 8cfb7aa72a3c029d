package org.xenhost.libxl;

/**
 * libxl's error codes ({@code libxl_error} in {@code _libxl_types.h}, Xen 4.17). Every {@link LibxlException}
 * carries one, so callers can tell "domain not found" from "device busy" without parsing messages, and the
 * emulated host reports the very same codes as libxenlight.
 */
public enum LibxlError {
    NONSPECIFIC(-1),
    VERSION(-2),
    FAIL(-3),
    NI(-4),
    NOMEM(-5),
    INVAL(-6),
    BADFAIL(-7),
    GUEST_TIMEDOUT(-8),
    TIMEDOUT(-9),
    NOPARAVIRT(-10),
    NOT_READY(-11),
    OSEVENT_REG_FAIL(-12),
    BUFFERFULL(-13),
    UNKNOWN_CHILD(-14),
    LOCK_FAIL(-15),
    JSON_CONFIG_EMPTY(-16),
    DEVICE_EXISTS(-17),
    CHECKPOINT_DEVOPS_DOES_NOT_MATCH(-18),
    CHECKPOINT_DEVICE_NOT_SUPPORTED(-19),
    VNUMA_CONFIG_INVALID(-20),
    DOMAIN_NOTFOUND(-21),
    ABORTED(-22),
    NOTFOUND(-23),
    DOMAIN_DESTROYED(-24),
    FEATURE_REMOVED(-25),
    PROTOCOL_ERROR_QMP(-26),
    UNKNOWN_QMP_ERROR(-27),
    QMP_GENERIC_ERROR(-28),
    QMP_COMMAND_NOT_FOUND(-29),
    QMP_DEVICE_NOT_ACTIVE(-30),
    QMP_DEVICE_NOT_FOUND(-31),
    QEMU_API(-32);

    private final int code;

    LibxlError(int code) {
        this.code = code;
    }

    /** The negative number libxl returns, e.g. -3 for {@link #FAIL}. */
    public int code() {
        return code;
    }

    /**
     * Maps a libxl return value to its code. Values libxl does not define (including the bare -1 some
     * paths return instead of a libxl code) map to {@link #NONSPECIFIC}; the raw value is kept by
     * {@link LibxlException#rawCode()}.
     *
     * @throws IllegalArgumentException for 0 and positive values, which are not errors
     */
    public static LibxlError of(int rc) {
        if (rc >= 0) {
            throw new IllegalArgumentException("libxl return value " + rc + " is not an error code");
        }
        int index = -rc - 1;
        LibxlError[] all = values();
        return index < all.length ? all[index] : NONSPECIFIC;
    }
}
