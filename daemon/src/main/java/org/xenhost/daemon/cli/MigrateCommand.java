package org.xenhost.daemon.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.xenhost.daemon.admin.RemoteDriver;
import org.xenhost.driver.api.Driver;
import org.xenhost.driver.api.DriverError;
import org.xenhost.driver.api.DriverException;
import org.xenhost.driver.api.JobInfo;
import org.xenhost.migration.MigrationOptions;
import org.xenhost.migration.MigrationStats;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * {@code xenhost migrate DOM DEST}: asks the local daemon to move a domain to the daemon at DEST (its TLS
 * migration port), showing progress while it runs: a one-line bar on a terminal, one JSON object per line
 * with {@code --json}. Ctrl-C aborts the migration (the guest keeps running here) unless it is past the
 * hand-over.
 */
@Command(name = "migrate", description = "Live-migrate a domain to another xenhost daemon (DEST = HOST:PORT of its migration listener).")
final class MigrateCommand implements Callable<Integer> {
    private static final ObjectMapper LINES = new ObjectMapper();

    @ParentCommand
    Main main;
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "DOM")
    String dom;
    @Parameters(index = "1", paramLabel = "DEST")
    String dest;
    // declared by its negative name: picocli gives a negatable option that defaults to true the inverted meaning
    // (with defaultValue "true", --no-live parsed as true and --live as false)
    @Option(names = "--no-live", negatable = true, description = "pause the guest first and copy its memory once "
            + "(default: --live, pre-copy while the guest runs)")
    boolean noLive;
    @Option(names = "--offline", description = "move only the definition of a shut-off domain (needs --persist)")
    boolean offline;
    @Option(names = "--paused", description = "leave the guest paused on the destination")
    boolean paused;
    @Option(names = "--persist", description = "define the domain on the destination")
    boolean persist;
    @Option(names = "--undefine-source", description = "forget the definition here after success")
    boolean undefineSource;
    @Option(names = "--bandwidth", paramLabel = "MiB/s", defaultValue = "0", description = "limit the stream (0: unlimited)")
    int bandwidth;
    @Option(names = "--debug", description = "send memory again for the destination to verify every page (libxc VERIFY)")
    boolean debug;
    @Option(names = "--dest-name", paramLabel = "NAME", description = "name on the destination")
    String destName;
    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "0", description = "abort if not handed over after this long")
    int timeout;
    @Option(names = "--hostdev-policy", paramLabel = "refuse|replug", defaultValue = "refuse",
            description = "guests with passed-through devices: refuse (default) or unplug/replug")
    String hostdevPolicy;
    @Option(names = "--hostdev-map", paramLabel = "SRC_BDF=DST_BDF", description = "device mapping for --hostdev-policy=replug")
    Map<String, String> hostdevMap;
    @Option(names = "--json", description = "one JSON object per line per event, for scripts")
    boolean json;

    /** The options as parsed from the command line, checked by {@link MigrationOptions}. */
    MigrationOptions options() {
        MigrationOptions.HostdevPolicy policy = switch (hostdevPolicy) {
            case "refuse" -> MigrationOptions.HostdevPolicy.REFUSE;
            case "replug" -> MigrationOptions.HostdevPolicy.REPLUG;
            default -> throw new IllegalArgumentException("--hostdev-policy '" + hostdevPolicy + "' must be refuse or replug");
        };
        return new MigrationOptions(!noLive && !offline, offline, paused, persist, undefineSource, bandwidth,
                debug, destName, timeout, policy, hostdevMap);
    }

    @Override
    public Integer call() throws Exception {
        MigrationOptions options = options();
        PrintWriter out = spec.commandLine().getOut();
        Driver d = RemoteDriver.connect(main.socket());
        // 1. Ctrl-C is armed before anything is asked of the daemon: a signal from here on either keeps the
        //    migration from starting or aborts it, and says which
        CtrlC ctrlC = new CtrlC(d, dom, dest, spec.commandLine().getErr());
        if (!ctrlC.arm()) {
            throw new IllegalStateException(CtrlC.notStarted(dom));
        }
        // 2. the migration, unless the signal came in between
        CompletableFuture<MigrationStats> run = ctrlC.start(() -> CompletableFuture.supplyAsync(() -> d.migrate(dom, dest, options)));
        if (run == null) {
            throw new IllegalStateException(CtrlC.notStarted(dom));
        }
        boolean bar = !json && System.console() != null;
        try {
            MigrationStats last = null;
            while (true) {
                try {
                    MigrationStats end = run.get(json ? 250 : 500, TimeUnit.MILLISECONDS);
                    if (bar) {
                        out.print("\r" + " ".repeat(100) + "\r");
                    }
                    report(out, end);
                    return Main.EXIT_OK;
                } catch (TimeoutException poll) {
                    MigrationStats now = progress(d);
                    if (now != null && (last == null || now.bytes() != last.bytes() || !now.phase().equals(last.phase()))) {
                        if (json) {
                            event(out, "progress", now, null);
                        } else if (bar) {
                            out.print("\r" + bar(now));
                            out.flush();
                        }
                        last = now;
                    }
                } catch (ExecutionException e) {
                    if (bar) {
                        out.println();
                    }
                    if (json) {
                        event(out, "failed", null, e.getCause().getMessage());
                    }
                    if (e.getCause() instanceof RuntimeException re) {
                        throw re;
                    }
                    throw e;
                }
            }
        } finally {
            ctrlC.disarm();
        }
    }

    /**
     * Ctrl-C (SIGINT; also SIGTERM) while {@code migrate} runs: a shutdown hook armed before the migration is asked
     * for, so the operator always learns what the signal did.
     * <pre>
     *   ARMED --start--> STARTED --signal--> abort asked of the daemon, outcome reported (the JVM then exits)
     *     |                 '--done--> disarmed
     *     '--signal--> INTERRUPTED: start() refuses, nothing is sent to the daemon
     * </pre>
     * A signal that came before the hook could even be armed ("Shutdown in progress") is reported by the caller as
     * INTERRUPTED too.
     */
    static final class CtrlC {
        /** How long the hook waits for the daemon to make the migration its job, then for the migration to end. */
        private static final long PATIENCE_SECONDS = 60;
        private static final String ABORT_REQUESTED = "abort requested";

        private final Driver driver;
        private final String dom;
        private final String dest;
        private final PrintWriter err;
        private final Thread hook = new Thread(this::onSignal, "migrate-ctrl-c");
        private CompletableFuture<MigrationStats> run;  // guarded by this
        private boolean interrupted;                     // guarded by this

        CtrlC(Driver driver, String dom, String dest, PrintWriter err) {
            this.driver = driver;
            this.dom = dom;
            this.dest = dest;
            this.err = err;
        }

        static String notStarted(String dom) {
            return "interrupted before the migration of " + dom + " started: nothing was asked of xenhostd; " + dom
                    + " keeps running here";
        }

        /** Arms the hook; false if the JVM is already stopping (the signal came first). */
        boolean arm() {
            try {
                Runtime.getRuntime().addShutdownHook(hook);
                return true;
            } catch (IllegalStateException shuttingDown) {
                return false;
            }
        }

        /** Starts the migration, unless the signal came first: then null and nothing is started. */
        synchronized CompletableFuture<MigrationStats> start(Supplier<CompletableFuture<MigrationStats>> migration) {
            if (!interrupted) {
                run = migration.get();
            }
            return run;
        }

        void disarm() {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running (or about to): it reports
            }
        }

        /** The hook's body (tests call it directly to force an ordering). */
        void onSignal() {
            CompletableFuture<MigrationStats> r;
            synchronized (this) {
                interrupted = true;
                r = run;
            }
            if (r == null) {
                say(notStarted(dom));
                return;
            }
            String asked;
            if (r.isDone()) {
                // it ended just before the signal: the command's own report may not get out before the JVM halts
                say("interrupted: the migration of " + dom + " to " + dest + " had already ended");
                asked = "no abort needed";
            } else {
                say("interrupted: asking xenhostd to abort the migration of " + dom + " to " + dest);
                asked = requestAbort(r);
            }
            try {
                r.get(PATIENCE_SECONDS, TimeUnit.SECONDS);
                say(asked.equals(ABORT_REQUESTED)
                        ? "abort requested too late: the migration of " + dom + " was past the hand-over and completed; " + dom + " runs on " + dest
                        : "the migration of " + dom + " completed before it could be aborted; " + dom + " runs on " + dest);
            } catch (ExecutionException failed) {
                say(asked + "; the migration of " + dom + " ended: " + failed.getCause().getMessage());
            } catch (TimeoutException slow) {
                say(asked + "; the migration of " + dom + " has not ended after " + PATIENCE_SECONDS
                        + " s: 'xenhost domjobinfo " + dom + "' shows where it is");
            } catch (InterruptedException stop) {
                Thread.currentThread().interrupt();
            }
        }

        /**
         * Asks the daemon to abort; says whether it did. The request may not have reached the daemon yet when the
         * signal comes ("no job running"): asked again until it is the domain's job or has ended.
         */
        private String requestAbort(CompletableFuture<MigrationStats> r) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(PATIENCE_SECONDS);
            while (!r.isDone() && System.nanoTime() < deadline) {
                try {
                    driver.abortJob(dom);
                    return ABORT_REQUESTED;
                } catch (DriverException e) {
                    if (e.error() != DriverError.REFUSED) {
                        return "the abort could not be requested (" + e.getMessage() + ")";
                    }
                }
                try {
                    Thread.sleep(50);
                } catch (InterruptedException stop) {
                    Thread.currentThread().interrupt();
                    return "the abort was not requested";
                }
            }
            return r.isDone() ? "no abort needed" : "the abort could not be requested (the daemon never ran the migration as a job)";
        }

        private void say(String message) {
            err.println("xenhost: " + message);
            err.flush();
        }
    }

    private MigrationStats progress(Driver d) {
        try {
            JobInfo j = d.jobInfo(dom);
            return j.migration();
        } catch (DriverException e) {
            return null; // gone here already (handed over) or not started yet
        }
    }

    private void report(PrintWriter out, MigrationStats s) {
        if (json) {
            event(out, "completed", s, null);
            return;
        }
        out.printf("Migration %s: %s moved to %s%n", s.id(), dom, dest);
        out.printf("  data:      %.1f MiB, %d pages%n", s.bytes() / 1048576.0, s.pages());
        out.printf("  passes:    %d%n", s.iteration() + 1);
        out.printf("  total:     %d ms%n", s.elapsedMs());
        out.printf("  downtime:  %d ms%n", s.downtimeMs());
        s.replugged().forEach((src, dst) -> out.printf("  replugged: %s -> %s%n", src, dst));
        out.flush();
    }

    private static String bar(MigrationStats s) {
        int width = 30;
        double done = s.memoryTotalBytes() <= 0 ? 0 : 1.0 - (double) s.memoryRemainingBytes() / s.memoryTotalBytes();
        int filled = (int) Math.round(Math.max(0, Math.min(1, done)) * width);
        return String.format("[%s%s] %-13s pass %d  %7.1f MiB  %6.1f MiB/s  ETA %s ", "#".repeat(filled), ".".repeat(width - filled),
                s.phase(), Math.max(0, s.iteration()), s.bytes() / 1048576.0, Math.max(0, s.transferRateMiBps()),
                s.etaMs() < 0 ? "?" : (s.etaMs() / 1000) + "s");
    }

    private static void event(PrintWriter out, String kind, MigrationStats s, String message) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("event", kind);
        if (s != null) {
            ObjectNode n = LINES.valueToTree(s);
            n.fields().forEachRemaining(f -> m.put(f.getKey(), f.getValue()));
        }
        if (message != null) {
            m.put("message", message);
        }
        try {
            out.println(LINES.writeValueAsString(m));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        out.flush();
    }

}
