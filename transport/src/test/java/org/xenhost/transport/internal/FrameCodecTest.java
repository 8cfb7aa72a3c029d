package org.xenhost.transport.internal;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import org.junit.jupiter.api.Test;
import org.xenhost.transport.ControlMessage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The wire format, through Netty's EmbeddedChannel: round trips, streaming of DATA, and the hard size limits. */
class FrameCodecTest {
    private static final int MAX = 64 * 1024;

    private static ByteBuf encode(Frame f) {
        EmbeddedChannel out = new EmbeddedChannel(new FrameCodec.Encoder());
        out.writeOutbound(f);
        ByteBuf all = Unpooled.buffer();
        for (ByteBuf b; (b = out.readOutbound()) != null; ) {
            all.writeBytes(b);
            b.release();
        }
        return all;
    }

    @Test
    void controlFramesRoundTrip() {
        EmbeddedChannel in = new EmbeddedChannel(new FrameCodec.Decoder(MAX));
        byte[] body = {7, 8, 9};
        in.writeInbound(encode(new Frame.Control(new ControlMessage("migration.ready", 4, body))));
        in.writeInbound(encode(new Frame.WindowUpdate(5, 12345)));
        Frame.Control c = in.readInbound();
        assertEquals("migration.ready", c.message().type());
        assertEquals(4, c.message().version());
        assertArrayEquals(body, c.message().body());
        assertEquals(new Frame.WindowUpdate(5, 12345), in.readInbound());
    }

    @Test
    void dataIsPassedOnAsItArrives() {
        EmbeddedChannel in = new EmbeddedChannel(new FrameCodec.Decoder(MAX));
        ByteBuf wire = encode(new Frame.Data(3, Unpooled.wrappedBuffer(new byte[1000])));
        in.writeInbound(wire.readRetainedSlice(10 + 400));
        in.writeInbound(wire.readRetainedSlice(600));
        wire.release();
        Frame.Data a = in.readInbound();
        Frame.Data b = in.readInbound();
        assertEquals(3, a.id());
        assertEquals(400, a.content().readableBytes());
        assertEquals(600, b.content().readableBytes());
        a.release();
        b.release();
    }

    @Test
    void anOversizedFrameIsAProtocolError() {
        EmbeddedChannel in = new EmbeddedChannel(new FrameCodec.Decoder(MAX));
        ByteBuf header = Unpooled.buffer().writeInt(MAX + 1).writeByte(Frame.DATA).writeByte(0).writeInt(1);
        DecoderException e = assertThrows(DecoderException.class, () -> in.writeInbound(header));
        assertTrue(e.getMessage().contains("exceeds the maximum"), e.getMessage());
        EmbeddedChannel in2 = new EmbeddedChannel(new FrameCodec.Decoder(MAX));
        ByteBuf control = Unpooled.buffer().writeInt(Frame.MAX_CONTROL_PAYLOAD + 1).writeByte(Frame.CONTROL).writeByte(0).writeInt(0);
        assertThrows(DecoderException.class, () -> in2.writeInbound(control));
    }

    @Test
    void aForeignGreetingIsRefused() {
        EmbeddedChannel in = new EmbeddedChannel(new FrameCodec.Decoder(MAX));
        ByteBuf bad = Unpooled.buffer().writeInt(20).writeByte(Frame.HELLO).writeByte(0).writeInt(0).writeBytes(new byte[20]);
        DecoderException e = assertThrows(DecoderException.class, () -> in.writeInbound(bad));
        assertTrue(e.getMessage().contains("hello"), e.getMessage());
    }
}
