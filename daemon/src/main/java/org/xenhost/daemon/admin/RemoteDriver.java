package org.xenhost.daemon.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.xenhost.driver.api.Driver;
import org.xenhost.driver.api.DriverError;
import org.xenhost.driver.api.DriverException;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A {@link Driver} whose every call goes to xenhostd over its admin socket; the CLI uses it exactly as the
 * daemon uses its in-process driver. One connection per call keeps concurrent callers independent.
 */
public final class RemoteDriver {
    private RemoteDriver() {
    }

    /** A Driver talking to the daemon at {@code socket}. Nothing connects until the first call. */
    public static Driver connect(Path socket) {
        AtomicLong ids = new AtomicLong();
        return (Driver) Proxy.newProxyInstance(Driver.class.getClassLoader(), new Class<?>[] {Driver.class},
                (proxy, method, args) -> {
                    switch (method.getName()) {
                        case "close":
                            return null;
                        case "toString":
                            return "RemoteDriver[" + socket + "]";
                        case "hashCode":
                            return System.identityHashCode(proxy);
                        case "equals":
                            return proxy == args[0];
                        default:
                            return call(socket, ids.incrementAndGet(), method, args == null ? new Object[0] : args);
                    }
                });
    }

    private static Object call(Path socket, long id, Method method, Object[] args) {
        try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            try {
                c.connect(UnixDomainSocketAddress.of(socket));
            } catch (IOException e) {
                throw new DriverException(DriverError.FAILED, "cannot reach xenhostd at " + socket + " (" + e.getMessage()
                        + "); is the daemon running? start it with 'xenhost daemon', or pass -c PATH");
            }
            InputStream in = new BufferedInputStream(Channels.newInputStream(c));
            OutputStream out = Channels.newOutputStream(c);
            ObjectNode hello = AdminProtocol.JSON.createObjectNode();
            hello.put("protocol", AdminProtocol.NAME);
            hello.put("version", AdminProtocol.VERSION);
            send(out, hello);
            JsonNode h = read(in, socket);
            if (!h.path("protocol").asText().equals(AdminProtocol.NAME)) {
                throw fromReply(h);
            }
            ObjectNode req = AdminProtocol.JSON.createObjectNode();
            req.put("id", id);
            req.put("op", method.getName());
            ArrayNode a = req.putArray("args");
            for (Object arg : args) {
                a.add(AdminProtocol.JSON.valueToTree(arg));
            }
            send(out, req);
            while (true) {
                JsonNode reply = read(in, socket);
                if (reply.has("event")) {
                    continue; // progress events: shown by callers that ask for them (later)
                }
                if (!reply.path("ok").asBoolean(false)) {
                    throw fromReply(reply);
                }
                if (method.getReturnType() == void.class) {
                    return null;
                }
                return AdminProtocol.JSON.convertValue(reply.get("result"),
                        AdminProtocol.JSON.getTypeFactory().constructType(method.getGenericReturnType()));
            }
        } catch (IOException e) {
            throw new DriverException(DriverError.FAILED, "lost the connection to xenhostd at " + socket + ": " + e.getMessage());
        }
    }

    private static DriverException fromReply(JsonNode reply) {
        DriverError kind;
        try {
            kind = DriverError.valueOf(reply.path("error").asText("FAILED"));
        } catch (IllegalArgumentException e) {
            kind = DriverError.FAILED;
        }
        return new DriverException(kind, reply.path("message").asText("xenhostd refused the request"));
    }

    private static JsonNode read(InputStream in, Path socket) throws IOException {
        String line = AdminProtocol.readLine(in);
        if (line == null) {
            throw new IOException("xenhostd closed the connection");
        }
        return AdminProtocol.JSON.readTree(line);
    }

    private static void send(OutputStream out, JsonNode msg) throws IOException {
        out.write((msg.toString() + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }
}
