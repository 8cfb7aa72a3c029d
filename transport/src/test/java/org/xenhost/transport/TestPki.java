package org.xenhost.transport;

import org.xenhost.transport.pki.CertificateAuthority;
import org.xenhost.transport.pki.HostCredentials;
import org.xenhost.transport.pki.SubjectAltName;
import org.xenhost.transport.pki.Validity;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * A PKI directory for tests, made with the production code: CA, host-a (listener, SANs localhost and 127.0.0.1),
 * host-b (dialer), intruder (valid but not on the allowlist), expired, and a second unrelated CA with host-x.
 */
final class TestPki {
    static final String ALLOWLIST = "CN=host-*,O=xenhost";
    final Path dir;
    final Path otherDir;

    TestPki() throws IOException {
        dir = Files.createTempDirectory("xenhost-pki");
        otherDir = Files.createTempDirectory("xenhost-other-pki");
        CertificateAuthority ca = CertificateAuthority.init(dir, "test-ca", Validity.days(30));
        ca.issue("host-a", List.of(SubjectAltName.parse("localhost"), SubjectAltName.parse("127.0.0.1")), Validity.days(2));
        ca.issue("host-b", List.of(SubjectAltName.parse("127.0.0.1")), Validity.days(2));
        ca.issue("intruder", List.of(SubjectAltName.parse("127.0.0.1")), Validity.days(2));
        Instant past = Instant.now().minus(Duration.ofDays(10));
        ca.issue("host-expired", List.of(), new Validity(past, past.plus(Duration.ofDays(1))));
        Instant future = Instant.now().plus(Duration.ofDays(10));
        ca.issue("host-future", List.of(), new Validity(future, future.plus(Duration.ofDays(1))));
        CertificateAuthority other = CertificateAuthority.init(otherDir, "other-ca", Validity.days(30));
        other.issue("host-x", List.of(SubjectAltName.parse("127.0.0.1")), Validity.days(2));
    }

    HostCredentials host(String name) {
        return HostCredentials.load(dir, name);
    }

    Path cert(String name) {
        return dir.resolve(name + "-cert.pem");
    }

    Path key(String name) {
        return dir.resolve(name + "-key.pem");
    }

    Path caCert() {
        return dir.resolve("ca-cert.pem");
    }

    TransportConfig.Builder config(String host) {
        return TransportConfig.builder(host(host), PeerAllowlist.of(List.of(ALLOWLIST)));
    }
}
