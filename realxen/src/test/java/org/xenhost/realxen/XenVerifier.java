package org.xenhost.realxen;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.fail;

/** Xen's own verify-stream-v2, as ./run-tests unpacks it into build/xen-utils. */
final class XenVerifier {
    private XenVerifier() {
    }

    /** Runs the verifier on a file; returns "exit N" and its output. */
    static String verify(String format, Path file) throws IOException, InterruptedException {
        String env = System.getenv("XENHOST_VERIFY_STREAM");
        Path script = env != null ? Path.of(env)
                : Harness.root().resolve("build/xen-utils/usr/lib/xen-4.17/bin/verify-stream-v2");
        if (!Files.isRegularFile(script)) {
            fail("Xen's verify-stream-v2 is not at " + script + "; run ./run-tests once, which fetches it");
        }
        ProcessBuilder pb = new ProcessBuilder("python3", script.toString(), "-f", format, "-i", file.toString())
                .redirectErrorStream(true);
        pb.environment().put("PYTHONPATH", script.getParent().getParent().resolve("lib/python").toString());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail("verify-stream-v2 did not finish on " + file);
        }
        return "exit " + p.exitValue() + "\n" + out;
    }
}
