package org.xenhost.migration;

import org.xenhost.libxl.ProgressListener;
import org.xenhost.libxl.SaveProgress;
import org.xenhost.libxl.stream.StreamTap;
import org.xenhost.libxl.stream.TapSnapshot;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns libxenguest's progress lines and the stream tap's counters into {@link MigrationStats}. Written by the
 * suspend/pump threads, read by queries from any thread without waiting: every field is volatile or a
 * snapshot.
 */
final class ProgressTracker implements ProgressListener {
    private static final Pattern ITERATION = Pattern.compile("iteration (\\d+)");
    private static final long PAGE = 4096;

    private final String id;
    private final String role;
    private final long memoryTotalBytes;
    private final StreamTap tap;
    private final long startNs = System.nanoTime();

    private volatile Phase phase;
    private volatile java.util.Map<String, String> replugged = java.util.Map.of();
    private volatile String step = "";
    private volatile long roundDone;
    private volatile long roundTotal;
    private volatile int iteration = -1;
    private volatile double dirtyRate = -1;
    private volatile long roundStartNs;
    private volatile long pausedAtNs;
    private volatile long downtimeMs = -1;
    private volatile long finalPassPages = -1;
    private volatile String outcome;
    private volatile String message;
    // transfer rate over a sliding second
    private volatile long rateMarkNs = System.nanoTime();
    private volatile long rateMarkBytes;
    private volatile double rate = -1;

    ProgressTracker(String id, String role, long memoryTotalBytes, Phase phase) {
        this.id = id;
        this.role = role;
        this.memoryTotalBytes = memoryTotalBytes;
        this.phase = phase;
        this.tap = new StreamTap(StreamTap.Format.LIBXL);
    }

    StreamTap tap() {
        return tap;
    }

    void phase(Phase p) {
        phase = p;
    }

    Phase phase() {
        return phase;
    }

    @Override
    public void progress(SaveProgress p) {
        String what = p.doingWhat() == null ? "" : p.doingWhat();
        long now = System.nanoTime();
        if (!what.equals(step)) {
            Matcher m = ITERATION.matcher(what);
            if (m.find()) {
                int it = Integer.parseInt(m.group(1));
                if (it > 0 && roundStartNs != 0) {
                    // pages dirtied while the previous pass ran, over the time it took
                    double secs = (now - roundStartNs) / 1e9;
                    dirtyRate = secs <= 0 ? -1 : p.total() * PAGE / secs / (1 << 20);
                }
                iteration = it;
            } else if (what.contains("final") || what.contains("suspended")) {
                markPaused();
                finalPassPages = p.total();
                iteration = Math.max(iteration, 0) + 1;
            } else if (what.startsWith("Frames") && iteration < 0) {
                iteration = 0; // non-live: one pass, the guest is paused already
            }
            roundStartNs = now;
            step = what;
        }
        roundDone = p.done();
        roundTotal = p.total();
    }

    /** The source guest stopped running (final pass, or a non-live save started). */
    void markPaused() {
        if (pausedAtNs == 0) {
            pausedAtNs = System.nanoTime();
        }
    }

    /** The destination reported its copy running (or it was left paused on request). */
    void markResumedRemotely() {
        if (pausedAtNs != 0 && downtimeMs < 0) {
            downtimeMs = (System.nanoTime() - pausedAtNs) / 1_000_000;
        }
    }

    void finish(String outcome, String message) {
        this.outcome = outcome;
        this.message = message;
    }

    long elapsedMs() {
        return (System.nanoTime() - startNs) / 1_000_000;
    }

    /** The devices this migration moved (source BDF → destination BDF), reported with the statistics. */
    void replugged(java.util.Map<String, String> mapping) {
        replugged = mapping;
    }

    MigrationStats snapshot() {
        TapSnapshot t = tap.snapshot();
        long now = System.nanoTime();
        long dt = now - rateMarkNs;
        if (dt >= 1_000_000_000L || rate < 0 && dt > 100_000_000L) {
            rate = (t.bytes() - rateMarkBytes) / (dt / 1e9) / (1 << 20);
            rateMarkNs = now;
            rateMarkBytes = t.bytes();
        }
        long remaining = Math.max(0, roundTotal - roundDone) * PAGE;
        long eta = rate > 0 ? (long) (remaining / (rate * (1 << 20)) * 1000) : -1;
        long elapsed = elapsedMs();
        // once finished, "the last second" is idle: the average over the whole migration is the figure to report
        double shownRate = outcome != null && elapsed > 0 ? t.bytes() / (elapsed / 1e3) / (1 << 20) : rate;
        return new MigrationStats(id, role, phase.label(), step, t.bytes(), t.pagesWithData(), memoryTotalBytes,
                remaining, iteration, round(dirtyRate), round(shownRate), elapsed, outcome != null ? 0 : eta, downtimeMs,
                finalPassPages, outcome, message, replugged);
    }

    private static double round(double v) {
        return v < 0 ? -1 : Math.round(v * 10) / 10.0;
    }
}
