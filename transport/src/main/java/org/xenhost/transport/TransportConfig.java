package org.xenhost.transport;

import org.xenhost.transport.pki.HostCredentials;

import java.time.Duration;
import java.util.Objects;

/**
 * Everything a {@link Transport} needs. Build with {@link #builder(HostCredentials, PeerAllowlist)}; defaults are
 * listed on each builder method.
 *
 * @param credentials       this host's certificate, key and the CA peers must chain to
 * @param allowlist         which authenticated peers are accepted
 * @param allowTls12        accept TLS 1.2 as well as 1.3 (default false: TLS 1.3 only)
 * @param tlsProvider       which TLS implementation to use
 * @param io                which socket implementation to use
 * @param ioThreads         I/O threads of this transport
 * @param handshakeTimeout  limit for TCP connect, TLS handshake and hello exchange together
 * @param idleTimeout       a connection from which nothing arrives for this long is declared dead
 * @param keepaliveInterval a ping is sent after this long without sending anything
 * @param maxFrameSize      largest frame payload accepted or sent
 * @param streamWindow      bytes a sender may have in flight per stream before the receiver consumes them
 * @param maxStreams        concurrent inbound streams per connection
 * @param events            observer of accepted and refused peers
 */
public record TransportConfig(HostCredentials credentials, PeerAllowlist allowlist, boolean allowTls12,
                              TlsProvider tlsProvider, IoKind io, int ioThreads, Duration handshakeTimeout,
                              Duration idleTimeout, Duration keepaliveInterval, int maxFrameSize, int streamWindow,
                              int maxStreams, TransportEvents events) {
    /** Smallest allowed {@link #maxFrameSize}. */
    public static final int MIN_FRAME = 16 * 1024;
    /** Largest allowed {@link #maxFrameSize}: the hard bound on any frame on the wire. */
    public static final int MAX_FRAME = 16 * 1024 * 1024;

    /** TLS implementation choice. */
    public enum TlsProvider {
        /** BoringSSL through netty-tcnative when it loads, else the JDK's. */
        AUTO,
        /** BoringSSL through netty-tcnative; fail when it is not available. */
        OPENSSL,
        /** The JDK's SSLEngine. */
        JDK
    }

    /** Socket implementation choice. */
    public enum IoKind {
        /** Native epoll when available, else NIO. */
        AUTO,
        /** Native epoll; fail when it is not available. */
        EPOLL,
        /** Java NIO. */
        NIO
    }

    public TransportConfig {
        Objects.requireNonNull(credentials, "credentials");
        Objects.requireNonNull(allowlist, "allowlist");
        Objects.requireNonNull(tlsProvider, "tlsProvider");
        Objects.requireNonNull(io, "io");
        Objects.requireNonNull(events, "events");
        positive(handshakeTimeout, "handshakeTimeout");
        positive(idleTimeout, "idleTimeout");
        positive(keepaliveInterval, "keepaliveInterval");
        if (keepaliveInterval.compareTo(idleTimeout) >= 0) {
            throw new IllegalArgumentException("keepaliveInterval (" + keepaliveInterval + ") must be shorter than idleTimeout ("
                    + idleTimeout + "), or a quiet but healthy peer would be declared dead");
        }
        if (ioThreads < 1 || ioThreads > 64) {
            throw new IllegalArgumentException("ioThreads must be 1-64, got " + ioThreads);
        }
        if (maxFrameSize < MIN_FRAME || maxFrameSize > MAX_FRAME) {
            throw new IllegalArgumentException("maxFrameSize must be " + MIN_FRAME + "-" + MAX_FRAME + " bytes, got " + maxFrameSize);
        }
        if (streamWindow < maxFrameSize || streamWindow > 256 * 1024 * 1024) {
            throw new IllegalArgumentException("streamWindow must be at least maxFrameSize (" + maxFrameSize
                    + ") and at most 256 MiB, got " + streamWindow);
        }
        if (maxStreams < 1 || maxStreams > 1024) {
            throw new IllegalArgumentException("maxStreams must be 1-1024, got " + maxStreams);
        }
    }

    private static void positive(Duration d, String name) {
        if (d == null || d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(name + " must be a positive duration, got " + d);
        }
    }

    /** {@return a builder with the defaults} */
    public static Builder builder(HostCredentials credentials, PeerAllowlist allowlist) {
        return new Builder(credentials, allowlist);
    }

    /** {@return a builder starting from this configuration} */
    public Builder toBuilder() {
        Builder b = new Builder(credentials, allowlist);
        b.allowTls12 = allowTls12;
        b.tlsProvider = tlsProvider;
        b.io = io;
        b.ioThreads = ioThreads;
        b.handshakeTimeout = handshakeTimeout;
        b.idleTimeout = idleTimeout;
        b.keepaliveInterval = keepaliveInterval;
        b.maxFrameSize = maxFrameSize;
        b.streamWindow = streamWindow;
        b.maxStreams = maxStreams;
        b.events = events;
        return b;
    }

    /** Builder of {@link TransportConfig}. */
    public static final class Builder {
        private HostCredentials credentials;
        private PeerAllowlist allowlist;
        private boolean allowTls12;
        private TlsProvider tlsProvider = TlsProvider.AUTO;
        private IoKind io = IoKind.AUTO;
        private int ioThreads = 2;
        private Duration handshakeTimeout = Duration.ofSeconds(10);
        private Duration idleTimeout = Duration.ofSeconds(10);
        private Duration keepaliveInterval = Duration.ofSeconds(2);
        private int maxFrameSize = 1024 * 1024;
        private int streamWindow = 4 * 1024 * 1024;
        private int maxStreams = 16;
        private TransportEvents events = TransportEvents.NONE;

        private Builder(HostCredentials credentials, PeerAllowlist allowlist) {
            this.credentials = credentials;
            this.allowlist = allowlist;
        }

        /** Host identity. */
        public Builder credentials(HostCredentials v) { credentials = v; return this; }
        /** Peer allowlist. */
        public Builder allowlist(PeerAllowlist v) { allowlist = v; return this; }
        /** Also accept TLS 1.2 (default false). */
        public Builder allowTls12(boolean v) { allowTls12 = v; return this; }
        /** TLS implementation (default AUTO). */
        public Builder tlsProvider(TlsProvider v) { tlsProvider = v; return this; }
        /** Socket implementation (default AUTO). */
        public Builder io(IoKind v) { io = v; return this; }
        /** I/O threads (default 2). */
        public Builder ioThreads(int v) { ioThreads = v; return this; }
        /** Connect + TLS handshake + hello limit (default 10 s). */
        public Builder handshakeTimeout(Duration v) { handshakeTimeout = v; return this; }
        /** Dead-peer limit (default 10 s). */
        public Builder idleTimeout(Duration v) { idleTimeout = v; return this; }
        /** Ping after this long without sending (default 2 s). */
        public Builder keepaliveInterval(Duration v) { keepaliveInterval = v; return this; }
        /** Largest frame payload (default 1 MiB). */
        public Builder maxFrameSize(int v) { maxFrameSize = v; return this; }
        /** Per-stream window (default 4 MiB). */
        public Builder streamWindow(int v) { streamWindow = v; return this; }
        /** Concurrent inbound streams per connection (default 16). */
        public Builder maxStreams(int v) { maxStreams = v; return this; }
        /** Observer of accepted/refused peers (default none). */
        public Builder events(TransportEvents v) { events = v; return this; }

        /** {@return the validated configuration} */
        public TransportConfig build() {
            return new TransportConfig(credentials, allowlist, allowTls12, tlsProvider, io, ioThreads, handshakeTimeout,
                    idleTimeout, keepaliveInterval, maxFrameSize, streamWindow, maxStreams, events);
        }
    }
}
