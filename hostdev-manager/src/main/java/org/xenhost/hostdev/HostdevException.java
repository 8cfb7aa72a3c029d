package org.xenhost.hostdev;

/**
 * An operation failed on the host (libxl, sysfs or the journal). The message names the device, the numbered step
 * that failed and what the unwind did; the journal says where every device is.
 */
public class HostdevException extends Exception {
    private static final long serialVersionUID = 1L;

    public HostdevException(String message) {
        super(message);
    }

    public HostdevException(String message, Throwable cause) {
        super(message, cause);
    }
}
