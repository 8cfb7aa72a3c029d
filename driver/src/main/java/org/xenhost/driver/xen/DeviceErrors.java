package org.xenhost.driver.xen;

import org.xenhost.driver.api.DriverError;
import org.xenhost.driver.api.DriverException;
import org.xenhost.hostdev.HostdevException;

/**
 * The host-device manager's failures as {@link DriverException}s. A refusal ({@code DeviceRefusedException}) or
 * other bad input is the operator's to fix, as the manager's contract says (exit 2); a {@link HostdevException}
 * is the host's (exit 1) and already names the step that failed and what the unwind did.
 */
final class DeviceErrors {
    private DeviceErrors() {
    }

    /** A manager call that may fail either way. */
    interface Call<T> {
        T get() throws HostdevException;
    }

    static <T> T call(Call<T> c) {
        try {
            return c.get();
        } catch (HostdevException e) {
            throw new DriverException(DriverError.FAILED, e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new DriverException(e.getMessage() != null && e.getMessage().startsWith("unknown device")
                    ? DriverError.NOT_FOUND : DriverError.INVALID_INPUT, e.getMessage(), e);
        }
    }
}
