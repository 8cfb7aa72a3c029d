package org.xenhost.daemon.cli;

import org.xenhost.transport.pki.CertificateAuthority;
import org.xenhost.transport.pki.HostCredentials;
import org.xenhost.transport.pki.SubjectAltName;
import org.xenhost.transport.pki.Validity;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code xenhost pki}: the daemons' private CA. {@code init-ca} creates {@code DIR/ca-cert.pem} and
 * {@code DIR/ca-key.pem}; {@code issue} creates {@code DIR/HOST-cert.pem} and {@code DIR/HOST-key.pem} (server and
 * client usage). Nothing existing is ever overwritten.
 */
@Command(name = "pki", mixinStandardHelpOptions = true,
        description = "Certificate authority for daemon-to-daemon TLS.",
        subcommands = {PkiCommand.InitCa.class, PkiCommand.Issue.class})
public final class PkiCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "a pki command is required: init-ca or issue");
    }

    @Command(name = "init-ca", mixinStandardHelpOptions = true,
            description = "Create a CA key and certificate in DIR (ca-key.pem mode 0600, ca-cert.pem).")
    static final class InitCa implements Runnable {
        @Spec
        CommandSpec spec;
        @Option(names = "--dir", required = true, paramLabel = "DIR", description = "PKI directory (created if missing)")
        Path dir;
        @Option(names = "--name", paramLabel = "NAME", defaultValue = "xenhost-ca", description = "CA common name (default ${DEFAULT-VALUE})")
        String name;
        @Option(names = "--days", paramLabel = "DAYS", defaultValue = "3650", description = "validity in days (default ${DEFAULT-VALUE})")
        long days;

        @Override
        public void run() {
            CertificateAuthority ca = CertificateAuthority.init(dir, name, Validity.days(days));
            spec.commandLine().getOut().printf("created CA '%s' valid until %s:%n  %s%n  %s%n", name,
                    ca.certificate().getNotAfter().toInstant(), dir.resolve(CertificateAuthority.CA_CERT),
                    dir.resolve(CertificateAuthority.CA_KEY));
        }
    }

    @Command(name = "issue", mixinStandardHelpOptions = true,
            description = "Issue a host certificate (TLS server and client) signed by the CA in DIR.")
    static final class Issue implements Runnable {
        @Spec
        CommandSpec spec;
        @Option(names = "--dir", required = true, paramLabel = "DIR", description = "PKI directory holding the CA")
        Path dir;
        @Option(names = "--name", required = true, paramLabel = "HOST", description = "host name: certificate CN and file prefix")
        String name;
        @Option(names = "--san", paramLabel = "DNS-or-IP", description = "extra subject alternative name; repeatable")
        List<String> sans = new ArrayList<>();
        @Option(names = "--days", paramLabel = "DAYS", defaultValue = "825", description = "validity in days (default ${DEFAULT-VALUE})")
        long days;

        @Override
        public void run() {
            List<SubjectAltName> parsed = new ArrayList<>();
            for (String s : sans) {
                parsed.add(SubjectAltName.parse(s));
            }
            Validity validity = Validity.days(days);
            CertificateAuthority ca = CertificateAuthority.load(dir);
            HostCredentials h = ca.issue(name, parsed, validity);
            spec.commandLine().getOut().printf("issued certificate for '%s' (SANs %s) valid until %s:%n  %s%n  %s%n",
                    name, sanList(h), h.certificate().getNotAfter().toInstant(), dir.resolve(name + "-cert.pem"),
                    dir.resolve(name + "-key.pem"));
        }

        private static String sanList(HostCredentials h) {
            try {
                List<String> out = new ArrayList<>();
                var all = h.certificate().getSubjectAlternativeNames();
                if (all != null) {
                    for (List<?> san : all) {
                        out.add(((Integer) san.get(0) == 7 ? "IP:" : "DNS:") + san.get(1));
                    }
                }
                return String.join(", ", out);
            } catch (java.security.cert.CertificateParsingException e) {
                return "?";
            }
        }
    }
}
