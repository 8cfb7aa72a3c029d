package org.xenhost.driver.api;

/**
 * Why a {@link Driver} call failed, as the admin protocol carries it and the CLI maps it to an exit code:
 * {@link #INVALID_INPUT} and {@link #NOT_FOUND} are the operator's to fix (exit 2), the rest exit 1.
 */
public enum DriverError {
    /** The request itself is wrong: bad name, bad config, conflicting options. */
    INVALID_INPUT,
    /** No such domain, device or file. */
    NOT_FOUND,
    /** Another job holds the domain. */
    BUSY,
    /** Valid request, but the host cannot do it now (not enough memory, device in use, wrong state). */
    REFUSED,
    /** It was tried and failed (libxl, sysfs, I/O). */
    FAILED
}
