package org.xenhost.daemon.cli;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code xenhost pki} through the real command line: files, modes and exit codes. */
class PkiCommandTest {
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private PrintStream oldErr;
    private PrintStream oldOut;
    private Path dir;

    @BeforeEach
    void capture() throws Exception {
        oldErr = System.err;
        oldOut = System.out;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        dir = Files.createTempDirectory("cli-pki").resolve("pki");
    }

    @AfterEach
    void restore() {
        System.setErr(oldErr);
        System.setOut(oldOut);
    }

    private String stderr() {
        return err.toString(StandardCharsets.UTF_8);
    }

    @Test
    void initCaThenIssueWritesTheFilesWithPrivateKeys() throws Exception {
        assertEquals(0, Main.execute("pki", "init-ca", "--dir", dir.toString(), "--name", "lab-ca"), stderr());
        assertEquals(0, Main.execute("pki", "issue", "--dir", dir.toString(), "--name", "host-a",
                "--san", "host-a.lab.example", "--san", "192.0.2.10"), stderr());
        for (String f : new String[] {"ca-cert.pem", "ca-key.pem", "host-a-cert.pem", "host-a-key.pem"}) {
            assertTrue(Files.exists(dir.resolve(f)), f);
        }
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("ca-key.pem"))));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("host-a-key.pem"))));
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("IP:192.0.2.10"), out.toString(StandardCharsets.UTF_8));
    }

    @Test
    void badInputExitsTwoWithAMessageNamingIt() throws Exception {
        assertEquals(2, Main.execute("pki", "issue", "--dir", dir.toString(), "--name", "host-a"));
        assertTrue(stderr().contains("no CA in " + dir), stderr());
        assertEquals(0, Main.execute("pki", "init-ca", "--dir", dir.toString()));
        assertEquals(2, Main.execute("pki", "issue", "--dir", dir.toString(), "--name", "host/a"));
        assertTrue(stderr().contains("'host/a'"), stderr());
        assertEquals(2, Main.execute("pki", "issue", "--dir", dir.toString(), "--name", "host-a", "--san", "bad name"));
        assertTrue(stderr().contains("'bad name'"), stderr());
        assertFalse(Files.exists(dir.resolve("host-a-cert.pem")), "nothing written on bad input");
        assertEquals(2, Main.execute("pki", "issue", "--dir", dir.toString()));
        assertEquals(2, Main.execute("pki", "init-ca", "--dir", dir.toString()));
        assertTrue(stderr().contains("already exists"), stderr());
        Files.setPosixFilePermissions(dir.resolve("ca-key.pem"), PosixFilePermissions.fromString("rw-r--r--"));
        assertEquals(2, Main.execute("pki", "issue", "--dir", dir.toString(), "--name", "host-b"));
        assertTrue(stderr().contains("chmod 600 " + dir.resolve("ca-key.pem")), stderr());
        assertFalse(stderr().contains("Exception"), "no stack trace: " + stderr());
    }
}
