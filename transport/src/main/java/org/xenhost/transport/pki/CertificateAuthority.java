package org.xenhost.transport.pki;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The daemons' own certificate authority, kept as {@code DIR/ca-cert.pem} and {@code DIR/ca-key.pem}. It issues
 * host certificates ({@code DIR/HOST-cert.pem}, {@code DIR/HOST-key.pem}) that serve both as TLS server and client
 * certificate, so one identity per host covers both directions of a migration. Keys are ECDSA P-256.
 */
public final class CertificateAuthority {
    /** File name of the CA certificate inside the PKI directory. */
    public static final String CA_CERT = "ca-cert.pem";
    /** File name of the CA private key inside the PKI directory. */
    public static final String CA_KEY = "ca-key.pem";
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Path dir;
    private final X509Certificate certificate;
    private final PrivateKey key;

    private CertificateAuthority(Path dir, X509Certificate certificate, PrivateKey key) {
        this.dir = dir;
        this.certificate = certificate;
        this.key = key;
    }

    /**
     * Creates a new CA in {@code dir} (created if missing). Refuses when a CA is already there: replacing it would
     * orphan every certificate it issued.
     *
     * @param name the CA's common name, e.g. {@code xenhost-ca}
     */
    public static CertificateAuthority init(Path dir, String name, Validity validity) {
        checkName(name, "CA name");
        Path cert = dir.resolve(CA_CERT);
        Path keyFile = dir.resolve(CA_KEY);
        if (Files.exists(cert) || Files.exists(keyFile)) {
            throw new IllegalArgumentException("a CA already exists in " + dir + " (" + CA_CERT + " or " + CA_KEY
                    + "); use another --dir, or move those files away first");
        }
        try {
            Files.createDirectories(dir);
            KeyPair pair = newKeyPair();
            X500Name subject = dn(name);
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(subject, serial(),
                    Date.from(validity.notBefore()), Date.from(validity.notAfter()), subject, pair.getPublic());
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(pair.getPublic()));
            X509Certificate c = sign(b, pair.getPrivate());
            // key first: a CA certificate without its key is useless, a lone key is easy to spot and remove
            PemFiles.writePrivateKey(keyFile, pair.getPrivate());
            PemFiles.writeCertificates(cert, List.of(c));
            return new CertificateAuthority(dir, c, pair.getPrivate());
        } catch (IOException | GeneralSecurityException | OperatorCreationException e) {
            throw new IllegalStateException("cannot create CA in " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Loads the CA of {@code dir}, checking the key file mode and the certificate's validity dates. */
    public static CertificateAuthority load(Path dir) {
        Path certFile = dir.resolve(CA_CERT);
        if (!Files.exists(certFile)) {
            throw new IllegalArgumentException("no CA in " + dir + " (" + certFile + " missing); create one with: "
                    + "xenhost pki init-ca --dir " + dir);
        }
        X509Certificate c = PemFiles.readCertificates(certFile).get(0);
        HostCredentials.checkDates(c, certFile);
        PrivateKey k = PemFiles.readPrivateKey(dir.resolve(CA_KEY));
        return new CertificateAuthority(dir, c, k);
    }

    /** {@return the CA certificate} */
    public X509Certificate certificate() {
        return certificate;
    }

    /** {@return the PKI directory} */
    public Path dir() {
        return dir;
    }

    /**
     * Issues a host certificate and key into {@code DIR/HOST-cert.pem} and {@code DIR/HOST-key.pem}. The host name
     * itself is always a DNS SAN (when it is a valid DNS name); {@code sans} adds the names and addresses peers dial.
     * Usage: digitalSignature; extended usage serverAuth and clientAuth.
     */
    public HostCredentials issue(String host, List<SubjectAltName> sans, Validity validity) {
        checkName(host, "host name");
        Path certFile = dir.resolve(host + "-cert.pem");
        Path keyFile = dir.resolve(host + "-key.pem");
        if (Files.exists(certFile) || Files.exists(keyFile)) {
            throw new IllegalArgumentException("host " + host + " already has files in " + dir + " (" + certFile.getFileName()
                    + " or " + keyFile.getFileName() + "); move them away first to re-issue");
        }
        Set<SubjectAltName> all = new LinkedHashSet<>();
        if (SubjectAltName.isDnsName(host)) {
            all.add(SubjectAltName.parse(host));
        }
        all.addAll(sans);
        try {
            KeyPair pair = newKeyPair();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(certificate, serial(),
                    Date.from(validity.notBefore()), Date.from(validity.notAfter()), dn(host), pair.getPublic());
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
            b.addExtension(Extension.extendedKeyUsage, false,
                    new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
            List<GeneralName> names = new ArrayList<>();
            for (SubjectAltName s : all) {
                names.add(new GeneralName(s.kind() == SubjectAltName.Kind.DNS ? GeneralName.dNSName : GeneralName.iPAddress, s.value()));
            }
            if (!names.isEmpty()) {
                b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(names.toArray(GeneralName[]::new)));
            }
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(pair.getPublic()));
            b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(certificate));
            X509Certificate c = sign(b, key);
            PemFiles.writePrivateKey(keyFile, pair.getPrivate());
            PemFiles.writeCertificates(certFile, List.of(c));
            return new HostCredentials(host, c, pair.getPrivate(), certificate);
        } catch (IOException | GeneralSecurityException | OperatorCreationException e) {
            throw new IllegalStateException("cannot issue certificate for " + host + ": " + e.getMessage(), e);
        }
    }

    static void checkName(String name, String what) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException(what + " '" + name + "' is invalid: use 1-63 letters, digits, '.', '_' "
                    + "or '-', starting with a letter or digit");
        }
    }

    private static X500Name dn(String cn) {
        return new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.O, "xenhost").addRDN(BCStyle.CN, cn).build();
    }

    private static KeyPair newKeyPair() throws GeneralSecurityException {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
        return g.generateKeyPair();
    }

    private static BigInteger serial() {
        // positive and at most 20 octets (RFC 5280 4.1.2.2)
        return new BigInteger(159, RANDOM);
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey signer)
            throws OperatorCreationException, GeneralSecurityException {
        return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(signer)));
    }
}
