package org.xenhost.transport;

import java.util.Arrays;
import java.util.regex.Pattern;

/**
 * One control message between two daemons: a type name, the version of that type's body layout, and an opaque
 * body that the owning module encodes (for example migration's prepare/ready/clear-to-unpause messages).
 * The transport checks the bounds and carries the body untouched; a receiver that meets a type or version it
 * does not know answers with its own error message rather than guessing.
 *
 * @param type    lower-case name, 1-64 characters of {@code a-z 0-9 . _ -}, e.g. {@code migration.prepare}
 * @param version version of the body layout, 1-65535
 * @param body    the encoded body, at most {@link #MAX_BODY} bytes (copied on the way in and out)
 */
public record ControlMessage(String type, int version, byte[] body) {
    /** Largest body a control message may carry; bulk data goes through streams. */
    public static final int MAX_BODY = 64 * 1024;
    private static final Pattern TYPE = Pattern.compile("[a-z0-9][a-z0-9._-]{0,63}");

    public ControlMessage {
        if (type == null || !TYPE.matcher(type).matches()) {
            throw new IllegalArgumentException("control message type '" + type + "' is invalid: use 1-64 characters of a-z 0-9 . _ -");
        }
        if (version < 1 || version > 0xFFFF) {
            throw new IllegalArgumentException("control message version must be 1-65535, got " + version);
        }
        if (body == null) {
            body = new byte[0];
        }
        if (body.length > MAX_BODY) {
            throw new IllegalArgumentException("control message '" + type + "' body is " + body.length
                    + " bytes, more than the " + MAX_BODY + " allowed; send bulk data through a stream");
        }
        body = body.clone();
    }

    @Override
    public byte[] body() {
        return body.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ControlMessage m && m.type.equals(type) && m.version == version && Arrays.equals(m.body, body);
    }

    @Override
    public int hashCode() {
        return type.hashCode() * 31 + version * 17 + Arrays.hashCode(body);
    }

    @Override
    public String toString() {
        return "ControlMessage[" + type + " v" + version + ", " + body.length + " bytes]";
    }
}
