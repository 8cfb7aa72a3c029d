package org.xenhost.transport.pki;

import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;

import java.io.IOException;
import java.io.Reader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * Reading and writing the PEM files of the PKI directory. Keys are PKCS#8 ({@code BEGIN PRIVATE KEY}) because
 * Netty's loaders and OpenSSL both read that form; key files are created 0600 and refused when group or others
 * may read them.
 */
public final class PemFiles {
    private static final Set<PosixFilePermission> OWNER_ONLY =
            EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
    private static final Set<PosixFilePermission> PUBLIC_READ = EnumSet.of(PosixFilePermission.OWNER_READ,
            PosixFilePermission.OWNER_WRITE, PosixFilePermission.GROUP_READ, PosixFilePermission.OTHERS_READ);

    private PemFiles() {
    }

    /** Writes a private key as PKCS#8 PEM, mode 0600, atomically; refuses to replace an existing file. */
    public static void writePrivateKey(Path file, PrivateKey key) {
        try {
            StringWriter text = new StringWriter();
            try (JcaPEMWriter pem = new JcaPEMWriter(text)) {
                pem.writeObject(new JcaPKCS8Generator(key, null));
            }
            writeNew(file, text.toString(), OWNER_ONLY);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write private key " + file + ": " + e.getMessage(), e);
        }
    }

    /** Writes certificates (leaf first) as PEM, mode 0644, atomically; refuses to replace an existing file. */
    public static void writeCertificates(Path file, List<X509Certificate> certs) {
        try {
            StringWriter text = new StringWriter();
            try (JcaPEMWriter pem = new JcaPEMWriter(text)) {
                for (X509Certificate c : certs) {
                    pem.writeObject(c);
                }
            }
            writeNew(file, text.toString(), PUBLIC_READ);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write certificate " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Reads a PKCS#8 (or legacy) PEM private key after checking that only its owner may read it.
     *
     * @throws IllegalArgumentException when the file is missing, not a key, or readable by group or others
     */
    public static PrivateKey readPrivateKey(Path file) {
        checkOwnerOnly(file);
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.US_ASCII); PEMParser p = new PEMParser(r)) {
            Object o = p.readObject();
            JcaPEMKeyConverter conv = new JcaPEMKeyConverter();
            if (o instanceof PrivateKeyInfo info) {
                return conv.getPrivateKey(info);
            }
            if (o instanceof PEMKeyPair pair) {
                return conv.getKeyPair(pair).getPrivate();
            }
            throw new IllegalArgumentException("private key file " + file + " holds no PEM private key"
                    + (o == null ? "" : " (found " + o.getClass().getSimpleName() + ")"));
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("private key file " + file + " does not exist", e);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read private key file " + file + ": " + e.getMessage(), e);
        }
    }

    /** Reads every certificate of a PEM file, in file order. */
    public static List<X509Certificate> readCertificates(Path file) {
        List<X509Certificate> out = new ArrayList<>();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.US_ASCII); PEMParser p = new PEMParser(r)) {
            JcaX509CertificateConverter conv = new JcaX509CertificateConverter();
            for (Object o = p.readObject(); o != null; o = p.readObject()) {
                if (o instanceof X509CertificateHolder h) {
                    out.add(conv.getCertificate(h));
                }
            }
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("certificate file " + file + " does not exist", e);
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalArgumentException("cannot read certificate file " + file + ": " + e.getMessage(), e);
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("certificate file " + file + " holds no PEM certificate");
        }
        return out;
    }

    /** Refuses a key file that group or others may access; the message says how to fix it. */
    static void checkOwnerOnly(Path file) {
        Set<PosixFilePermission> perms;
        try {
            perms = Files.getPosixFilePermissions(file);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("private key file " + file + " does not exist", e);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot stat private key file " + file + ": " + e.getMessage(), e);
        }
        Set<PosixFilePermission> loose = EnumSet.copyOf(perms);
        loose.removeAll(EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE,
                PosixFilePermission.OWNER_EXECUTE));
        if (!loose.isEmpty()) {
            throw new IllegalArgumentException("private key file " + file + " is accessible by group or others (mode "
                    + PosixFilePermissions.toString(perms) + "); fix it with: chmod 600 " + file);
        }
    }

    private static void writeNew(Path file, String text, Set<PosixFilePermission> perms) throws IOException {
        if (Files.exists(file)) {
            throw new IllegalArgumentException(file + " already exists; move it away first (nothing was overwritten)");
        }
        Path dir = file.toAbsolutePath().getParent();
        // 1. temporary file created with its final mode (never briefly readable), 2. fsync, 3. rename, 4. fsync dir
        Path tmp = Files.createTempFile(dir, "." + file.getFileName(), ".tmp", PosixFilePermissions.asFileAttribute(OWNER_ONLY));
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                ch.write(StandardCharsets.US_ASCII.encode(text));
                ch.force(true);
            }
            Files.setPosixFilePermissions(tmp, perms);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
    }
}
