package org.xenhost.libxl;

/**
 * A libxl operation failed. Carries libxl's error code (as returned by libxenlight, or as the emulated host
 * would return it) and a message that names the operation and its subject (domid, BDF, ...).
 */
public class LibxlException extends Exception {
    private static final long serialVersionUID = 1L;

    private final LibxlError error;
    private final int rawCode;

    /** An error with one of libxl's defined codes. */
    public LibxlException(LibxlError error, String message) {
        this(error.code(), message, null);
    }

    /** An error with one of libxl's defined codes and the cause on the Java side. */
    public LibxlException(LibxlError error, String message, Throwable cause) {
        this(error.code(), message, cause);
    }

    /**
     * An error from a raw libxl return value (negative). Undefined values keep their number in
     * {@link #rawCode()} and report {@link LibxlError#NONSPECIFIC} as {@link #error()}.
     */
    public LibxlException(int rc, String message) {
        this(rc, message, null);
    }

    /** An error from a raw libxl return value (negative) with the cause on the Java side. */
    public LibxlException(int rc, String message, Throwable cause) {
        super(message + " (libxl error " + rc + " " + LibxlError.of(rc) + ")", cause);
        this.error = LibxlError.of(rc);
        this.rawCode = rc;
    }

    /** libxl's error code. */
    public LibxlError error() {
        return error;
    }

    /** The number libxl returned (equal to {@code error().code()} unless libxl returned an undefined value). */
    public int rawCode() {
        return rawCode;
    }
}
