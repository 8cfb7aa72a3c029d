package org.xenhost.daemon;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.xenhost.daemon.cli.Main;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code xenhost demo} as an operator runs it: a separate JVM (this test's class path, as {@code ./xenhost demo}
 * runs the jar) that starts two xenhostd children of its own. The summary must say what happened, and once the
 * demo process has exited, none of its child processes may be alive and its working directory must be gone —
 * after a normal end and after Ctrl-C (SIGINT) in the middle of the migration.
 */
@Timeout(600)
class DemoProcessTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern WORK_DIR = Pattern.compile("working directory (\\S+) ");

    /** The demo process, its output as it comes, and every descendant process seen while it ran. */
    private static final class Demo implements AutoCloseable {
        final Process process;
        final StringBuffer out = new StringBuffer();
        final StringBuffer err = new StringBuffer();
        final Set<ProcessHandle> descendants = ConcurrentHashMap.newKeySet();
        /** The threads copying stdout and stderr into {@link #out} and {@link #err}; they end at end of file. */
        private final List<Thread> pumps = new ArrayList<>();

        Demo(String... args) throws IOException {
            this(java.util.Map.of(), args);
        }

        Demo(java.util.Map<String, String> env, String... args) throws IOException {
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx256m", "-cp", System.getProperty("java.class.path"), Main.class.getName(), "demo"));
            cmd.addAll(List.of(args));
            ProcessBuilder pb = new ProcessBuilder(cmd);
            pb.environment().putAll(env);
            process = pb.start();
            pumps.add(pump(process.getInputStream(), out, "demo-stdout"));
            pumps.add(pump(process.getErrorStream(), err, "demo-stderr"));
            Thread watch = new Thread(() -> {
                // children are recorded while they live, so the test can check afterwards that none survived
                while (process.isAlive()) {
                    process.descendants().forEach(descendants::add);
                    try {
                        Thread.sleep(100);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "demo-children");
            watch.setDaemon(true);
            watch.start();
        }

        private static Thread pump(InputStream in, StringBuffer into, String name) {
            Thread t = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        into.append(line).append('\n');
                    }
                } catch (IOException ignored) {
                    // the process ended
                }
            }, name);
            t.setDaemon(true);
            t.start();
            return t;
        }

        /** Waits for a line of the narrative (stdout or stderr) that matches. */
        void awaitLine(Predicate<String> want, String what) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
            while (System.nanoTime() < deadline) {
                for (String l : (out + "\n" + err).split("\n")) {
                    if (want.test(l)) {
                        return;
                    }
                }
                if (!process.isAlive()) {
                    throw new AssertionError("the demo ended before " + what + ":\n" + transcript());
                }
                Thread.sleep(50);
            }
            throw new AssertionError("timed out waiting for " + what + ":\n" + transcript());
        }

        /**
         * Waits for the demo to exit and for its output to be read to the end: its last lines (the summary, the
         * shutdown hook's 'interrupted') may still be in the pipes when waitFor returns.
         */
        int awaitExit() throws InterruptedException {
            if (!process.waitFor(300, TimeUnit.SECONDS)) {
                throw new AssertionError("the demo did not end:\n" + transcript());
            }
            for (Thread t : pumps) {
                t.join(TimeUnit.SECONDS.toMillis(30));
                if (t.isAlive()) {
                    throw new AssertionError("the demo exited but its " + t.getName() + " did not end:\n" + transcript());
                }
            }
            return process.exitValue();
        }

        Path workDir() {
            Matcher m = WORK_DIR.matcher(out + "\n" + err);
            if (!m.find()) {
                throw new AssertionError("the demo did not say where it works:\n" + transcript());
            }
            return Path.of(m.group(1));
        }

        String transcript() {
            return "--- stdout\n" + out + "--- stderr\n" + err;
        }

        @Override
        public void close() {
            // only if a test failed half-way: leave nothing behind on the build machine either
            descendants.forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
        }
    }

    /** Nothing the demo started is alive and its working directory is gone. */
    private static void assertNothingLeft(Demo demo, Path workDir) {
        assertFalse(demo.descendants.isEmpty(), "the demo's daemons were seen running\n" + demo.transcript());
        for (ProcessHandle p : demo.descendants) {
            assertFalse(p.isAlive(), "child process " + p.pid() + " " + p.info().commandLine().orElse("")
                    + " outlived the demo\n" + demo.transcript());
        }
        assertFalse(Files.exists(workDir), workDir + " is still there\n" + demo.transcript());
    }

    @Test
    void demoRunsEverythingAndPrintsOneJsonSummary() throws Exception {
        try (Demo demo = new Demo("--json")) {
            int exit = demo.awaitExit();
            assertEquals(0, exit, demo.transcript());
            JsonParser parser = JSON.createParser(demo.out.toString());
            JsonNode s = JSON.readTree(parser);
            assertNull(parser.nextToken(), "stdout holds one JSON document and nothing else:\n" + demo.out);

            // both daemons came up, each with its own TLS migration port on loopback
            JsonNode hosts = s.path("hosts");
            assertEquals(2, hosts.size(), s.toString());
            assertEquals("host-a", hosts.get(0).path("name").asText());
            assertEquals("host-b", hosts.get(1).path("name").asText());
            for (JsonNode h : hosts) {
                assertTrue(h.path("pid").asLong() > 0, h.toString());
                assertTrue(h.path("migrationEndpoint").asText().matches("127\\.0\\.0\\.1:\\d+"), h.toString());
            }
            assertNotEquals(hosts.get(0).path("migrationEndpoint"), hosts.get(1).path("migrationEndpoint"));

            // the guest ran on the source with its device
            JsonNode guest = s.path("guest");
            String device = guest.path("device").asText();
            assertEquals(256, guest.path("memoryMiB").asLong());
            assertEquals(20L << 20, guest.path("dirtyRateBytesPerSecond").asLong());
            assertEquals("host-a", s.path("started").path("host").asText());
            assertEquals("running", s.path("started").path("state").asText());
            assertTrue(s.path("started").path("devices").toString().contains(device + " (managed)"), s.toString());

            // save/restore round trip: a save file with the guest's pages, the guest back running as a new domain
            JsonNode sr = s.path("saveRestore");
            assertTrue(sr.path("bytes").asLong() > sr.path("pages").asLong() * 4096 && sr.path("pages").asLong() > 0, sr.toString());
            assertEquals(s.path("started").path("domid").asInt(), sr.path("domidBefore").asInt());
            assertNotEquals(sr.path("domidBefore").asInt(), sr.path("domidAfter").asInt(), sr.toString());
            assertEquals("running", sr.path("stateAfter").asText());
            // between the two the guest was only a file: its managed VF was back with dom0 (igbvf in the fixture)
            assertEquals(device, sr.path("deviceWhileSaved").path("bdf").asText(), sr.toString());
            assertEquals("host", sr.path("deviceWhileSaved").path("placement").asText(), sr.toString());
            assertEquals("igbvf", sr.path("deviceWhileSaved").path("driver").asText(), sr.toString());
            assertTrue(sr.path("deviceWhileSaved").path("owner").isNull(), sr.toString());

            // the live migration: completed, pre-copy re-sent what the guest dirtied meanwhile (more passes, and
            // more bytes than the whole memory image the save wrote a moment earlier), downtime reported
            JsonNode m = s.path("migration");
            assertEquals("completed", m.path("outcome").asText(), m.toString());
            assertTrue(m.path("passes").asInt() >= 2, m.toString());
            assertTrue(m.path("bytes").asLong() >= m.path("pages").asLong() * 4096, m.toString());
            assertTrue(m.path("bytes").asLong() > sr.path("bytes").asLong(), "migration moved more than one memory image: " + s);
            assertEquals(256L << 20, m.path("memoryBytes").asLong());
            assertTrue(m.path("downtimeMs").asLong() >= 0 && m.path("downtimeMs").asLong() <= m.path("totalMs").asLong(), m.toString());
            // the guest runs on the destination and is gone from the source
            assertEquals("running", m.path("destinationStateAfter").asText(), m.toString());
            assertTrue(m.path("sourceStateAfter").isNull(), m.toString());

            // before the migration, as the daemons' nodedev-list said: host-a's daemon handed the VF to the guest at
            // start (managed: taken from its dom0 driver), host-b's match made assignable through host-b's daemon
            JsonNode before = s.path("devicesBefore");
            assertEquals(2, before.size(), before.toString());
            JsonNode onA = before.get(0);
            assertEquals("host-a", onA.path("host").asText());
            assertEquals(device, onA.path("bdf").asText());
            assertEquals("attached", onA.path("placement").asText(), onA.toString());
            assertEquals("demo", onA.path("owner").asText(), onA.toString());
            assertEquals("pciback", onA.path("driver").asText(), onA.toString());
            assertTrue(onA.path("managed").asBoolean(), onA.toString());
            JsonNode spare = before.get(1);
            String match = spare.path("bdf").asText();
            assertEquals("host-b", spare.path("host").asText());
            assertNotEquals(device, match, "host-b offers another function of the same model, so the match goes by identity");
            assertEquals(guest.path("vendorDevice").asText(), spare.path("vendorDevice").asText());
            assertEquals("assignable", spare.path("placement").asText(), spare.toString());
            assertEquals("pciback", spare.path("driver").asText(), spare.toString());
            assertTrue(spare.path("owner").isNull(), spare.toString());

            // the migration's own replug report: host-a's VF -> host-b's match, and nothing else
            JsonNode r = s.path("replug");
            assertEquals("hostdev-policy=replug", r.path("via").asText(), r.toString());
            assertEquals(JSON.createObjectNode().put(device, match), r.path("replugged"), r.toString());
            assertEquals("host-a", r.path("detachedHost").asText());
            assertEquals(device, r.path("detachedBdf").asText());
            assertEquals("host-b", r.path("attachedHost").asText());
            assertEquals(match, r.path("attachedBdf").asText());
            assertEquals(guest.path("vendorDevice").asText(), r.path("vendorDevice").asText());

            // after it, by nodedev-list of both hosts: host-a's managed VF back on its dom0 driver (igbvf in the
            // sriov-82576 fixture) and nobody's; host-b's match attached to the guest there
            JsonNode devs = s.path("devices");
            assertEquals(2, devs.size(), devs.toString());
            assertEquals("host-a", devs.get(0).path("host").asText());
            assertEquals(device, devs.get(0).path("bdf").asText());
            assertEquals("host", devs.get(0).path("placement").asText(), devs.toString());
            assertTrue(devs.get(0).path("owner").isNull(), "the source device is free again: " + devs);
            assertEquals("igbvf", devs.get(0).path("driver").asText(), devs.toString());
            assertEquals("host-b", devs.get(1).path("host").asText());
            assertEquals(match, devs.get(1).path("bdf").asText());
            assertEquals("attached", devs.get(1).path("placement").asText(), devs.toString());
            assertEquals("demo", devs.get(1).path("owner").asText(), devs.toString());
            assertEquals("pciback", devs.get(1).path("driver").asText(), devs.toString());

            // the narrative and the migrate command's progress went to stderr
            assertTrue(demo.err.toString().contains("[7/8]") && demo.err.toString().contains("streaming"), demo.transcript());

            // nothing left: the demo's own check, and ours from outside
            assertTrue(s.path("cleanup").path("daemonsStopped").asBoolean() && s.path("cleanup").path("workDirRemoved").asBoolean(), s.toString());
            Path workDir = Path.of(s.path("workDir").asText());
            assertEquals(demo.workDir(), workDir);
            for (JsonNode h : hosts) {
                assertFalse(ProcessHandle.of(h.path("pid").asLong()).map(ProcessHandle::isAlive).orElse(false), h.toString());
            }
            assertNothingLeft(demo, workDir);
        }
    }

    @Test
    void ctrlCDuringTheMigrationStopsTheDaemonsAndRemovesEverything() throws Exception {
        try (Demo demo = new Demo()) {
            demo.awaitLine(l -> l.contains(" migrate demo 127.0.0.1:"), "the migration to start");
            Path workDir = demo.workDir();
            assertTrue(Files.isDirectory(workDir), demo.transcript());
            assertTrue(demo.process.descendants().count() >= 2, "two daemons running\n" + demo.transcript());
            // Ctrl-C at a terminal: SIGINT (Process.destroy would send SIGTERM); the shell's builtin kill, as a
            // minimal Debian may lack procps' /bin/kill
            Process kill = new ProcessBuilder("sh", "-c", "kill -INT " + demo.process.pid()).inheritIO().start();
            assertEquals(0, kill.waitFor());
            int exit = demo.awaitExit();
            assertEquals(130, exit, "the JVM's exit status after SIGINT\n" + demo.transcript());
            assertTrue(demo.err.toString().contains("interrupted: stopping the demo's daemons"), demo.transcript());
            assertNothingLeft(demo, workDir);
        }
    }

    @Test
    void daemonsDieWithADemoKilledByKill9() throws Exception {
        try (Demo demo = new Demo()) {
            demo.awaitLine(l -> l.startsWith("[3/8]"), "both daemons to be ready");
            Path workDir = demo.workDir();
            List<ProcessHandle> children = demo.process.children().toList();
            assertEquals(2, children.size(), demo.transcript());
            demo.process.destroyForcibly(); // SIGKILL: no hook runs, only the kernel's parent-death signal
            demo.awaitExit();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (children.stream().anyMatch(ProcessHandle::isAlive) && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            for (ProcessHandle p : children) {
                assertFalse(p.isAlive(), "daemon " + p.pid() + " outlived the SIGKILLed demo\n" + demo.transcript());
            }
            // the directory cannot be removed by a process that was killed; the test removes it
            assertTrue(Files.isDirectory(workDir));
            try (var walk = Files.walk(workDir)) {
                walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    @Test
    void aDaemonDyingMidMigrationFailsTheDemoWhichStillCleansUp() throws Exception {
        // the source daemon stops dead as the migration begins (the migration tests' crash point, inherited by
        // the demo's children through the environment)
        try (Demo demo = new Demo(java.util.Map.of("XENHOST_MIGRATION_HALT_AT", "source:begin"), "--json")) {
            int exit = demo.awaitExit();
            assertEquals(Main.EXIT_FAILURE, exit, demo.transcript());
            assertEquals("", demo.out.toString(), "no summary after a failure");
            String err = demo.err.toString();
            assertTrue(err.contains("xenhost: ") && err.contains("migration of demo"), demo.transcript());
            assertTrue(err.contains("halting at source:begin"), "the failed daemon's last words are shown\n" + demo.transcript());
            assertNothingLeft(demo, demo.workDir());
        }
    }

    @Test
    void badInputIsRefusedBeforeAnythingStarts() {
        StringWriter err = new StringWriter();
        int exit = Main.execute(new PrintWriter(new StringWriter()), new PrintWriter(err, true), "demo", "--sysfs-root", "/nonexistent/tree");
        assertEquals(Main.EXIT_BAD_INPUT, exit, err.toString());
        assertTrue(err.toString().contains("--sysfs-root /nonexistent/tree is not a sysfs tree"), err.toString());

        err = new StringWriter();
        exit = Main.execute(new PrintWriter(new StringWriter()), new PrintWriter(err, true), "demo", "--dirty-rate", "fast");
        assertEquals(Main.EXIT_BAD_INPUT, exit, err.toString());
        assertTrue(err.toString().contains("emulated_dirty_rate \"fast\""), err.toString());

        err = new StringWriter();
        exit = Main.execute(new PrintWriter(new StringWriter()), new PrintWriter(err, true), "demo", "--memory", "4");
        assertEquals(Main.EXIT_BAD_INPUT, exit, err.toString());
        assertTrue(err.toString().contains("--memory 4 must be"), err.toString());
    }
}
