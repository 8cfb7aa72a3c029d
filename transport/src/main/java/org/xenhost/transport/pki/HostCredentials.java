package org.xenhost.transport.pki;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.util.Date;
import java.util.List;

/**
 * A host's TLS identity: its certificate and private key, and the CA certificate that peers must chain to.
 *
 * @param host        the host name the files are named after
 * @param certificate the host certificate (server and client usage)
 * @param key         the host's private key
 * @param ca          the CA certificate that issued it and that peers' certificates must chain to
 */
public record HostCredentials(String host, X509Certificate certificate, PrivateKey key, X509Certificate ca) {

    /**
     * Loads {@code DIR/HOST-cert.pem}, {@code DIR/HOST-key.pem} and {@code DIR/ca-cert.pem}, refusing a key that
     * group or others may read, a certificate outside its validity dates, one not signed by the CA, and a key that
     * does not belong to the certificate.
     *
     * @throws IllegalArgumentException with a message naming the file and the fix
     */
    public static HostCredentials load(Path dir, String host) {
        CertificateAuthority.checkName(host, "host name");
        return load(dir.resolve(host + "-cert.pem"), dir.resolve(host + "-key.pem"), dir.resolve(CertificateAuthority.CA_CERT));
    }

    /** Like {@link #load(Path, String)} with explicit file paths. */
    public static HostCredentials load(Path certFile, Path keyFile, Path caFile) {
        if (!Files.exists(certFile)) {
            throw new IllegalArgumentException("certificate file " + certFile + " does not exist; issue one with: "
                    + "xenhost pki issue --dir " + certFile.toAbsolutePath().getParent() + " --name HOST");
        }
        X509Certificate ca = PemFiles.readCertificates(caFile).get(0);
        checkDates(ca, caFile);
        X509Certificate cert = PemFiles.readCertificates(certFile).get(0);
        checkDates(cert, certFile);
        try {
            cert.verify(ca.getPublicKey());
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("certificate " + certFile + " was not issued by the CA in " + caFile
                    + " (" + e.getMessage() + ")", e);
        }
        PrivateKey key = PemFiles.readPrivateKey(keyFile);
        checkKeyMatches(cert, key, certFile, keyFile);
        return new HostCredentials(commonName(cert), cert, key, ca);
    }

    /** {@return the certificate chain to present: the host certificate then the CA} */
    public List<X509Certificate> chain() {
        return List.of(certificate, ca);
    }

    /** {@return the first CN of a certificate's subject, or the whole subject when it has none} */
    public static String commonName(X509Certificate c) {
        org.bouncycastle.asn1.x500.X500Name n = org.bouncycastle.asn1.x500.X500Name.getInstance(c.getSubjectX500Principal().getEncoded());
        org.bouncycastle.asn1.x500.RDN[] cns = n.getRDNs(org.bouncycastle.asn1.x500.style.BCStyle.CN);
        return cns.length == 0 ? c.getSubjectX500Principal().getName()
                : org.bouncycastle.asn1.x500.style.IETFUtils.valueToString(cns[0].getFirst().getValue());
    }

    static void checkDates(X509Certificate c, Path file) {
        Date now = new Date();
        if (now.before(c.getNotBefore())) {
            throw new IllegalArgumentException("certificate " + file + " is not yet valid (valid from " + c.getNotBefore().toInstant()
                    + "); check this host's clock or issue a new one");
        }
        if (now.after(c.getNotAfter())) {
            throw new IllegalArgumentException("certificate " + file + " expired on " + c.getNotAfter().toInstant()
                    + "; issue a new one with: xenhost pki issue");
        }
    }

    private static void checkKeyMatches(X509Certificate cert, PrivateKey key, Path certFile, Path keyFile) {
        try {
            String alg = key.getAlgorithm().equals("EC") ? "SHA256withECDSA" : "SHA256with" + key.getAlgorithm();
            byte[] probe = "xenhost key check".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            Signature s = Signature.getInstance(alg);
            s.initSign(key);
            s.update(probe);
            byte[] sig = s.sign();
            Signature v = Signature.getInstance(alg);
            v.initVerify(cert.getPublicKey());
            v.update(probe);
            if (!v.verify(sig)) {
                throw new IllegalArgumentException("private key " + keyFile + " does not belong to certificate " + certFile);
            }
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("private key " + keyFile + " does not belong to certificate " + certFile
                    + " (" + e.getMessage() + ")", e);
        }
    }
}
