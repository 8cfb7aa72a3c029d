package org.xenhost.emulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Runs Xen's own {@code verify-stream-v2} (from Debian's xen-utils-4.17, fetched by {@code ./run-tests} into
 * {@code build/xen-utils}) on a stream file. Absent verifier = test failure, never a skip.
 */
final class StreamVerifier {
    private StreamVerifier() {
    }

    static Path script() {
        String env = System.getenv("XENHOST_VERIFY_STREAM");
        Path p = env != null ? Path.of(env)
                : Path.of(System.getProperty("xenhost.root", "../"), "build/xen-utils/usr/lib/xen-4.17/bin/verify-stream-v2");
        if (!Files.isRegularFile(p)) {
            fail("Xen's stream verifier is missing (looked for " + p.toAbsolutePath() + "). Run ./run-tests once (it"
                    + " fetches xen-utils-4.17 into build/xen-utils and exports XENHOST_VERIFY_STREAM), or: mkdir -p"
                    + " build/debs && cd build/debs && apt-get download xen-utils-4.17 && dpkg -x xen-utils-4.17_*.deb"
                    + " ../xen-utils");
        }
        return p;
    }

    static Path pythonPath(Path script) {
        String env = System.getenv("XENHOST_VERIFY_PYTHONPATH");
        if (env != null) {
            return Path.of(env);
        }
        // .../usr/lib/xen-4.17/bin/verify-stream-v2 -> .../usr/lib/xen-4.17/lib/python
        return script.getParent().getParent().resolve("lib/python");
    }

    /** Asserts the verifier accepts {@code stream} read as {@code format} (libxl, libxc or xl). */
    static void assertValid(Path stream, String format) throws IOException, InterruptedException {
        Result r = run(stream, format);
        assertEquals(0, r.exit, "verify-stream-v2 -f " + format + " rejected " + stream + ":\n" + r.output);
    }

    record Result(int exit, String output) {
    }

    static Result run(Path stream, String format) throws IOException, InterruptedException {
        Path script = script();
        ProcessBuilder pb = new ProcessBuilder("python3", script.toString(), "-f", format, "-i", stream.toString(), "-q");
        pb.environment().put("PYTHONPATH", pythonPath(script).toString());
        pb.redirectErrorStream(true);
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(10, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            fail("verify-stream-v2 did not finish on " + stream);
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }
}
