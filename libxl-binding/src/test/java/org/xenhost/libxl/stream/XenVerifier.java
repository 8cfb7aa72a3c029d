package org.xenhost.libxl.stream;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.concurrent.TimeUnit;

/**
 * Xen's own stream checker, {@code verify-stream-v2} from Debian's xen-utils-4.17, as unpacked by ./run-tests into
 * build/xen-utils (or wherever XENHOST_VERIFY_STREAM / XENHOST_VERIFY_PYTHONPATH point). Missing is a failure:
 * the tests that use it are the proof our streams are Xen's.
 */
final class XenVerifier {
    private static final String IN_TREE = "build/xen-utils/usr/lib/xen-4.17";

    /** Exit status and stderr of one run. */
    record Result(int exitCode, String output) {
    }

    private final Path script;
    private final Path pythonPath;

    private XenVerifier(Path script, Path pythonPath) {
        this.script = script;
        this.pythonPath = pythonPath;
    }

    static XenVerifier locate() {
        String envScript = System.getenv("XENHOST_VERIFY_STREAM");
        String envPath = System.getenv("XENHOST_VERIFY_PYTHONPATH");
        Path script;
        Path pythonPath;
        if (envScript != null && envPath != null && Files.isRegularFile(Path.of(envScript))) {
            script = Path.of(envScript);
            pythonPath = Path.of(envPath);
        } else {
            Path root = Path.of(System.getProperty("xenhost.root", "."));
            script = root.resolve(IN_TREE + "/bin/verify-stream-v2");
            pythonPath = root.resolve(IN_TREE + "/lib/python");
        }
        if (!Files.isRegularFile(script) || !Files.isDirectory(pythonPath.resolve("xen/migration"))) {
            fail("Xen's verify-stream-v2 is not at " + script + " (with its Python modules under " + pythonPath
                    + "). Run ./run-tests from the repository root once: it downloads xen-utils-4.17 and unpacks it"
                    + " into build/xen-utils (or set XENHOST_VERIFY_STREAM and XENHOST_VERIFY_PYTHONPATH).");
        }
        return new XenVerifier(script, pythonPath);
    }

    /** One file to check and its format (libxc, libxl or xl). */
    record Job(Path file, String format) {
    }

    /** Runs the verifier on {@code file} with {@code -f format}. */
    Result verify(Path file, String format) throws IOException, InterruptedException {
        return verifyAll(List.of(new Job(file, format))).get(0);
    }

    Result verify(byte[] stream, String format, Path dir) throws IOException, InterruptedException {
        return verify(write(stream, format, dir), format);
    }

    static Path write(byte[] stream, String format, Path dir) throws IOException {
        Path file = Files.createTempFile(dir, "stream", "." + format);
        Files.write(file, stream);
        return file;
    }

    /**
     * Runs Xen's verifier on every job in one Python process (see verify-many.py: it calls the script's own
     * read_stream per file), since interpreter start-up costs seconds on a loaded machine.
     */
    List<Result> verifyAll(List<Job> jobs) throws IOException, InterruptedException {
        Path driver = Files.createTempFile("verify-many", ".py");
        try (InputStream in = XenVerifier.class.getResourceAsStream("verify-many.py")) {
            Files.write(driver, in.readAllBytes());
        }
        List<String> command = new ArrayList<>(List.of("python3", driver.toString(), script.toString()));
        for (Job j : jobs) {
            command.add(j.format());
            command.add(j.file().toString());
        }
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().put("PYTHONPATH", pythonPath.toString());
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail("verify-stream-v2 did not finish");
        }
        Files.deleteIfExists(driver);
        List<Result> results = new ArrayList<>();
        Matcher m = Pattern.compile("=== begin (.*?)\\n(.*?)=== exit (\\d+)\\n", Pattern.DOTALL).matcher(out);
        while (m.find()) {
            results.add(new Result(Integer.parseInt(m.group(3)), m.group(1) + ": " + m.group(2)));
        }
        if (results.size() != jobs.size()) {
            fail("verify-stream-v2 driver failed (exit " + p.exitValue() + "): " + out);
        }
        return results;
    }
}
