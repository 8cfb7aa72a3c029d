package org.xenhost.realxen;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/** Drives realxen/build.sh and realxen/run.sh from tests; a run's evidence is read from its out/ directory. */
final class Harness {
    private Harness() {
    }

    static Path root() {
        String r = System.getProperty("xenhost.root");
        return r != null ? Path.of(r) : Path.of("").toAbsolutePath().getParent();
    }

    static Path buildDir() {
        String b = System.getenv("REALXEN_BUILD");
        return b != null ? Path.of(b) : root().resolve("build/realxen");
    }

    /** Builds (or finds cached) the artifacts; fails the test with the script's output when that is impossible. */
    static void build() throws IOException, InterruptedException {
        Result r = exec(List.of(root().resolve("realxen/build.sh").toString()), 1800);
        assertEquals(0, r.exit, () -> "realxen/build.sh failed:\n" + r.output);
    }

    /**
     * Boots Xen once and runs the scenarios in order (realxen/run.sh). With {@code -Drealxen.reuse=true} the last
     * run's evidence in build/realxen/run is asserted on again without booting (for working on the assertions).
     */
    static Boot boot(List<String> scenarios, int timeoutSeconds) throws IOException, InterruptedException {
        Path out = buildDir().resolve("run").resolve("out");
        if (Boolean.getBoolean("realxen.reuse")) {
            return new Boot(out, "(reused the last run's evidence in " + out + ")", 0);
        }
        List<String> cmd = new ArrayList<>(List.of(root().resolve("realxen/run.sh").toString(), "-t",
                String.valueOf(timeoutSeconds)));
        cmd.addAll(scenarios);
        Result r = exec(cmd, timeoutSeconds + 120L);
        return new Boot(out, r.output, r.exit);
    }

    /** One QEMU boot that ran several scenarios; run.sh's output explains failures. */
    record Boot(Path out, String runOutput, int exit) {
        /** The evidence of one scenario; fails the calling test unless that scenario exited 0. */
        Run scenario(String name) throws IOException {
            Run run = new Run(out.resolve(name), runOutput);
            String code = run.textOr("exit-code", "(none: the scenario did not finish)").trim();
            if (!code.equals("0")) {
                fail("scenario " + name + " failed, exit code " + code + "; its output:\n" + run.textOr("log", "(none)")
                        + "\n---- realxen/run.sh ----\n" + runOutput);
            }
            if (Files.exists(run.out().resolve("retried"))) {
                // dom0-init retries only after a guest kernel panic (a TCG fault, README.md); make sure that is what
                // every failed attempt's evidence shows, so a retry can never hide a failure of ours.
                List<Path> attempts;
                try (var dirs = Files.list(run.out())) {
                    attempts = dirs.filter(d -> d.getFileName().toString().startsWith("attempt-")).sorted().toList();
                }
                if (attempts.isEmpty()) {
                    fail("scenario " + name + " was retried but kept no attempt's evidence in " + run.out());
                }
                for (Path attempt : attempts) {
                    boolean panicked;
                    try (var files = Files.list(attempt)) {
                        panicked = files.filter(f -> f.getFileName().toString().startsWith("guest-"))
                                .anyMatch(f -> textOr(f).contains("Kernel panic"));
                    }
                    if (!panicked) {
                        fail("scenario " + name + " was retried but " + attempt + " shows no guest kernel panic");
                    }
                }
                System.out.println("scenario " + name + " passed after " + attempts.size() + " failed attempt(s), "
                        + "each ended by a guest kernel panic under TCG:\n" + run.textOr("retried", "?").trim());
            }
            System.out.println("scenario " + name + ": " + run.timings() + " (boot: " + textOr(out.resolve("wall-seconds"))
                    + " s for all scenarios)");
            return run;
        }

        private static String textOr(Path f) {
            try {
                return Files.readString(f).trim();
            } catch (IOException e) {
                return "?";
            }
        }
    }

    record Result(int exit, String output) {
    }

    static Result exec(List<String> cmd, long timeoutSeconds) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        StringBuilder out = new StringBuilder();
        Thread pump = new Thread(() -> {
            try {
                out.append(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException ignored) {
                // the process is gone; what was read is reported
            }
        });
        pump.start();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            pump.join(10_000);
            return new Result(124, out + "\n(killed after " + timeoutSeconds + " s)");
        }
        pump.join();
        System.out.print(out);   // timings and MARK lines into the test log
        return new Result(p.exitValue(), out.toString());
    }

    /** One finished run: the files its scenario left in the share's out/ directory. */
    record Run(Path out, String runOutput) {
        Path file(String name) {
            Path f = out.resolve(name);
            if (!Files.exists(f)) {
                fail("the scenario left no " + f + "; run output:\n" + runOutput);
            }
            return f;
        }

        String text(String name) throws IOException {
            return Files.readString(file(name), StandardCharsets.UTF_8);
        }

        String textOr(String name, String fallback) {
            try {
                return Files.readString(out.resolve(name), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return fallback;
            }
        }

        List<Long> numbers(String name) throws IOException {
            List<Long> l = new ArrayList<>();
            for (String line : text(name).split("\n")) {
                if (!line.isBlank()) {
                    l.add(Long.parseLong(line.trim()));
                }
            }
            return l;
        }

        /** The timings the scenario recorded (time-* files), for the test log. */
        String timings() throws IOException {
            StringBuilder sb = new StringBuilder();
            try (var files = Files.list(out)) {
                files.filter(f -> f.getFileName().toString().startsWith("time-")).sorted().forEach(f ->
                        sb.append(sb.length() == 0 ? "" : ", ").append(f.getFileName().toString().substring(5)).append(' ')
                                .append(textOr(f.getFileName().toString(), "?").trim()).append(" s"));
            }
            return sb.toString();
        }
    }
}
