package org.xenhost.transport.internal;

import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.concurrent.ScheduledFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenhost.transport.ControlMessage;
import org.xenhost.transport.InboundStream;
import org.xenhost.transport.OutboundStream;
import org.xenhost.transport.PeerConnection;
import org.xenhost.transport.PeerIdentity;
import org.xenhost.transport.TransportConfig;

import javax.net.ssl.SSLException;
import javax.net.ssl.SSLSession;
import javax.security.auth.x500.X500Principal;
import java.io.IOException;
import java.net.SocketAddress;
import java.security.cert.Certificate;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * One connection between two daemons and its multiplexer. Lifecycle:
 * <pre>
 *  HANDSHAKING --TLS ok, peer on allowlist, hello sent--> AWAITING_HELLO --peer hello, common version--> OPEN
 *       |                                                      |                                         |
 *       +--- TLS failure / not TLS / refused / timeout --------+--- bad hello / timeout -----------------+-- close,
 *                                                                                                        |   loss,
 *                                                                                                        v   idle
 *                                                                                                      CLOSED
 * </pre>
 * The handshake deadline covers TLS and hello together. In OPEN, a peer silent for the idle timeout is dead; we ping
 * after the keepalive interval without writes, so a live peer is never silent that long.
 */
public final class PeerChannel implements PeerConnection {
    /** Protocol versions this build speaks. */
    static final int MIN_VERSION = 1, MAX_VERSION = 1;
    private static final Logger LOG = LoggerFactory.getLogger(PeerChannel.class);
    private static final Object LOST = new Object();
    private static final int MAX_QUEUED_CONTROL = 1024;

    enum State { HANDSHAKING, AWAITING_HELLO, OPEN, CLOSED }

    private final Channel channel;
    private final boolean client;
    private final TransportConfig config;
    private final Consumer<PeerChannel> onOpen;
    private final CompletableFuture<PeerChannel> ready = new CompletableFuture<>();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private final Map<Integer, OutboundStreamImpl> outbound = new ConcurrentHashMap<>();
    private final Map<Integer, InboundStreamImpl> inbound = new ConcurrentHashMap<>();
    private final LinkedBlockingQueue<Object> controls = new LinkedBlockingQueue<>();
    private final LinkedBlockingQueue<Object> accepts = new LinkedBlockingQueue<>();
    private final AtomicInteger nextStreamId;
    private volatile State state = State.HANDSHAKING;
    private volatile IOException failure;
    private volatile PeerIdentity peer;
    private volatile String tls = "";
    private volatile int version;
    private volatile int peerWindow;
    private volatile int peerMaxFrame;
    private int lastPeerStreamId;
    private volatile ScheduledFuture<?> deadline;

    PeerChannel(Channel channel, boolean client, TransportConfig config, Consumer<PeerChannel> onOpen) {
        this.channel = channel;
        this.client = client;
        this.config = config;
        this.onOpen = onOpen;
        // streams opened by the client are odd, by the server even: the two sides never pick the same id
        this.nextStreamId = new AtomicInteger(client ? 1 : 2);
    }

    /** {@return completes when the connection is OPEN, or fails with why it never got there} */
    CompletableFuture<PeerChannel> ready() {
        return ready;
    }

    ByteBufAllocator alloc() {
        return channel.alloc();
    }

    /** {@return the inbound handler that drives this connection} */
    ChannelInboundHandlerAdapter handler() {
        return new Handler();
    }

    void writeFrame(Frame f) {
        channel.writeAndFlush(f, channel.voidPromise());
    }

    // ---- PeerConnection ----

    @Override
    public PeerIdentity peer() {
        return peer;
    }

    @Override
    public SocketAddress remoteAddress() {
        return channel.remoteAddress();
    }

    @Override
    public int protocolVersion() {
        return version;
    }

    @Override
    public String tlsDescription() {
        return tls;
    }

    @Override
    public void send(ControlMessage message) throws IOException {
        checkOpen();
        writeFrame(new Frame.Control(message));
    }

    @Override
    public void sendAndWait(ControlMessage message, Duration timeout) throws IOException {
        checkOpen();
        io.netty.channel.ChannelFuture written = channel.writeAndFlush(new Frame.Control(message));
        boolean done;
        try {
            done = written.await(timeout.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while sending " + message.type() + " to " + peer.subject(), e);
        }
        if (!done) {
            throw new IOException("sending " + message.type() + " to " + describePeer() + " did not finish within "
                    + timeout.toSeconds() + " s");
        }
        if (!written.isSuccess()) {
            throw new IOException("sending " + message.type() + " to " + describePeer() + " failed: "
                    + written.cause().getMessage(), written.cause());
        }
    }

    @Override
    public ControlMessage receive(Duration timeout) throws IOException, InterruptedException {
        Object o = controls.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
        if (o == LOST) {
            controls.add(LOST);
            throw lost();
        }
        return (ControlMessage) o;
    }

    @Override
    public OutboundStream openStream(String label) throws IOException {
        if (label == null || label.isEmpty() || label.length() > 200) {
            throw new IllegalArgumentException("stream label must be 1-200 characters, got '" + label + "'");
        }
        checkOpen();
        OutboundStreamImpl s;
        // ids must reach the peer in increasing order: allocate and queue the open frame under one lock
        synchronized (nextStreamId) {
            int id = nextStreamId.getAndAdd(2);
            s = new OutboundStreamImpl(this, id, label, peerWindow, Math.min(peerMaxFrame, config.maxFrameSize()));
            outbound.put(id, s);
            writeFrame(new Frame.StreamOpen(id, label));
        }
        if (state == State.CLOSED) {
            // lost while opening: make sure the new stream learns it
            s.fail(lost());
        }
        return s;
    }

    @Override
    public InboundStream acceptStream(Duration timeout) throws IOException, InterruptedException {
        Object o = accepts.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
        if (o == LOST) {
            accepts.add(LOST);
            throw lost();
        }
        return (InboundStream) o;
    }

    @Override
    public boolean isOpen() {
        return state == State.OPEN;
    }

    @Override
    public CompletionStage<Void> closed() {
        return closed.minimalCompletionStage();
    }

    @Override
    public void close() {
        if (state == State.OPEN) {
            channel.writeAndFlush(new Frame.GoAway("closed by the peer's application"));
        }
        fail(new IOException("connection to " + describePeer() + " closed locally"), true);
    }

    /** A stream finished locally: drop it and tell the peer (frame may be null). */
    void streamDone(Object stream, Frame toPeer) {
        if (stream instanceof OutboundStreamImpl o) {
            outbound.remove(o.id());
        } else if (stream instanceof InboundStreamImpl i) {
            inbound.remove(i.id());
        }
        if (toPeer != null && state == State.OPEN) {
            writeFrame(toPeer);
        }
    }

    private void checkOpen() throws IOException {
        if (state != State.OPEN) {
            throw failure != null ? lost() : new IOException("connection to " + describePeer() + " is not open yet");
        }
    }

    private IOException lost() {
        IOException f = failure;
        return new IOException(f.getMessage(), f);
    }

    private String describePeer() {
        PeerIdentity p = peer;
        return (p == null ? "" : p.subject() + " at ") + channel.remoteAddress();
    }

    /**
     * Moves to CLOSED once: fails every stream and waiter with {@code cause}, closes the socket.
     *
     * @param expected true for a local close (a normal completion of {@link #closed()})
     */
    private void fail(IOException cause, boolean expected) {
        synchronized (this) {
            if (state == State.CLOSED) {
                return;
            }
            state = State.CLOSED;
            failure = cause;
        }
        if (deadline != null) {
            deadline.cancel(false);
        }
        for (OutboundStreamImpl s : new ArrayList<>(outbound.values())) {
            s.fail(cause);
        }
        for (InboundStreamImpl s : new ArrayList<>(inbound.values())) {
            s.fail(cause);
        }
        outbound.clear();
        inbound.clear();
        // streams the application never accepted are failed too (their buffers released)
        for (Object o : accepts) {
            if (o instanceof InboundStreamImpl s) {
                s.fail(cause);
            }
        }
        controls.add(LOST);
        accepts.add(LOST);
        ready.completeExceptionally(cause);
        if (expected) {
            closed.complete(null);
        } else {
            closed.completeExceptionally(cause);
        }
        channel.close();
    }

    private void refuse(String subject, String reason) {
        LOG.warn("refused connection {} {}{}: {}", client ? "to" : "from", channel.remoteAddress(), subject == null ? "" : " (subject " + subject + ")", reason);
        config.events().peerRefused(channel.remoteAddress(), subject, reason);
        fail(new IOException("connection " + (client ? "to " : "from ") + channel.remoteAddress() + " refused: " + reason), false);
    }

    static PeerIdentity identityOf(X509Certificate cert) {
        List<String> dns = new ArrayList<>();
        List<String> ips = new ArrayList<>();
        try {
            Collection<List<?>> sans = cert.getSubjectAlternativeNames();
            if (sans != null) {
                for (List<?> san : sans) {
                    int kind = (Integer) san.get(0);
                    if (kind == 2) {
                        dns.add((String) san.get(1));
                    } else if (kind == 7) {
                        ips.add((String) san.get(1));
                    }
                }
            }
        } catch (CertificateParsingException e) {
            // no usable SANs: the subject alone decides
        }
        return new PeerIdentity(cert.getSubjectX500Principal().getName(X500Principal.RFC2253), dns, ips);
    }

    /** Netty side: turns pipeline events into state changes. Runs on the connection's I/O thread only. */
    private final class Handler extends ChannelInboundHandlerAdapter {
        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            deadline = ctx.executor().schedule(() -> {
                if (state != State.OPEN && state != State.CLOSED) {
                    refuse(null, "no TLS handshake and hello within " + config.handshakeTimeout());
                }
            }, config.handshakeTimeout().toMillis(), TimeUnit.MILLISECONDS);
            ctx.fireChannelActive();
            if (ctx.pipeline().get(SslHandler.class) == null) {
                // plaintext benchmark transport (loopback only): nothing to authenticate
                peer = new PeerIdentity("CN=plaintext-benchmark", List.of(), List.of());
                tls = "none";
                state = State.AWAITING_HELLO;
                writeFrame(new Frame.Hello(MIN_VERSION, MAX_VERSION, config.streamWindow(), config.maxFrameSize()));
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof SslHandshakeCompletionEvent hs) {
                if (!hs.isSuccess()) {
                    if (state != State.CLOSED) {
                        SslHandler ssl = ctx.pipeline().get(SslHandler.class);
                        refuse(TlsContexts.refusedSubject(ssl == null ? null : ssl.engine()), hs.cause() instanceof io.netty.handler.ssl.SslHandshakeTimeoutException
                                ? "no TLS handshake within " + config.handshakeTimeout()
                                : "TLS handshake failed: " + describe(hs.cause()));
                    }
                    return;
                }
                onTlsEstablished(ctx);
            } else if (evt instanceof IdleStateEvent idle) {
                // before OPEN the handshake deadline governs: a slow TLS start is not a dead peer
                if (idle.state() == IdleState.READER_IDLE && state == State.OPEN) {
                    fail(new IOException("nothing received from " + describePeer() + " for " + config.idleTimeout()
                            + "; peer declared dead"), false);
                } else if (idle.state() == IdleState.WRITER_IDLE && state == State.OPEN) {
                    writeFrame(new Frame.Ping(System.nanoTime()));
                }
            }
        }

        private void onTlsEstablished(ChannelHandlerContext ctx) {
            SSLSession session = ctx.pipeline().get(SslHandler.class).engine().getSession();
            X509Certificate cert;
            try {
                Certificate[] chain = session.getPeerCertificates();
                cert = (X509Certificate) chain[0];
            } catch (Exception e) {
                refuse(null, "peer presented no certificate");
                return;
            }
            PeerIdentity id = identityOf(cert);
            if (!config.allowlist().allows(id)) {
                refuse(id.subject(), "certificate subject not on the peer allowlist " + config.allowlist().patterns());
                return;
            }
            peer = id;
            tls = session.getProtocol() + " " + session.getCipherSuite();
            state = State.AWAITING_HELLO;
            writeFrame(new Frame.Hello(MIN_VERSION, MAX_VERSION, config.streamWindow(), config.maxFrameSize()));
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (state == State.CLOSED) {
                io.netty.util.ReferenceCountUtil.release(msg);
                return;
            }
            if (msg instanceof Frame.Data d) {
                onData(d);
                return;
            }
            Frame f = (Frame) msg;
            if (state != State.OPEN) {
                if (state == State.AWAITING_HELLO && f instanceof Frame.Hello h) {
                    onHello(h);
                } else {
                    protocolError("expected the hello frame first, got " + f.getClass().getSimpleName());
                }
                return;
            }
            if (f instanceof Frame.Control c) {
                if (controls.size() >= MAX_QUEUED_CONTROL) {
                    protocolError("more than " + MAX_QUEUED_CONTROL + " control messages unread");
                    return;
                }
                controls.add(c.message());
            } else if (f instanceof Frame.StreamOpen o) {
                onStreamOpen(o);
            } else if (f instanceof Frame.WindowUpdate w) {
                OutboundStreamImpl s = outbound.get(w.id());
                if (w.increment() <= 0) {
                    protocolError("window update of " + w.increment());
                } else if (s != null) {
                    s.credit(w.increment());
                }
            } else if (f instanceof Frame.StreamEnd e) {
                InboundStreamImpl s = inbound.get(e.id());
                if (s != null) {
                    s.onEnd();
                }
            } else if (f instanceof Frame.StreamReset r) {
                InboundStreamImpl in = inbound.remove(r.id());
                if (in != null) {
                    in.fail(new IOException("peer aborted stream " + in.label() + ": " + r.reason()));
                }
                OutboundStreamImpl out = outbound.remove(r.id());
                if (out != null) {
                    out.fail(new IOException("peer stopped reading stream " + out.label() + ": " + r.reason()));
                }
            } else if (f instanceof Frame.GoAway g) {
                fail(new IOException("peer " + describePeer() + " closed the connection: " + g.reason()), false);
            } else if (f instanceof Frame.Hello) {
                protocolError("second hello frame");
            }
            // Ping: its arrival already reset the idle timer
        }

        private void onHello(Frame.Hello h) {
            int common = Math.min(MAX_VERSION, h.maxVersion());
            if (common < Math.max(MIN_VERSION, h.minVersion())) {
                writeFrame(new Frame.GoAway("no common protocol version: we speak " + MIN_VERSION + "-" + MAX_VERSION));
                protocolError("no common protocol version (peer speaks " + h.minVersion() + "-" + h.maxVersion()
                        + ", we speak " + MIN_VERSION + "-" + MAX_VERSION + ")");
                return;
            }
            if (h.maxFrameSize() < TransportConfig.MIN_FRAME || h.maxFrameSize() > TransportConfig.MAX_FRAME
                    || h.streamWindow() < h.maxFrameSize()) {
                protocolError("peer announced unusable limits: window " + h.streamWindow() + ", frame " + h.maxFrameSize());
                return;
            }
            version = common;
            peerWindow = h.streamWindow();
            peerMaxFrame = h.maxFrameSize();
            state = State.OPEN;
            if (deadline != null) {
                deadline.cancel(false);
            }
            LOG.info("connection {} {} open: {}, protocol v{}", client ? "to" : "from", describePeer(), tls, version);
            config.events().peerAccepted(channel.remoteAddress(), peer);
            ready.complete(PeerChannel.this);
            onOpen.accept(PeerChannel.this);
        }

        private void onStreamOpen(Frame.StreamOpen o) {
            boolean peerParity = (o.id() & 1) == (client ? 0 : 1);
            if (!peerParity || o.id() <= lastPeerStreamId) {
                protocolError("stream id " + o.id() + " is not a new id of the peer");
                return;
            }
            if (inbound.size() >= config.maxStreams()) {
                protocolError("more than " + config.maxStreams() + " concurrent streams");
                return;
            }
            lastPeerStreamId = o.id();
            InboundStreamImpl s = new InboundStreamImpl(PeerChannel.this, o.id(), o.label(), config.streamWindow());
            inbound.put(o.id(), s);
            accepts.add(s);
        }

        private void onData(Frame.Data d) {
            InboundStreamImpl s = inbound.get(d.id());
            if (s == null) {
                // stream already closed or reset by us: the peer had these bytes in flight
                d.release();
                return;
            }
            if (!s.onData(d.content())) {
                protocolError("peer sent more than its window on stream " + s.label());
            }
        }

        private void protocolError(String what) {
            LOG.warn("protocol error on connection with {}: {}", describePeer(), what);
            fail(new IOException("protocol error on connection with " + describePeer() + ": " + what), false);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (state == State.CLOSED) {
                return;
            }
            if (state == State.HANDSHAKING) {
                refuse(null, describe(cause));
            } else if (cause instanceof io.netty.handler.codec.DecoderException) {
                protocolError(describe(cause));
            } else {
                fail(new IOException("connection with " + describePeer() + " failed: " + describe(cause), cause), false);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (state == State.HANDSHAKING) {
                refuse(null, "connection closed during the TLS handshake");
            } else {
                fail(new IOException("connection with " + describePeer() + " lost (closed by the peer or the network)"), false);
            }
            ctx.fireChannelInactive();
        }
    }

    /** Words for a failure: the most specific message in the cause chain (certificate problems first). */
    static String describe(Throwable t) {
        Throwable specific = null;
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof NotSslRecordException) {
                return "not TLS (plaintext or another protocol)";
            }
            if (c instanceof java.security.cert.CertificateExpiredException) {
                return "TLS: peer certificate expired (" + c.getMessage() + ")";
            }
            if (c instanceof java.security.cert.CertificateNotYetValidException) {
                return "TLS: peer certificate not yet valid (" + c.getMessage() + ")";
            }
            if (specific == null && c instanceof java.security.cert.CertificateException && c.getMessage() != null) {
                specific = c;
            }
        }
        Throwable root = specific != null ? specific : t;
        while (specific == null && root.getCause() != null && root.getCause() != root
                && (root instanceof io.netty.handler.codec.DecoderException || root.getMessage() == null)) {
            root = root.getCause();
        }
        String m = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
        return root instanceof SSLException || specific != null ? "TLS: " + m : m;
    }
}
