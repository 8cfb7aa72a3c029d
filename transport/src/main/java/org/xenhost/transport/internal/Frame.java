package org.xenhost.transport.internal;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.DefaultByteBufHolder;
import org.xenhost.transport.ControlMessage;

/**
 * The frames of transport protocol version 1. On the wire every frame is a 10-byte header
 * {@code u32 payload length | u8 type | u8 flags (0) | u32 stream id} followed by the payload (big endian).
 * Payloads never exceed the receiver's announced maximum frame size; non-data frames are also bounded by
 * {@link #MAX_CONTROL_PAYLOAD}.
 */
public sealed interface Frame {
    /** Header length in bytes. */
    int HEADER = 10;
    /** Bound on the payload of every frame other than DATA. */
    int MAX_CONTROL_PAYLOAD = ControlMessage.MAX_BODY + 256;

    byte HELLO = 1, CONTROL = 2, STREAM_OPEN = 3, DATA = 4, WINDOW_UPDATE = 5, STREAM_END = 6, STREAM_RESET = 7,
            PING = 8, GO_AWAY = 9;

    /** First frame each side sends after TLS: magic "XHTP", supported protocol versions, receive limits. */
    record Hello(int minVersion, int maxVersion, int streamWindow, int maxFrameSize) implements Frame {
        public static final int MAGIC = 0x58485450; // "XHTP"
    }

    /** A versioned application control message. */
    record Control(ControlMessage message) implements Frame {
    }

    /** Opens one-way stream {@code id} from the sender of this frame. */
    record StreamOpen(int id, String label) implements Frame {
    }

    /** The receiver consumed {@code increment} more bytes of stream {@code id}: the sender may send that much more. */
    record WindowUpdate(int id, int increment) implements Frame {
    }

    /** Clean end of stream {@code id}. */
    record StreamEnd(int id) implements Frame {
    }

    /** Stream {@code id} is abandoned, by its sender (incomplete data) or its receiver (stop sending). */
    record StreamReset(int id, String reason) implements Frame {
    }

    /** Keepalive; any received byte proves the peer alive, so it has no answer. */
    record Ping(long nanos) implements Frame {
    }

    /** The sender closes the connection for the given reason. */
    record GoAway(String reason) implements Frame {
    }

    /** A piece of stream data; holds one reference to its buffer. */
    final class Data extends DefaultByteBufHolder implements Frame {
        private final int id;

        public Data(int id, ByteBuf data) {
            super(data);
            this.id = id;
        }

        public int id() {
            return id;
        }
    }
}
