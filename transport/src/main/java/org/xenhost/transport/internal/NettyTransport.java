package org.xenhost.transport.internal;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocatorMetric;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.GlobalEventExecutor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenhost.transport.PeerAcceptor;
import org.xenhost.transport.PeerConnection;
import org.xenhost.transport.Transport;
import org.xenhost.transport.TransportConfig;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/** {@link Transport} on Netty: one event loop group, one pooled allocator, one pair of TLS contexts. */
public final class NettyTransport implements Transport {
    private static final Logger LOG = LoggerFactory.getLogger(NettyTransport.class);
    private static final AtomicInteger INSTANCES = new AtomicInteger();
    /**
     * Plaintext handed to each TLS wrap call: BoringSSL (non-JDK-compatible mode) writes several 16 KiB records per
     * call, saving per-call overhead. Tunable for measurements with {@code -Dxenhost.transport.wrapDataSize}.
     */
    static final int WRAP_DATA_SIZE = Integer.getInteger("xenhost.transport.wrapDataSize", 64 * 1024);
    /** Largest socket read; big reads mean fewer syscalls and unwrap calls. {@code -Dxenhost.transport.readSize}. */
    static final int READ_SIZE = Integer.getInteger("xenhost.transport.readSize", 256 * 1024);
    /** Socket buffer sizes, 0 = kernel autotuning. {@code -Dxenhost.transport.socketBuffer}. */
    static final int SOCKET_BUFFER = Integer.getInteger("xenhost.transport.socketBuffer", 0);
    private static final int MAX_PENDING_ACCEPTS = 64;

    private final TransportConfig config;
    private final IoSelection io;
    private final TlsContexts tls;
    private final EventLoopGroup group;
    private final PooledByteBufAllocator alloc;
    private final ChannelGroup channels = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
    private final String description;
    /** Benchmarks only: no TLS, loopback only. See {@link #startPlaintextLoopbackForBenchmarks}. */
    private final boolean plaintext;
    private volatile boolean closed;

    private NettyTransport(TransportConfig config, boolean plaintext) {
        this.config = config;
        this.plaintext = plaintext;
        this.io = IoSelection.choose(config.io());
        this.tls = new TlsContexts(config);
        int n = INSTANCES.incrementAndGet();
        this.group = new MultiThreadIoEventLoopGroup(config.ioThreads(), new DefaultThreadFactory("xenhost-transport-" + n, true),
                io.factory());
        // own pool per transport: its metrics are this transport's memory, nothing else's
        this.alloc = new PooledByteBufAllocator(true, 0, config.ioThreads(), 8192, 9, 256, 64, false);
        this.description = io.name() + ", " + (plaintext ? "NO TLS (benchmark ceiling)" : TlsContexts.describe(tls.provider));
    }

    /**
     * The same transport without TLS, for measuring the ceiling of the framing and flow control
     * ({@code TransportThroughput.plainStream}). It binds and dials loopback addresses only and is not reachable
     * through the {@link Transport} API: daemons never run it.
     */
    public static NettyTransport startPlaintextLoopbackForBenchmarks(TransportConfig config) {
        NettyTransport t = new NettyTransport(config, true);
        LOG.warn("transport WITHOUT TLS for benchmarks, loopback only: {}", t.description);
        return t;
    }

    /** {@return a started transport} */
    public static NettyTransport start(TransportConfig config) {
        NettyTransport t = new NettyTransport(config, false);
        LOG.info("transport uses {}; TLS {}; peers allowed: {}", t.description,
                config.allowTls12() ? "1.3 and 1.2" : "1.3 only", config.allowlist().patterns());
        return t;
    }

    @Override
    public String description() {
        return description;
    }

    @Override
    public long bufferMemoryInUse() {
        PooledByteBufAllocatorMetric m = alloc.metric();
        return m.usedDirectMemory() + m.usedHeapMemory();
    }

    private void initPipeline(SocketChannel ch, PeerChannel peer, java.util.function.Supplier<SslHandler> tlsHandler) {
        ChannelPipeline p = ch.pipeline();
        p.addLast("idle", new IdleStateHandler(config.idleTimeout().toMillis(), config.keepaliveInterval().toMillis(), 0,
                TimeUnit.MILLISECONDS));
        if (!plaintext) {
            SslHandler ssl = tlsHandler.get();
            ssl.setHandshakeTimeoutMillis(config.handshakeTimeout().toMillis());
            ssl.setWrapDataSize(WRAP_DATA_SIZE);
            p.addLast("tls", ssl);
        }
        p.addLast("frames-in", new FrameCodec.Decoder(config.maxFrameSize()));
        p.addLast("frames-out", new FrameCodec.Encoder());
        p.addLast("peer", peer.handler());
    }

    private void socketOptions(java.util.function.BiConsumer<ChannelOption<Object>, Object> set) {
        set.accept(cast(ChannelOption.ALLOCATOR), alloc);
        set.accept(cast(ChannelOption.TCP_NODELAY), true);
        set.accept(cast(ChannelOption.SO_KEEPALIVE), true);
        set.accept(cast(ChannelOption.RCVBUF_ALLOCATOR), new io.netty.channel.AdaptiveRecvByteBufAllocator(2048, 16 * 1024, READ_SIZE));
        if (SOCKET_BUFFER > 0) {
            set.accept(cast(ChannelOption.SO_SNDBUF), SOCKET_BUFFER);
            set.accept(cast(ChannelOption.SO_RCVBUF), SOCKET_BUFFER);
        }
    }

    @SuppressWarnings("unchecked")
    private static ChannelOption<Object> cast(ChannelOption<?> o) {
        return (ChannelOption<Object>) o;
    }

    @Override
    public PeerAcceptor listen(InetSocketAddress bind) throws IOException {
        checkNotClosed();
        if (plaintext && !bind.getAddress().isLoopbackAddress()) {
            throw new IllegalArgumentException("the plaintext benchmark transport listens on loopback only, not " + bind);
        }
        LinkedBlockingQueue<PeerChannel> ready = new LinkedBlockingQueue<>();
        ServerBootstrap b = new ServerBootstrap().group(group).channel(io.serverChannel())
                .option(ChannelOption.SO_BACKLOG, 128)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        channels.add(ch);
                        PeerChannel peer = new PeerChannel(ch, false, config, c -> {
                            if (ready.size() >= MAX_PENDING_ACCEPTS) {
                                LOG.warn("closing connection from {}: {} connections already wait to be accepted",
                                        ch.remoteAddress(), MAX_PENDING_ACCEPTS);
                                c.close();
                            } else {
                                ready.add(c);
                            }
                        });
                        initPipeline(ch, peer, () -> tls.server.newHandler(ch.alloc()));
                    }
                });
        socketOptions(b::childOption);
        b.option(ChannelOption.ALLOCATOR, alloc);
        ChannelFuture f = b.bind(bind).awaitUninterruptibly();
        if (!f.isSuccess()) {
            throw new IOException("cannot listen on " + bind + ": " + PeerChannel.describe(f.cause()), f.cause());
        }
        Channel server = f.channel();
        channels.add(server);
        InetSocketAddress local = (InetSocketAddress) server.localAddress();
        LOG.info("listening for peers on {}", local);
        return new PeerAcceptor() {
            @Override
            public InetSocketAddress address() {
                return local;
            }

            @Override
            public PeerConnection accept(Duration timeout) throws InterruptedException {
                return ready.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
            }

            @Override
            public void close() {
                server.close().awaitUninterruptibly();
                for (PeerChannel c; (c = ready.poll()) != null; ) {
                    c.close();
                }
            }
        };
    }

    @Override
    public PeerConnection connect(String host, int port) throws IOException {
        checkNotClosed();
        if (host == null || host.isBlank()) {
            throw new IllegalArgumentException("peer host must not be empty");
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("peer port must be 1-65535, got " + port);
        }
        if (plaintext && !java.net.InetAddress.getByName(host).isLoopbackAddress()) {
            throw new IllegalArgumentException("the plaintext benchmark transport dials loopback only, not " + host);
        }
        PeerChannel[] holder = new PeerChannel[1];
        Bootstrap b = new Bootstrap().group(group).channel(io.channel())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) config.handshakeTimeout().toMillis())
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        channels.add(ch);
                        PeerChannel peer = new PeerChannel(ch, true, config, c -> { });
                        holder[0] = peer;
                        initPipeline(ch, peer, () -> tls.client.newHandler(ch.alloc(), host, port));
                    }
                });
        socketOptions(b::option);
        ChannelFuture f = b.connect(host, port);
        if (!f.awaitUninterruptibly(config.handshakeTimeout().toMillis() + 1000)) {
            f.channel().close();
            throw new IOException("cannot connect to " + host + ":" + port + " within " + config.handshakeTimeout());
        }
        if (!f.isSuccess()) {
            throw new IOException("cannot connect to " + host + ":" + port + ": " + PeerChannel.describe(f.cause()), f.cause());
        }
        PeerChannel peer = holder[0];
        try {
            return peer.ready().get(config.handshakeTimeout().toMillis() + 1000, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            throw new IOException("cannot open connection to " + host + ":" + port + ": " + c.getMessage(), c);
        } catch (TimeoutException e) {
            peer.close();
            throw new IOException("connection to " + host + ":" + port + " did not open within " + config.handshakeTimeout());
        } catch (InterruptedException e) {
            peer.close();
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while connecting to " + host + ":" + port);
        }
    }

    private void checkNotClosed() {
        if (closed) {
            throw new IllegalStateException("transport is closed");
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        channels.close().awaitUninterruptibly();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
    }
}
