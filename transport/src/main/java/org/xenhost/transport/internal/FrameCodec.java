package org.xenhost.transport.internal;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.CorruptedFrameException;
import org.xenhost.transport.ControlMessage;

import java.nio.charset.StandardCharsets;
import java.util.List;

/** Encoder and decoder of {@link Frame}s. */
final class FrameCodec {
    private FrameCodec() {
    }

    /**
     * Splits the decrypted byte stream into frames. DATA payloads are passed on as they arrive (slices of the
     * received buffers, no copy and no waiting for the whole frame); other frames are decoded once complete.
     */
    static final class Decoder extends ByteToMessageDecoder {
        private final int maxFrame;
        private int dataRemaining = -1;
        private int dataStream;

        Decoder(int maxFrame) {
            this.maxFrame = maxFrame;
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
            if (dataRemaining > 0) {
                int n = Math.min(dataRemaining, in.readableBytes());
                out.add(new Frame.Data(dataStream, in.readRetainedSlice(n)));
                dataRemaining -= n;
                return;
            }
            if (in.readableBytes() < Frame.HEADER) {
                return;
            }
            int start = in.readerIndex();
            long length = in.getUnsignedInt(start);
            byte type = in.getByte(start + 4);
            int id = in.getInt(start + 6);
            if (type == Frame.DATA) {
                if (length > maxFrame) {
                    throw new CorruptedFrameException("DATA frame of " + length + " bytes exceeds the maximum of " + maxFrame);
                }
                in.skipBytes(Frame.HEADER);
                dataStream = id;
                dataRemaining = (int) length;
                if (length == 0) {
                    dataRemaining = -1;
                }
                return;
            }
            if (length > Frame.MAX_CONTROL_PAYLOAD) {
                throw new CorruptedFrameException("frame type " + type + " of " + length + " bytes exceeds the maximum of "
                        + Frame.MAX_CONTROL_PAYLOAD);
            }
            if (in.readableBytes() < Frame.HEADER + length) {
                return;
            }
            in.skipBytes(Frame.HEADER);
            ByteBuf p = in.readSlice((int) length);
            out.add(switch (type) {
                case Frame.HELLO -> {
                    if (length < 20 || p.readInt() != Frame.Hello.MAGIC) {
                        throw new CorruptedFrameException("peer did not greet with the xenhost transport hello");
                    }
                    yield new Frame.Hello(p.readUnsignedShort(), p.readUnsignedShort(), p.readInt(), p.readInt());
                }
                case Frame.CONTROL -> {
                    int tl = p.readUnsignedByte();
                    String t = p.readCharSequence(tl, StandardCharsets.US_ASCII).toString();
                    int v = p.readUnsignedShort();
                    byte[] body = new byte[p.readableBytes()];
                    p.readBytes(body);
                    try {
                        yield new Frame.Control(new ControlMessage(t, v, body));
                    } catch (IllegalArgumentException e) {
                        throw new CorruptedFrameException("bad control message: " + e.getMessage());
                    }
                }
                case Frame.STREAM_OPEN -> new Frame.StreamOpen(id, p.toString(StandardCharsets.UTF_8));
                case Frame.WINDOW_UPDATE -> new Frame.WindowUpdate(id, p.readInt());
                case Frame.STREAM_END -> new Frame.StreamEnd(id);
                case Frame.STREAM_RESET -> new Frame.StreamReset(id, p.toString(StandardCharsets.UTF_8));
                case Frame.PING -> new Frame.Ping(p.readLong());
                case Frame.GO_AWAY -> new Frame.GoAway(p.toString(StandardCharsets.UTF_8));
                default -> throw new CorruptedFrameException("unknown frame type " + type);
            });
        }
    }

    /** Writes frames; a DATA payload goes out as its own buffer behind a small header (no copy). */
    static final class Encoder extends ChannelOutboundHandlerAdapter {
        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            if (msg instanceof Frame.Data d) {
                ByteBuf h = ctx.alloc().directBuffer(Frame.HEADER);
                h.writeInt(d.content().readableBytes()).writeByte(Frame.DATA).writeByte(0).writeInt(d.id());
                ctx.write(h, ctx.voidPromise());
                ctx.write(d.content(), promise);
                return;
            }
            if (!(msg instanceof Frame f)) {
                ctx.write(msg, promise);
                return;
            }
            ByteBuf b = ctx.alloc().directBuffer(64);
            b.writerIndex(Frame.HEADER);
            byte type;
            int id = 0;
            // (pattern switch is a preview feature on Java 17, hence the instanceof chain)
            if (f instanceof Frame.Hello h) {
                type = Frame.HELLO;
                b.writeInt(Frame.Hello.MAGIC).writeShort(h.minVersion()).writeShort(h.maxVersion())
                        .writeInt(h.streamWindow()).writeInt(h.maxFrameSize()).writeInt(0);
            } else if (f instanceof Frame.Control c) {
                type = Frame.CONTROL;
                ControlMessage m = c.message();
                b.writeByte(m.type().length()).writeCharSequence(m.type(), StandardCharsets.US_ASCII);
                b.writeShort(m.version()).writeBytes(m.body());
            } else if (f instanceof Frame.StreamOpen o) {
                type = Frame.STREAM_OPEN;
                id = o.id();
                b.writeCharSequence(o.label(), StandardCharsets.UTF_8);
            } else if (f instanceof Frame.WindowUpdate w) {
                type = Frame.WINDOW_UPDATE;
                id = w.id();
                b.writeInt(w.increment());
            } else if (f instanceof Frame.StreamEnd e) {
                type = Frame.STREAM_END;
                id = e.id();
            } else if (f instanceof Frame.StreamReset r) {
                type = Frame.STREAM_RESET;
                id = r.id();
                b.writeCharSequence(bounded(r.reason()), StandardCharsets.UTF_8);
            } else if (f instanceof Frame.Ping p) {
                type = Frame.PING;
                b.writeLong(p.nanos());
            } else if (f instanceof Frame.GoAway g) {
                type = Frame.GO_AWAY;
                b.writeCharSequence(bounded(g.reason()), StandardCharsets.UTF_8);
            } else {
                throw new AssertionError("unhandled frame " + f);
            }
            b.setInt(0, b.readableBytes() - Frame.HEADER).setByte(4, type).setByte(5, 0).setInt(6, id);
            ctx.write(b, promise);
        }

        private static String bounded(String s) {
            return s.length() > 1024 ? s.substring(0, 1024) : s;
        }
    }
}
