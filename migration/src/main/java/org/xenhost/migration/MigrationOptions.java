package org.xenhost.migration;

import java.util.Map;
import java.util.regex.Pattern;

/**
 * What the operator asked of one migration ({@code xenhost migrate} flags).
 *
 * @param live           pre-copy while the guest runs (default); false: pause first, copy once
 * @param offline        move only the definition of a shut-off domain; no stream
 * @param paused         leave the guest paused on the destination
 * @param persist        define the domain on the destination (otherwise it arrives transient)
 * @param undefineSource forget the definition on the source after success
 * @param bandwidthMiBps throttle of the data path in MiB/s; 0 = as fast as the link goes
 * @param debug          libxc's VERIFY pass: memory is sent again and the destination compares every page
 * @param destName       name on the destination, or null to keep the name
 * @param timeoutSeconds give up (and roll back) if the guest has not been handed over after this long; 0 = never
 * @param hostdevPolicy  what to do with passed-through devices
 * @param hostdevMap     source BDF → destination BDF for {@link HostdevPolicy#REPLUG}; empty = match automatically
 */
public record MigrationOptions(boolean live, boolean offline, boolean paused, boolean persist, boolean undefineSource,
                               int bandwidthMiBps, boolean debug, String destName, int timeoutSeconds,
                               HostdevPolicy hostdevPolicy, Map<String, String> hostdevMap) {

    /** Passed-through devices and migration (Xen cannot log DMA writes of an assigned device). */
    public enum HostdevPolicy {
        /** Refuse a guest with a host device, saying why. */
        REFUSE,
        /** Unplug before, migrate without them, plug the mapped devices on the destination. */
        REPLUG
    }

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.+-]{1,64}");
    private static final Pattern BDF = Pattern.compile("[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]");

    public MigrationOptions {
        hostdevPolicy = hostdevPolicy == null ? HostdevPolicy.REFUSE : hostdevPolicy;
        hostdevMap = hostdevMap == null ? Map.of() : Map.copyOf(hostdevMap);
        if (offline && (live || debug || paused || bandwidthMiBps > 0)) {
            throw new IllegalArgumentException("--offline moves only the definition; it cannot be combined with "
                    + "--live, --debug, --paused or --bandwidth");
        }
        if (offline && !persist) {
            throw new IllegalArgumentException("--offline needs --persist: an offline migration defines the domain on the destination");
        }
        if (bandwidthMiBps < 0 || bandwidthMiBps > 1_000_000) {
            throw new IllegalArgumentException("--bandwidth must be 0 (unlimited) to 1000000 MiB/s, got " + bandwidthMiBps);
        }
        if (timeoutSeconds < 0) {
            throw new IllegalArgumentException("--timeout must be a positive number of seconds, got " + timeoutSeconds);
        }
        if (destName != null && !NAME.matcher(destName).matches()) {
            throw new IllegalArgumentException("--dest-name '" + destName + "' must be 1-64 characters of A-Z a-z 0-9 _ . + -");
        }
        for (Map.Entry<String, String> e : hostdevMap.entrySet()) {
            if (!BDF.matcher(e.getKey()).matches() || !BDF.matcher(e.getValue()).matches()) {
                throw new IllegalArgumentException("--hostdev-map " + e.getKey() + "=" + e.getValue()
                        + " must map full BDFs, e.g. 0000:03:00.0=0000:04:00.1");
            }
        }
        if (!hostdevMap.isEmpty() && hostdevPolicy != HostdevPolicy.REPLUG) {
            throw new IllegalArgumentException("--hostdev-map needs --hostdev-policy=replug");
        }
    }

    /** Live, nothing else: what a bare {@code xenhost migrate DOM DEST} does. */
    public static MigrationOptions defaults() {
        return new MigrationOptions(true, false, false, false, false, 0, false, null, 0, HostdevPolicy.REFUSE, Map.of());
    }
}
