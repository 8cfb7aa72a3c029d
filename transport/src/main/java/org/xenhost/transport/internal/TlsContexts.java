package org.xenhost.transport.internal;

import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.SupportedCipherSuiteFilter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenhost.transport.TransportConfig;
import org.xenhost.transport.pki.HostCredentials;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;

/**
 * The server and client TLS contexts of a transport. Both: TLS 1.3 only (1.2 only when configured), AEAD suites
 * only, the host certificate as identity, the configured CA as the only trust anchor. Server: client certificate
 * required. Client: the server's certificate must name the host dialed (HTTPS-style identification).
 * Renegotiation does not exist in TLS 1.3; BoringSSL never accepts it and the JDK provider is told to reject
 * client-initiated renegotiation. Neither implementation supports TLS compression.
 */
final class TlsContexts {
    private static final Logger LOG = LoggerFactory.getLogger(TlsContexts.class);
    /** AEAD suites: TLS 1.3's, then ECDHE-ECDSA ones for TLS 1.2 (our keys are ECDSA). */
    private static final List<String> CIPHERS = List.of(
            "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256");

    /** Subject of the certificate each engine's trust check refused, for the refusal report (weak keys). */
    private static final java.util.Map<SSLEngine, String> REFUSED = java.util.Collections.synchronizedMap(new java.util.WeakHashMap<>());

    final SslProvider provider;
    final SslContext server;
    final SslContext client;

    TlsContexts(TransportConfig config) {
        this.provider = choose(config.tlsProvider());
        if (config.allowTls12() && provider == SslProvider.JDK) {
            System.setProperty("jdk.tls.rejectClientInitiatedRenegotiation", "true");
        }
        String[] protocols = config.allowTls12() ? new String[] {"TLSv1.3", "TLSv1.2"} : new String[] {"TLSv1.3"};
        HostCredentials id = config.credentials();
        X509Certificate[] chain = id.chain().toArray(X509Certificate[]::new);
        X509TrustManager trust = new LoggingTrustManager(caTrust(id.ca()));
        try {
            this.server = SslContextBuilder.forServer(id.key(), chain)
                    .sslProvider(provider).protocols(protocols).ciphers(CIPHERS, SupportedCipherSuiteFilter.INSTANCE)
                    .trustManager(trust).clientAuth(ClientAuth.REQUIRE).build();
            this.client = SslContextBuilder.forClient().keyManager(id.key(), chain)
                    .sslProvider(provider).protocols(protocols).ciphers(CIPHERS, SupportedCipherSuiteFilter.INSTANCE)
                    .trustManager(trust).endpointIdentificationAlgorithm("HTTPS").build();
        } catch (javax.net.ssl.SSLException e) {
            throw new IllegalStateException("cannot build TLS context (" + provider + "): " + e.getMessage(), e);
        }
    }

    /** {@return the subject whose certificate the trust check of {@code engine} refused, or null; forgets it} */
    static String refusedSubject(SSLEngine engine) {
        return engine == null ? null : REFUSED.remove(engine);
    }

    static SslProvider choose(TransportConfig.TlsProvider want) {
        return switch (want) {
            case JDK -> SslProvider.JDK;
            case OPENSSL -> {
                if (!OpenSsl.isAvailable()) {
                    throw new IllegalStateException("TLS provider OPENSSL requested but netty-tcnative cannot load: "
                            + OpenSsl.unavailabilityCause());
                }
                yield SslProvider.OPENSSL;
            }
            case AUTO -> {
                if (OpenSsl.isAvailable()) {
                    yield SslProvider.OPENSSL;
                }
                // the JDK's TLS works everywhere but costs more CPU per byte: say why the native one is missing
                org.slf4j.LoggerFactory.getLogger(TlsContexts.class).info("netty-tcnative (BoringSSL) cannot load, using the JDK's TLS: {}",
                        String.valueOf(OpenSsl.unavailabilityCause()));
                yield SslProvider.JDK;
            }
        };
    }

    static String describe(SslProvider p) {
        return p == SslProvider.OPENSSL ? "OpenSSL provider (" + OpenSsl.versionString() + " via netty-tcnative)" : "JDK TLS provider";
    }

    private static X509TrustManager caTrust(X509Certificate ca) {
        try {
            KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
            ks.load(null, null);
            ks.setCertificateEntry("xenhost-ca", ca);
            TrustManagerFactory f = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            f.init(ks);
            for (var tm : f.getTrustManagers()) {
                if (tm instanceof X509TrustManager x) {
                    return x;
                }
            }
            throw new IllegalStateException("no X509 trust manager from " + f.getAlgorithm());
        } catch (GeneralSecurityException | java.io.IOException e) {
            throw new IllegalStateException("cannot set up trust in the CA: " + e.getMessage(), e);
        }
    }

    /** Delegates to the PKIX trust manager and logs the subject of every certificate it refuses. */
    private static final class LoggingTrustManager extends X509ExtendedTrustManager {
        private final X509ExtendedTrustManager delegate;

        LoggingTrustManager(X509TrustManager delegate) {
            this.delegate = (X509ExtendedTrustManager) delegate;
        }

        private static CertificateException logged(X509Certificate[] chain, String role, CertificateException e) {
            String subject = chain == null || chain.length == 0 ? "(none)" : chain[0].getSubjectX500Principal().getName();
            LOG.warn("refused {} certificate of {}: {}", role, subject, e.getMessage());
            return e;
        }

        private static CertificateException logged(X509Certificate[] chain, String role, CertificateException e, SSLEngine engine) {
            if (chain != null && chain.length > 0) {
                REFUSED.put(engine, chain[0].getSubjectX500Principal().getName());
            }
            return logged(chain, role, e);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String auth, Socket s) throws CertificateException {
            try {
                delegate.checkClientTrusted(chain, auth, s);
            } catch (CertificateException e) {
                throw logged(chain, "client", e);
            }
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String auth, Socket s) throws CertificateException {
            try {
                delegate.checkServerTrusted(chain, auth, s);
            } catch (CertificateException e) {
                throw logged(chain, "server", e);
            }
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String auth, SSLEngine e) throws CertificateException {
            try {
                delegate.checkClientTrusted(chain, auth, e);
            } catch (CertificateException x) {
                throw logged(chain, "client", x, e);
            }
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String auth, SSLEngine e) throws CertificateException {
            try {
                delegate.checkServerTrusted(chain, auth, e);
            } catch (CertificateException x) {
                throw logged(chain, "server", x, e);
            }
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String auth) throws CertificateException {
            try {
                delegate.checkClientTrusted(chain, auth);
            } catch (CertificateException e) {
                throw logged(chain, "client", e);
            }
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String auth) throws CertificateException {
            try {
                delegate.checkServerTrusted(chain, auth);
            } catch (CertificateException e) {
                throw logged(chain, "server", e);
            }
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return delegate.getAcceptedIssuers();
        }
    }
}
