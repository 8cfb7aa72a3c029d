package org.xenhost.daemon.cli;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.xenhost.daemon.demo.DemoConsole;
import org.xenhost.daemon.demo.DemoRun;
import org.xenhost.daemon.demo.DemoSummary;
import org.xenhost.driver.api.DomainSummary;
import org.xenhost.migration.MigrationStats;
import org.xenhost.driver.api.NodeDevice;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.Writer;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.io.File;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.Consumer;

/**
 * {@code xenhost demo}: the whole product in one command on any Linux machine with a JDK. Two xenhostd processes
 * on loopback (emulated Xen over copies of a fixture host), a guest with a passed-through NIC, save/restore and a
 * live migration with progress, then a summary; everything it made is gone when it ends, also after Ctrl-C.
 * With {@code --json} the summary is one JSON document on stdout and the narrative goes to stderr.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Two xenhost daemons on this machine (emulated Xen), a guest with a passed-through device: "
                + "list, nodedev-list, save/restore, live migration with device replug and progress and a summary. Cleans up after itself.")
public final class DemoCommand implements Callable<Integer> {
    /** The fixture host both emulated hosts start from: an SR-IOV NIC whose VFs are the passthrough devices. */
    static final String DEFAULT_FIXTURE = "fixtures/sysfs/sriov-82576";
    private static final ObjectMapper EVENTS = new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    @Spec
    CommandSpec spec;

    @Option(names = "--json", description = "print the summary as one JSON document on stdout (the narrative goes to stderr)")
    boolean json;
    @Option(names = "--sysfs-root", paramLabel = "DIR",
            description = "fixture tree both emulated hosts start from (default: " + DEFAULT_FIXTURE + " of this checkout)")
    Path sysfsRoot;
    @Option(names = "--memory", paramLabel = "MiB", defaultValue = "256", description = "the guest's memory (default ${DEFAULT-VALUE})")
    int memoryMiB;
    @Option(names = "--dirty-rate", paramLabel = "RATE", defaultValue = "20M",
            description = "bytes per second the guest dirties, K/M/G suffix (default ${DEFAULT-VALUE})")
    String dirtyRate;

    @Override
    public Integer call() throws Exception {
        if (memoryMiB < 16 || memoryMiB > 16384) {
            throw new IllegalArgumentException("--memory " + memoryMiB + " must be 16 to 16384 MiB");
        }
        Path fixture = sysfsRoot != null ? sysfsRoot : defaultFixture();
        PrintWriter narrative = json ? spec.commandLine().getErr() : spec.commandLine().getOut();
        Console console = new Console(narrative, spec.commandLine().getErr(), !json && System.console() != null);
        narrative.println("xenhost demo: two emulated Xen hosts on this machine, a guest with a passed-through device, "
                + "save/restore and a live migration");
        narrative.flush();
        DemoSummary s = new DemoRun(new DemoRun.Settings(fixture, memoryMiB, dirtyRate, childJava(), classPath()), console).run();
        if (json) {
            Output.json(spec.commandLine().getOut(), s);
        } else {
            printSummary(narrative, s);
        }
        return Main.EXIT_OK;
    }

    /** The default fixture, found in this checkout: beside the jar or classes this runs from, or below the working directory. */
    static Path defaultFixture() {
        Set<Path> roots = new LinkedHashSet<>();
        String root = System.getProperty("xenhost.root");
        if (root != null && !root.isBlank()) {
            roots.add(Path.of(root));
        }
        try {
            // daemon/target/xenhost.jar or daemon/target/classes: three levels below the checkout
            Path code = Path.of(DemoCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toAbsolutePath();
            if (code.getNameCount() >= 3) {
                roots.add(code.getParent().getParent().getParent());
            }
        } catch (URISyntaxException | SecurityException | NullPointerException | IllegalArgumentException e) {
            // no usable code location: the working directory remains
        }
        roots.add(Path.of("").toAbsolutePath());
        List<String> looked = new ArrayList<>();
        for (Path r : roots) {
            Path f = r.resolve(DEFAULT_FIXTURE);
            if (Files.isDirectory(f.resolve("sys/bus/pci/devices"))) {
                return f;
            }
            looked.add(f.toString());
        }
        throw new IllegalArgumentException("cannot find the fixture tree " + DEFAULT_FIXTURE + " (looked at " + String.join(", ", looked)
                + "); run from a xenhost checkout or pass --sysfs-root DIR");
    }

    /**
     * The child daemons run on this JVM, with a heap the size xenhostd is meant to live in, and the launcher's
     * {@code XENHOST_JAVA_OPTS} after that (later options win). They live for seconds, so only the C1 compiler:
     * measured on the 2-core build machine under load, each reached "ready" with ~2.5 s of CPU instead of ~4 s, and
     * the demo's migration was no slower.
     */
    private static List<String> childJava() {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                // native libraries (tcnative, JNA for OSHI) unpack where the demo itself may write
                "-Djava.io.tmpdir=" + System.getProperty("java.io.tmpdir")));
        String opts = System.getenv("XENHOST_JAVA_OPTS");
        if (opts != null && !opts.isBlank()) {
            cmd.addAll(List.of(opts.trim().split("\\s+")));
        }
        return cmd;
    }

    /** This program's class path, absolute (the children may not share our working directory's meaning). */
    private static String classPath() {
        List<String> out = new ArrayList<>();
        for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
            if (!e.isEmpty()) {
                out.add(Path.of(e).toAbsolutePath().toString());
            }
        }
        return String.join(File.pathSeparator, out);
    }

    private static void printSummary(PrintWriter out, DemoSummary s) {
        DemoSummary.Migration m = s.migration();
        DemoSummary.SaveRestore sr = s.saveRestore();
        out.println();
        out.println("Summary");
        List<String> hosts = new ArrayList<>();
        for (DemoSummary.Host h : s.hosts()) {
            hosts.add(String.format("%s (pid %d, ready in %.1f s, migration port %s)", h.name(), h.pid(), h.readyMs() / 1000.0,
                    h.migrationEndpoint()));
        }
        row(out, "hosts", String.join("; ", hosts));
        row(out, "guest", String.format("%s, %d MiB, dirtying %.1f MiB/s, device %s [%s]", s.guest().name(), s.guest().memoryMiB(),
                s.guest().dirtyRateBytesPerSecond() / 1048576.0, s.guest().device(), s.guest().vendorDevice()));
        row(out, "started", String.format("on %s as domid %d in %d ms", s.started().host(), s.started().domid(), s.started().ms()));
        row(out, "save", String.format("%.1f MiB (%d pages) in %d ms; restored in %d ms as domid %d (%s); while saved %s %s",
                sr.bytes() / 1048576.0, sr.pages(), sr.saveMs(), sr.restoreMs(), sr.domidAfter(), sr.stateAfter(),
                sr.deviceWhileSaved().bdf(), where(sr.deviceWhileSaved())));
        row(out, "migration", String.format("%s %s -> %s in %.1f s: %.1f MiB (%d pages, guest memory %.0f MiB) in %d passes, "
                        + "downtime %d ms", m.outcome(), m.from(), m.to(), m.totalMs() / 1000.0, m.bytes() / 1048576.0, m.pages(),
                m.memoryBytes() / 1048576.0, m.passes(), m.downtimeMs()));
        row(out, "replug", String.format("%s: %s %s -> %s %s (%s, same model [%s])", s.replug().guest(),
                s.replug().detachedHost(), s.replug().detachedBdf(), s.replug().attachedHost(), s.replug().attachedBdf(),
                s.replug().via(), s.replug().vendorDevice()));
        for (DemoSummary.Device d : s.devices()) {
            row(out, "device", String.format("%s %s [%s] %s", d.host(), d.bdf(), d.vendorDevice(), where(d)));
        }
        row(out, "guest now", String.format("%s on %s (domid %d); on %s: %s", m.destinationStateAfter(), m.to(), m.destinationDomid(),
                m.from(), m.sourceStateAfter() == null ? "gone" : m.sourceStateAfter()));
        row(out, "cleanup", (s.cleanup().daemonsStopped() ? "daemons stopped" : "A DAEMON IS STILL RUNNING") + ", "
                + s.workDir() + (s.cleanup().workDirRemoved() ? " removed" : " NOT removed"));
        row(out, "total", String.format("%.1f s", s.totalMs() / 1000.0));
        out.flush();
    }

    /** Where a device is, in words: with dom0 on its driver, assignable, or attached to a guest. */
    private static String where(DemoSummary.Device d) {
        String driver = d.driver() == null ? "no driver" : d.driver();
        return switch (String.valueOf(d.placement())) {
            case "attached" -> "attached to guest " + d.owner() + " (" + driver + (d.managed() ? ", managed" : "") + ")";
            case "assignable" -> "assignable (" + driver + ")";
            default -> "back with dom0 on " + driver;
        };
    }

    private static void row(PrintWriter out, String key, String value) {
        out.printf("  %-10s %s%n", key + ":", value);
    }

    /** The demo's narrative, in the CLI's own formats. */
    private static final class Console implements DemoConsole {
        private static final String INDENT = "    ";
        private final PrintWriter out;
        private final PrintWriter err;
        private final boolean terminal;

        Console(PrintWriter out, PrintWriter err, boolean terminal) {
            this.out = out;
            this.err = err;
            this.terminal = terminal;
        }

        private final long started = System.nanoTime();

        @Override
        public void step(int number, int of, String title) {
            out.printf("%n[%d/%d] %s  (at %.1f s)%n", number, of, title, (System.nanoTime() - started) / 1e9);
            out.flush();
        }

        @Override
        public void say(String line) {
            out.println(INDENT + line);
            out.flush();
        }

        @Override
        public void warn(String line) {
            err.println("xenhost demo: " + line);
            err.flush();
        }

        @Override
        public void showDomains(String host, Path socket, List<DomainSummary> domains) {
            say(host + " $ xenhost -c " + socket + " list --all");
            StringWriter table = new StringWriter();
            DomainCommands.printSummaries(new PrintWriter(table), domains);
            indented(table.toString());
        }

        @Override
        public void showNodeDevices(String host, Path socket, List<NodeDevice> devices) {
            say(host + " $ xenhost -c " + socket + " nodedev-list");
            StringWriter table = new StringWriter();
            NodeDeviceCommands.printDevices(new PrintWriter(table), devices);
            indented(table.toString());
        }

        private void indented(String text) {
            for (String l : text.split("\n")) {
                out.println(INDENT + "  " + l);
            }
            out.flush();
        }

        @Override
        public MigrationStats migrate(Path socket, String dom, String destination, List<String> flags) {
            List<String> args = new ArrayList<>(List.of("-c", socket.toString(), "migrate", dom, destination));
            args.addAll(flags);
            say("$ xenhost " + String.join(" ", args));
            args.add("--json");
            MigrationStats[] last = new MigrationStats[1];
            String[] failure = new String[1];
            Progress progress = new Progress();
            StringWriter errors = new StringWriter();
            PrintWriter events = new PrintWriter(new LineWriter(line -> {
                try {
                    JsonNode n = EVENTS.readTree(line);
                    String kind = n.path("event").asText();
                    if (kind.equals("failed")) {
                        failure[0] = n.path("message").asText();
                        return;
                    }
                    MigrationStats st = EVENTS.treeToValue(n, MigrationStats.class);
                    last[0] = st;
                    progress.show(st, kind.equals("completed"));
                } catch (IOException e) {
                    err.println("xenhost demo: unreadable progress event: " + line);
                }
            }), true);
            int exit = Main.execute(events, new PrintWriter(errors, true), args.toArray(String[]::new));
            events.flush();
            progress.end();
            if (exit != Main.EXIT_OK || last[0] == null || !"completed".equals(last[0].outcome())) {
                String why = failure[0] != null ? failure[0] : errors.toString().strip();
                throw new IllegalStateException("the migration of " + dom + " to " + destination + " failed: "
                        + (why.isEmpty() ? "exit " + exit : why));
            }
            MigrationStats s = last[0];
            say(String.format("migrated: %.1f MiB, %d pages, %d passes, %d ms, downtime %d ms", s.bytes() / 1048576.0, s.pages(),
                    s.iteration() + 1, s.elapsedMs(), s.downtimeMs()));
            return s;
        }

        /**
         * The migrate command's progress: one line rewritten in place on a terminal; elsewhere a line each time the
         * phase or the pass changes (a log, not a flood).
         */
        private final class Progress {
            private String shown;
            private boolean open;

            void show(MigrationStats s, boolean done) {
                String key = s.phase() + "/" + s.iteration();
                String line = String.format("%-14s pass %d  %7.1f MiB sent  %6.1f MiB/s  dirty %5.1f MiB/s  %5.1f s",
                        s.phase(), Math.max(0, s.iteration()) + 1, s.bytes() / 1048576.0, Math.max(0, s.transferRateMiBps()),
                        Math.max(0, s.dirtyRateMiBps()), s.elapsedMs() / 1000.0);
                if (terminal) {
                    out.print("\r" + INDENT + line + "   ");
                    open = true;
                    out.flush();
                } else if (!key.equals(shown) || done) {
                    say(line);
                }
                shown = key;
            }

            void end() {
                if (open) {
                    out.println();
                    out.flush();
                    open = false;
                }
            }
        }
    }

    /** Hands each complete line written to it to a consumer (the migrate command's JSON events). */
    private static final class LineWriter extends Writer {
        private final StringBuilder line = new StringBuilder();
        private final Consumer<String> sink;

        LineWriter(Consumer<String> sink) {
            this.sink = sink;
        }

        @Override
        public void write(char[] buf, int off, int len) {
            for (int i = off; i < off + len; i++) {
                if (buf[i] == '\n') {
                    String l = line.toString().strip();
                    line.setLength(0);
                    if (!l.isEmpty()) {
                        sink.accept(l);
                    }
                } else {
                    line.append(buf[i]);
                }
            }
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    }
}
