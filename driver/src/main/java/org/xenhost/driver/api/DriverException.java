package org.xenhost.driver.api;

/** A {@link Driver} call that did not succeed; the message is written for the operator. */
public class DriverException extends RuntimeException {
    private final DriverError error;

    public DriverException(DriverError error, String message) {
        super(message);
        this.error = error;
    }

    public DriverException(DriverError error, String message, Throwable cause) {
        super(message, cause);
        this.error = error;
    }

    public DriverError error() {
        return error;
    }

    /** True when the operator's input is at fault (the CLI exits 2). */
    public boolean badInput() {
        return error == DriverError.INVALID_INPUT || error == DriverError.NOT_FOUND;
    }
}
