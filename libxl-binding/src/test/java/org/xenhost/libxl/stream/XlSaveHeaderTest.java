package org.xenhost.libxl.stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

/** The xl save-file header, byte for byte as xl.h lays it out, and xl's checks on it. */
class XlSaveHeaderTest {

    @Test
    void layoutIsXlsOwn() {
        String json = "{\"c_info\":{\"name\":\"vm1\"}}";
        byte[] b = XlSaveHeader.forConfig(json).encode();
        assertArrayEquals("Xen saved domain, xl format\n \0 \r".getBytes(StandardCharsets.ISO_8859_1),
                java.util.Arrays.copyOf(b, 32));
        assertArrayEquals(new byte[] {4, 3, 2, 1}, java.util.Arrays.copyOfRange(b, 32, 36), "0x01020304 on x86");
        assertEquals(3, b[36], "JSON config + STREAMv2, as xl writes");
        assertEquals(0, b[40]);
        int configLength = json.length() + 1;
        assertEquals(4 + configLength, b[44]);
        assertEquals(configLength, b[48]);
        assertEquals(0, b[b.length - 1], "config is NUL-terminated");
        assertEquals(48 + 4 + configLength, b.length);
    }

    @Test
    void readsBackWhatItWrote() throws IOException {
        XlSaveHeader h = XlSaveHeader.forConfig("{\"x\":\"ünïcode\"}");
        XlSaveHeader back = XlSaveHeader.read(new ByteArrayInputStream(h.encode()));
        assertEquals("{\"x\":\"ünïcode\"}", back.config());
        assertEquals(h.mandatoryFlags(), back.mandatoryFlags());
        assertEquals(h.encodedLength(), back.encodedLength());
    }

    @Test
    void headerWithoutConfigHasNoOptionalData() throws IOException {
        XlSaveHeader h = new XlSaveHeader(XlSaveHeader.FLAG_STREAM_V2, 0, null);
        assertEquals(48, h.encode().length);
        assertNull(XlSaveHeader.read(new ByteArrayInputStream(h.encode())).config());
    }

    @Test
    void rejectsWhatXlRejects() {
        byte[] good = XlSaveHeader.forConfig("{}").encode();
        assertProblem(mutate(good, 3, 'X'), 0, "wrong magic");
        assertProblem(mutate(good, 32, 1), 32, "byte-order mark");
        byte[] bigEndian = good.clone();
        bigEndian[32] = 1; bigEndian[33] = 2; bigEndian[34] = 3; bigEndian[35] = 4;
        assertProblem(bigEndian, 32, "big-endian host");
        assertProblem(mutate(good, 36, 7), 36, "newer xl");
        assertProblem(mutate(good, 36, 1), 36, "legacy");
        assertProblem(mutate(good, 40, 1), 40, "optional flags");
        assertProblem(mutate(good, 47, 0x7f), 44, "exceeds");
        assertProblem(mutate(good, 48, 100), 48, "config length 100");
        assertProblem(mutate(good, good.length - 1, 'x'), good.length - 1, "not NUL-terminated");
        StreamFormatException e = assertThrows(StreamTruncatedException.class,
                () -> XlSaveHeader.read(new ByteArrayInputStream(good, 0, good.length - 1)));
        assertEquals(good.length - 1, e.offset());
        assertThrows(StreamTruncatedException.class, () -> XlSaveHeader.read(new ByteArrayInputStream(good, 0, 20)));
    }

    private static byte[] mutate(byte[] b, int at, int value) {
        byte[] m = b.clone();
        m[at] = (byte) value;
        return m;
    }

    private static void assertProblem(byte[] header, long offset, String text) {
        StreamFormatException e = assertThrows(StreamFormatException.class,
                () -> XlSaveHeader.read(new ByteArrayInputStream(header)));
        assertEquals(offset, e.offset(), e.getMessage());
        assertTrue(e.getMessage().contains(text), e.getMessage());
        assertEquals("xl save-file header", e.record());
    }
}
