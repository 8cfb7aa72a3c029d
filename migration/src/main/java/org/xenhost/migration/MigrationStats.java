package org.xenhost.migration;

/**
 * A migration's progress as {@code domjobinfo} and {@code xenhost migrate} show it. Rates are MiB/s, times
 * milliseconds; a value not known yet is -1.
 *
 * @param id                   migration id
 * @param role                 "source" or "destination"
 * @param phase                where it is ({@link Phase#label()}), or "streaming: iteration N" detail in {@code step}
 * @param step                 what libxenguest says it is doing (e.g. "Frames iteration 2 of 5 (1234 dirty)")
 * @param bytes                stream bytes moved
 * @param pages                guest pages with contents moved
 * @param memoryTotalBytes     guest memory
 * @param memoryRemainingBytes memory still to send in the current pass
 * @param iteration            pre-copy iteration (0 = first full pass), -1 before memory starts
 * @param dirtyRateMiBps       guest dirtying rate observed between passes
 * @param transferRateMiBps    stream rate over the last second; once finished, the average over the whole migration
 * @param elapsedMs            since the migration began
 * @param etaMs                estimated time to the end of the current pass
 * @param downtimeMs           source pause to destination unpause (upper bound: includes one round trip)
 * @param finalPassPages       pages sent while the source was paused (the last dirty set), -1 before then
 * @param outcome              null while running; "completed", "rolled-back", "aborted", "failed", "undecided"
 * @param message              why it ended so, or null
 * @param replugged            devices moved with {@code --hostdev-policy=replug}: source BDF → destination BDF
 */
public record MigrationStats(String id, String role, String phase, String step, long bytes, long pages,
                             long memoryTotalBytes, long memoryRemainingBytes, int iteration, double dirtyRateMiBps,
                             double transferRateMiBps, long elapsedMs, long etaMs, long downtimeMs, long finalPassPages, String outcome,
                             String message, java.util.Map<String, String> replugged) {
    public MigrationStats {
        replugged = replugged == null ? java.util.Map.of() : java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(replugged));
    }
}
