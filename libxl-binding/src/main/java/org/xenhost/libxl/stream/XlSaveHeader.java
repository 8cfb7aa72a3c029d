package org.xenhost.libxl.stream;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The header {@code xl save} (and {@code xl migrate}) writes before the libxl stream ({@code struct
 * save_file_header} in xl.h): 32-byte magic, byte-order mark, mandatory and optional flags, then optional data
 * holding the domain configuration as JSON. The libxl stream follows directly, without padding.
 *
 * @param mandatoryFlags bit 0: JSON config present; bit 1: libxl stream v2 follows (xl 4.6+ always sets both)
 * @param optionalFlags  no optional flag is defined
 * @param configJson     the JSON domain configuration without its trailing NUL, or {@code null} if absent
 */
public record XlSaveHeader(int mandatoryFlags, int optionalFlags, byte[] configJson) {
    /** The magic, with its embedded NUL and CR, exactly 32 bytes. */
    static final byte[] MAGIC = "Xen saved domain, xl format\n \0 \r".getBytes(StandardCharsets.ISO_8859_1);
    public static final int FLAG_CONFIG_JSON = 1;
    public static final int FLAG_STREAM_V2 = 2;
    static final int FIXED_BYTES = 48;
    /** Longest optional data this reader accepts (a domain config is a few KiB). */
    public static final int OPTIONAL_DATA_MAX = 16 << 20;

    public XlSaveHeader {
        if ((mandatoryFlags & ~(FLAG_CONFIG_JSON | FLAG_STREAM_V2)) != 0) {
            throw new IllegalArgumentException("unknown mandatory flags 0x" + Integer.toHexString(mandatoryFlags));
        }
        if (optionalFlags != 0) {
            throw new IllegalArgumentException("no optional flags are defined, got 0x"
                    + Integer.toHexString(optionalFlags));
        }
        if (((mandatoryFlags & FLAG_CONFIG_JSON) != 0) != (configJson != null)) {
            throw new IllegalArgumentException("the JSON config flag must be set exactly when a config is given");
        }
    }

    /** A header as {@code xl save} writes it: JSON config and a libxl v2 stream. */
    public static XlSaveHeader forConfig(String configJson) {
        if (configJson.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("domain config JSON contains a NUL byte");
        }
        return new XlSaveHeader(FLAG_CONFIG_JSON | FLAG_STREAM_V2, 0, configJson.getBytes(StandardCharsets.UTF_8));
    }

    /** The domain configuration, or {@code null}. */
    public String config() {
        return configJson == null ? null : new String(configJson, StandardCharsets.UTF_8);
    }

    /** Whether a libxl v2 stream follows (otherwise a pre-4.6 legacy stream, which is not supported). */
    public boolean streamV2() {
        return (mandatoryFlags & FLAG_STREAM_V2) != 0;
    }

    /** Bytes this header occupies; the libxl stream starts at this file offset. */
    public int encodedLength() {
        return FIXED_BYTES + optionalDataLength();
    }

    private int optionalDataLength() {
        return configJson == null ? 0 : 4 + configJson.length + 1;
    }

    /** The header's bytes, byte-order mark and integers little-endian as on x86. */
    public byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(encodedLength()).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).putInt(0x01020304).putInt(mandatoryFlags).putInt(optionalFlags).putInt(optionalDataLength());
        if (configJson != null) {
            b.putInt(configJson.length + 1).put(configJson).put((byte) 0);
        }
        return b.array();
    }

    public void write(OutputStream out) throws IOException {
        out.write(encode());
    }

    /** Reads and checks a header as xl does (magic, byte order, flags, truncation); offsets start at 0. */
    public static XlSaveHeader read(InputStream in) throws IOException {
        return read(new ByteSource(in, 0));
    }

    static XlSaveHeader read(ByteSource src) throws IOException {
        final String what = "xl save-file header";
        long start = src.offset();
        byte[] fixed = new byte[FIXED_BYTES];
        int n = src.read(fixed, 0, FIXED_BYTES);
        if (n >= MAGIC.length && !Arrays.equals(fixed, 0, MAGIC.length, MAGIC, 0, MAGIC.length)
                || n < MAGIC.length && !Arrays.equals(fixed, 0, n, MAGIC, 0, n)) {
            throw new StreamFormatException(start, start, what, "wrong magic: this is not a file written by"
                    + " 'xl save' (it must start with \"Xen saved domain, xl format\")");
        }
        if (n < FIXED_BYTES) {
            throw new StreamTruncatedException(src.offset(), start, what, FIXED_BYTES - n);
        }
        ByteBuffer b = ByteBuffer.wrap(fixed).order(ByteOrder.LITTLE_ENDIAN);
        int byteOrder = b.getInt(32);
        if (byteOrder == 0x04030201) {
            throw new StreamFormatException(start + 32, start, what,
                    "the file was saved on a big-endian host; only little-endian (x86) save files are supported");
        }
        if (byteOrder != 0x01020304) {
            throw new StreamFormatException(start + 32, start, what,
                    "byte-order mark is 0x" + Integer.toHexString(byteOrder) + ", expected 0x01020304");
        }
        int mandatory = b.getInt(36);
        if ((mandatory & ~(FLAG_CONFIG_JSON | FLAG_STREAM_V2)) != 0) {
            throw new StreamFormatException(start + 36, start, what, "unknown mandatory flags 0x"
                    + Integer.toHexString(mandatory) + ": the file needs a newer xl than 4.17 to restore");
        }
        int optional = b.getInt(40);
        if (optional != 0) {
            throw new StreamFormatException(start + 40, start, what, "unknown optional flags 0x"
                    + Integer.toHexString(optional));
        }
        long optionalLength = b.getInt(44) & 0xFFFFFFFFL;
        if (optionalLength > OPTIONAL_DATA_MAX) {
            throw new StreamFormatException(start + 44, start, what, "optional data of " + optionalLength
                    + " bytes exceeds the " + OPTIONAL_DATA_MAX + "-byte limit (a domain config is a few KiB)");
        }
        byte[] optionalData = readGrowing(src, (int) optionalLength, start, what);
        byte[] config = null;
        if ((mandatory & FLAG_CONFIG_JSON) != 0) {
            if (optionalLength < 4) {
                throw new StreamFormatException(start + 44, start, what,
                        "the JSON config flag is set but the optional data cannot hold a config length");
            }
            long configLength = ByteBuffer.wrap(optionalData).order(ByteOrder.LITTLE_ENDIAN).getInt(0) & 0xFFFFFFFFL;
            if (configLength < 1 || configLength > optionalLength - 4) {
                throw new StreamFormatException(start + FIXED_BYTES, start, what, "config length " + configLength
                        + " does not fit the " + (optionalLength - 4) + " bytes of optional data that follow it");
            }
            if (optionalData[(int) (4 + configLength - 1)] != 0) {
                throw new StreamFormatException(start + FIXED_BYTES + 4 + configLength - 1, start, what,
                        "the JSON config is not NUL-terminated");
            }
            config = Arrays.copyOfRange(optionalData, 4, (int) (4 + configLength - 1));
        }
        if ((mandatory & FLAG_STREAM_V2) == 0) {
            throw new StreamFormatException(start + 36, start, what, "the STREAMv2 flag is clear: the file holds a"
                    + " legacy (Xen < 4.6) stream, which is not supported");
        }
        return new XlSaveHeader(mandatory, optional, config);
    }

    /** Reads {@code len} bytes, allocating only as much as actually arrives. */
    static byte[] readGrowing(ByteSource src, int len, long recordStart, String what) throws IOException {
        final int step = 1 << 20;
        byte[] out = new byte[Math.min(len, step)];
        int done = 0;
        while (done < len) {
            if (done == out.length) {
                out = Arrays.copyOf(out, (int) Math.min(len, (long) out.length * 2));
            }
            int want = out.length - done;
            int n = src.read(out, done, want);
            done += n;
            if (n < want) {
                throw new StreamTruncatedException(src.offset(), recordStart, what, len - done);
            }
        }
        return out;
    }
}
