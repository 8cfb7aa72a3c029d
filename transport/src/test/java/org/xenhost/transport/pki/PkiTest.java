package org.xenhost.transport.pki;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The PKI files as operators and OpenSSL see them, and the checks made when loading them. */
class PkiTest {
    private Path dir;
    private CertificateAuthority ca;

    @BeforeEach
    void ca() throws IOException {
        dir = Files.createTempDirectory("pki-test").resolve("pki");
        ca = CertificateAuthority.init(dir, "test-ca", Validity.days(10));
    }

    private static String run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + "\n" + out);
        return out;
    }

    @Test
    void issuedFilesAreWhatOpensslExpects() throws Exception {
        ca.issue("host-a", List.of(SubjectAltName.parse("host-a.example.org"), SubjectAltName.parse("192.0.2.7"),
                SubjectAltName.parse("2001:db8::1")), Validity.days(5));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("ca-key.pem"))));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("host-a-key.pem"))));
        assertTrue(Files.readString(dir.resolve("host-a-key.pem")).startsWith("-----BEGIN PRIVATE KEY-----"), "PKCS#8");
        String cert = dir.resolve("host-a-cert.pem").toString();
        assertTrue(run("openssl", "verify", "-purpose", "sslserver", "-CAfile", dir.resolve("ca-cert.pem").toString(), cert).contains(": OK"));
        assertTrue(run("openssl", "verify", "-purpose", "sslclient", "-CAfile", dir.resolve("ca-cert.pem").toString(), cert).contains(": OK"));
        String text = run("openssl", "x509", "-in", cert, "-noout", "-text");
        assertTrue(text.contains("DNS:host-a, DNS:host-a.example.org, IP Address:192.0.2.7, IP Address:2001:DB8:0:0:0:0:0:1"), text);
        assertTrue(text.contains("TLS Web Server Authentication, TLS Web Client Authentication"), text);
        assertTrue(text.contains("CA:FALSE"), text);
        // the key file is a valid PKCS#8 key for OpenSSL and matches the certificate
        String keyPub = run("openssl", "pkey", "-in", dir.resolve("host-a-key.pem").toString(), "-pubout");
        String certPub = run("openssl", "x509", "-in", cert, "-noout", "-pubkey");
        assertEquals(certPub, keyPub);
        HostCredentials h = HostCredentials.load(dir, "host-a");
        assertEquals("host-a", h.host());
    }

    @Test
    void aKeyReadableByOthersIsRefusedWithTheFix() throws Exception {
        ca.issue("host-a", List.of(), Validity.days(5));
        Path key = dir.resolve("host-a-key.pem");
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-r-----"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HostCredentials.load(dir, "host-a"));
        assertTrue(e.getMessage().contains("chmod 600 " + key), e.getMessage());
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw----r--"));
        assertThrows(IllegalArgumentException.class, () -> HostCredentials.load(dir, "host-a"));
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));
        HostCredentials.load(dir, "host-a");
    }

    @Test
    void expiredAndNotYetValidCertificatesAreRefusedAtLoad() {
        Instant past = Instant.now().minus(Duration.ofDays(3));
        ca.issue("old", List.of(), new Validity(past, past.plus(Duration.ofDays(1))));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HostCredentials.load(dir, "old"));
        assertTrue(e.getMessage().contains("expired on") && e.getMessage().contains("old-cert.pem"), e.getMessage());
        Instant future = Instant.now().plus(Duration.ofDays(3));
        ca.issue("early", List.of(), new Validity(future, future.plus(Duration.ofDays(1))));
        e = assertThrows(IllegalArgumentException.class, () -> HostCredentials.load(dir, "early"));
        assertTrue(e.getMessage().contains("not yet valid"), e.getMessage());
    }

    @Test
    void aCertificateOfAnotherCaOrAMismatchedKeyIsRefused() throws Exception {
        ca.issue("host-a", List.of(), Validity.days(5));
        ca.issue("host-b", List.of(), Validity.days(5));
        Path other = Files.createTempDirectory("pki-other");
        CertificateAuthority.init(other, "other", Validity.days(5)).issue("host-x", List.of(), Validity.days(5));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () ->
                HostCredentials.load(other.resolve("host-x-cert.pem"), other.resolve("host-x-key.pem"), dir.resolve("ca-cert.pem")));
        assertTrue(e.getMessage().contains("not issued by the CA"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () ->
                HostCredentials.load(dir.resolve("host-a-cert.pem"), dir.resolve("host-b-key.pem"), dir.resolve("ca-cert.pem")));
        assertTrue(e.getMessage().contains("does not belong"), e.getMessage());
    }

    @Test
    void existingFilesAreNeverOverwritten() throws Exception {
        String before = Files.readString(dir.resolve("ca-cert.pem"));
        assertThrows(IllegalArgumentException.class, () -> CertificateAuthority.init(dir, "again", Validity.days(1)));
        assertEquals(before, Files.readString(dir.resolve("ca-cert.pem")));
        ca.issue("host-a", List.of(), Validity.days(5));
        String cert = Files.readString(dir.resolve("host-a-cert.pem"));
        assertThrows(IllegalArgumentException.class, () -> ca.issue("host-a", List.of(), Validity.days(5)));
        assertEquals(cert, Files.readString(dir.resolve("host-a-cert.pem")));
    }

    @Test
    void badNamesAndSansAreRefusedNamingThem() {
        for (String bad : List.of("", "../etc", "a/b", "-lead", "x".repeat(64))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ca.issue(bad, List.of(), Validity.days(1)));
            assertTrue(e.getMessage().contains("'" + bad + "'"), e.getMessage());
        }
        for (String bad : List.of("", "under_score.example", "a..b", "300.1.1.1", "-x.example", "exa mple")) {
            assertThrows(IllegalArgumentException.class, () -> SubjectAltName.parse(bad), bad);
        }
        assertEquals(new SubjectAltName(SubjectAltName.Kind.IP, "10.1.2.3"), SubjectAltName.parse("10.1.2.3"));
        assertEquals(new SubjectAltName(SubjectAltName.Kind.DNS, "host-b.example.org"), SubjectAltName.parse("Host-B.example.org"));
        assertThrows(IllegalArgumentException.class, () -> Validity.days(0));
    }
}
