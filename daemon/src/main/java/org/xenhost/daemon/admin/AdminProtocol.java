package org.xenhost.daemon.admin;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import org.xenhost.driver.api.Driver;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;

/**
 * The admin protocol between the {@code xenhost} CLI and xenhostd, over a UNIX stream socket.
 *
 * <p>Messages are JSON objects, one per line, at most {@link #MAX_LINE} bytes.
 * <pre>
 *   client: {"protocol":"xenhost-admin","version":1}
 *   server: {"protocol":"xenhost-admin","version":1}                 (or an error and close)
 *   client: {"id":1,"op":"list","args":[true]}                        one request per connection turn
 *   server: {"id":1,"event":{...}}                                     zero or more progress events
 *   server: {"id":1,"ok":true,"result":...}                            or
 *           {"id":1,"ok":false,"error":"NOT_FOUND","message":"..."}
 * </pre>
 * {@code op} is the name of a {@link Driver} method and {@code args} its arguments in order; the version
 * changes whenever an operation's meaning changes. Anything that is not the protocol closes the connection;
 * it never affects the daemon or other connections.
 */
public final class AdminProtocol {
    public static final String NAME = "xenhost-admin";
    public static final int VERSION = 1;
    /** Requests and replies are small; a larger line is not ours. */
    public static final int MAX_LINE = 1 << 20;

    static final ObjectMapper JSON = new ObjectMapper()
            .registerModule(new JavaTimeModule())
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    /** Every operation: the Driver's methods by name (the interface has no overloads, so names are unique). */
    static final Map<String, Method> OPS = operations();

    private AdminProtocol() {
    }

    private static Map<String, Method> operations() {
        Map<String, Method> ops = new TreeMap<>();
        for (Method m : Driver.class.getMethods()) {
            if (Modifier.isStatic(m.getModifiers()) || m.getName().equals("close")) {
                continue;
            }
            if (ops.put(m.getName(), m) != null) {
                throw new IllegalStateException("Driver." + m.getName() + " is overloaded; the admin protocol names operations by method name");
            }
        }
        return Map.copyOf(ops);
    }

    /** Reads one line (without its newline); null at a clean end of stream. */
    static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream(256);
        while (true) {
            int b = in.read();
            if (b < 0) {
                if (buf.size() == 0) {
                    return null;
                }
                throw new IOException("connection closed in the middle of a message");
            }
            if (b == '\n') {
                return buf.toString(StandardCharsets.UTF_8);
            }
            if (buf.size() >= MAX_LINE) {
                throw new IOException("message longer than " + MAX_LINE + " bytes");
            }
            buf.write(b);
        }
    }
}
