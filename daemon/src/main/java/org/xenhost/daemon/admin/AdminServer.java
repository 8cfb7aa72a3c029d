package org.xenhost.daemon.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenhost.driver.api.Driver;
import org.xenhost.driver.api.DriverError;
import org.xenhost.driver.api.DriverException;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Type;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Serves a {@link Driver} on a UNIX socket ({@link AdminProtocol}). The socket is only ever visible with its
 * final permissions: it is bound under a temporary name, chmod-ed (0600, or 0660 with a group) and renamed
 * into place. Each connection has its own thread, up to a limit; a client that breaks the protocol loses its
 * connection and nothing else.
 */
public final class AdminServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AdminServer.class);

    private final Driver driver;
    private final Path socketPath;
    private final String group;
    private final ServerSocketChannel server;
    private final ExecutorService connections;
    private final Set<SocketChannel> open = ConcurrentHashMap.newKeySet();
    private final Thread acceptor;
    private volatile boolean closed;

    private AdminServer(Driver driver, Path socketPath, String group, int maxConnections) throws IOException {
        this.driver = driver;
        this.socketPath = socketPath;
        this.group = group;
        refuseIfAnotherDaemonListens(socketPath);
        Files.createDirectories(socketPath.toAbsolutePath().getParent());
        Path tmp = socketPath.resolveSibling("." + socketPath.getFileName() + ".binding");
        Files.deleteIfExists(tmp);
        ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.bind(UnixDomainSocketAddress.of(tmp));
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString(group == null ? "rw-------" : "rw-rw----"));
            if (group != null) {
                GroupPrincipal g = tmp.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByGroupName(group);
                Files.getFileAttributeView(tmp, java.nio.file.attribute.PosixFileAttributeView.class).setGroup(g);
            }
            Files.move(tmp, socketPath, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            ch.close();
            Files.deleteIfExists(tmp);
            throw e;
        }
        this.server = ch;
        AtomicInteger n = new AtomicInteger();
        this.connections = new ThreadPoolExecutor(0, maxConnections, 30, TimeUnit.SECONDS, new SynchronousQueue<>(),
                r -> {
                    Thread t = new Thread(r, "admin-conn-" + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        this.acceptor = new Thread(this::acceptLoop, "admin-accept");
        this.acceptor.setDaemon(true);
    }

    /**
     * Binds the socket and starts serving.
     *
     * @param group the group allowed to connect (mode 0660), or null for the owner only (0600)
     */
    public static AdminServer start(Driver driver, Path socketPath, String group, int maxConnections) throws IOException {
        AdminServer s = new AdminServer(driver, socketPath, group, maxConnections);
        s.acceptor.start();
        log.info("admin socket {} ready (mode {})", socketPath, group == null ? "0600" : "0660 group " + group);
        return s;
    }

    public Path socketPath() {
        return socketPath;
    }

    private static void refuseIfAnotherDaemonListens(Path socketPath) throws IOException {
        if (!Files.exists(socketPath)) {
            return;
        }
        try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(socketPath))) {
            throw new IOException("another xenhostd already serves " + socketPath + "; stop it or choose another --admin-socket");
        } catch (IOException e) {
            if (e.getMessage() != null && e.getMessage().startsWith("another xenhostd")) {
                throw e;
            }
            // nobody listens: a stale socket from a daemon that died; safe to replace
        }
    }

    private void acceptLoop() {
        while (!closed) {
            SocketChannel c;
            try {
                c = server.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (!closed) {
                    log.warn("admin socket accept failed: {}", e.getMessage());
                }
                continue;
            }
            try {
                open.add(c);
                connections.execute(() -> serve(c));
            } catch (java.util.concurrent.RejectedExecutionException e) {
                log.warn("admin socket: too many connections; refusing one");
                closeQuietly(c);
            }
        }
    }

    private void serve(SocketChannel c) {
        try (c) {
            InputStream in = new BufferedInputStream(Channels.newInputStream(c));
            OutputStream out = Channels.newOutputStream(c);
            if (!hello(in, out)) {
                return;
            }
            String line;
            while ((line = AdminProtocol.readLine(in)) != null) {
                if (!request(line, out)) {
                    return;
                }
            }
        } catch (IOException e) {
            log.debug("admin connection ended: {}", e.getMessage());
        } finally {
            open.remove(c);
        }
    }

    private boolean hello(InputStream in, OutputStream out) throws IOException {
        String line = AdminProtocol.readLine(in);
        if (line == null) {
            return false;
        }
        JsonNode h = parse(line);
        if (h == null || !AdminProtocol.NAME.equals(h.path("protocol").asText()) || !h.path("version").isInt()) {
            send(out, error(null, DriverError.INVALID_INPUT, "not the xenhost admin protocol; closing"));
            log.warn("admin socket: a client that does not speak the protocol was disconnected");
            return false;
        }
        if (h.get("version").asInt() != AdminProtocol.VERSION) {
            send(out, error(null, DriverError.INVALID_INPUT, "admin protocol version " + h.get("version").asInt()
                    + " is not supported; this daemon speaks version " + AdminProtocol.VERSION + " (use a matching xenhost)"));
            return false;
        }
        ObjectNode reply = AdminProtocol.JSON.createObjectNode();
        reply.put("protocol", AdminProtocol.NAME);
        reply.put("version", AdminProtocol.VERSION);
        send(out, reply);
        return true;
    }

    /** Handles one request; false closes the connection (protocol violation). */
    private boolean request(String line, OutputStream out) throws IOException {
        JsonNode req = parse(line);
        if (req == null || !req.path("id").canConvertToLong() || !req.path("op").isTextual()) {
            send(out, error(null, DriverError.INVALID_INPUT, "malformed request; closing"));
            return false;
        }
        long id = req.get("id").asLong();
        Method op = AdminProtocol.OPS.get(req.get("op").asText());
        JsonNode args = req.path("args");
        if (op == null) {
            send(out, error(id, DriverError.INVALID_INPUT, "unknown operation '" + req.get("op").asText() + "'"));
            return true;
        }
        if (!args.isArray() || args.size() != op.getParameterCount()) {
            send(out, error(id, DriverError.INVALID_INPUT, op.getName() + " takes " + op.getParameterCount() + " arguments"));
            return true;
        }
        Object[] values = new Object[op.getParameterCount()];
        Type[] types = op.getGenericParameterTypes();
        try {
            for (int i = 0; i < values.length; i++) {
                values[i] = AdminProtocol.JSON.convertValue(args.get(i),
                        AdminProtocol.JSON.getTypeFactory().constructType(types[i]));
            }
        } catch (IllegalArgumentException e) {
            send(out, error(id, DriverError.INVALID_INPUT, "bad arguments for " + op.getName()));
            return true;
        }
        ObjectNode reply;
        try {
            Object result = op.invoke(driver, values);
            reply = AdminProtocol.JSON.createObjectNode();
            reply.put("id", id);
            reply.put("ok", true);
            reply.set("result", AdminProtocol.JSON.valueToTree(result));
        } catch (InvocationTargetException e) {
            reply = failure(id, op, e.getCause());
        } catch (IllegalAccessException e) {
            reply = failure(id, op, e);
        }
        send(out, reply);
        return true;
    }

    private ObjectNode failure(long id, Method op, Throwable t) {
        if (t instanceof DriverException d) {
            return error(id, d.error(), d.getMessage());
        }
        if (t instanceof IllegalArgumentException) {
            return error(id, DriverError.INVALID_INPUT, t.getMessage());
        }
        log.error("admin operation {} failed unexpectedly", op.getName(), t);
        return error(id, DriverError.FAILED, op.getName() + " failed: " + (t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage()));
    }

    private static ObjectNode error(Long id, DriverError kind, String message) {
        ObjectNode o = AdminProtocol.JSON.createObjectNode();
        if (id != null) {
            o.put("id", id);
        }
        o.put("ok", false);
        o.put("error", kind.name());
        o.put("message", message);
        return o;
    }

    private static JsonNode parse(String line) {
        try {
            JsonNode n = AdminProtocol.JSON.readTree(line);
            return n != null && n.isObject() ? n : null;
        } catch (IOException e) {
            return null;
        }
    }

    private static void send(OutputStream out, JsonNode msg) throws IOException {
        out.write((msg.toString() + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static void closeQuietly(SocketChannel c) {
        try {
            c.close();
        } catch (IOException ignored) {
            // already gone
        }
    }

    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
        for (SocketChannel c : open) {
            closeQuietly(c);
        }
        connections.shutdownNow();
        try {
            acceptor.join(2000);
            Files.deleteIfExists(socketPath);
        } catch (IOException | InterruptedException e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
