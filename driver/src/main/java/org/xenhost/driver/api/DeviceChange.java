package org.xenhost.driver.api;

import java.util.List;

/**
 * What {@code attach-device} / {@code detach-device} did.
 *
 * @param domain    the domain's name
 * @param devices   the functions moved (one, or every function of a {@code BB:DD.*} spec)
 * @param live      the running domain was changed
 * @param config    the stored definition was changed
 * @param resets    the reset each function gets, e.g. "0000:04:00.0: FLR (...)"
 * @param returnedTo for a managed device detached live: the dom0 driver it went back to; else null
 * @param warnings  what did not go as planned but did not fail the request (e.g. a managed device that could
 *                  not be given back and stays assignable)
 */
public record DeviceChange(String domain, List<String> devices, boolean live, boolean config, List<String> resets,
                           String returnedTo, List<String> warnings) {
    public DeviceChange {
        devices = List.copyOf(devices);
        resets = List.copyOf(resets);
        warnings = List.copyOf(warnings);
    }
}
