package org.xenhost.libxl.stream;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Records of the libxl layer. Byte arrays are held as given (not copied): treat them as immutable.
 */
public sealed interface LibxlRecord extends StreamRecord {

    /** The record's type code. */
    LibxlRecordType type();

    @Override
    default String label() {
        return type().label();
    }

    /** Which device model an emulator record belongs to (libxl's {@code emulator_id}). */
    enum Emulator {
        /** Streams converted from the legacy format. */
        UNKNOWN,
        QEMU_TRADITIONAL,
        QEMU_UPSTREAM;

        public int code() {
            return ordinal();
        }

        /** The emulator for a code, or {@code null} when unknown. */
        public static Emulator of(int code) {
            return code >= 0 && code < values().length ? values()[code] : null;
        }
    }

    /** The last record of the stream. */
    record End() implements LibxlRecord {
        @Override
        public LibxlRecordType type() {
            return LibxlRecordType.END;
        }
    }

    /** Marks that a libxc stream (image header onwards) follows inline. Its length is always 0. */
    record LibxcContext() implements LibxlRecord {
        @Override
        public LibxlRecordType type() {
            return LibxlRecordType.LIBXC_CONTEXT;
        }
    }

    /**
     * Xenstore keys of the device model ({@code key\0value\0...}), relative to its device-model directory.
     *
     * @param data the packed key/value bytes, empty or ending in NUL with an even number of strings
     */
    record EmulatorXenstoreData(Emulator emulator, int index, byte[] data) implements LibxlRecord {
        public EmulatorXenstoreData {
            if (emulator == null || data == null) {
                throw new IllegalArgumentException("emulator and data are required");
            }
        }

        /** Packs the entries in iteration order. */
        public static EmulatorXenstoreData of(Emulator emulator, int index, Map<String, String> entries) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            for (Map.Entry<String, String> e : entries.entrySet()) {
                for (String s : new String[] {e.getKey(), e.getValue()}) {
                    if (s.indexOf('\0') >= 0) {
                        throw new IllegalArgumentException("xenstore key/value contains NUL: " + s);
                    }
                    out.writeBytes(s.getBytes(StandardCharsets.US_ASCII));
                    out.write(0);
                }
            }
            return new EmulatorXenstoreData(emulator, index, out.toByteArray());
        }

        /** The key/value pairs, in stream order. */
        public Map<String, String> entries() {
            Map<String, String> entries = new LinkedHashMap<>();
            String key = null;
            int start = 0;
            for (int i = 0; i < data.length; i++) {
                if (data[i] == 0) {
                    String s = new String(data, start, i - start, StandardCharsets.US_ASCII);
                    if (key == null) {
                        key = s;
                    } else {
                        entries.put(key, s);
                        key = null;
                    }
                    start = i + 1;
                }
            }
            return entries;
        }

        @Override
        public LibxlRecordType type() {
            return LibxlRecordType.EMULATOR_XENSTORE_DATA;
        }
    }

    /** The device model's saved state: an opaque blob for QEMU. */
    record EmulatorContext(Emulator emulator, int index, byte[] context) implements LibxlRecord {
        public EmulatorContext {
            if (emulator == null || context == null) {
                throw new IllegalArgumentException("emulator and context are required");
            }
        }

        @Override
        public LibxlRecordType type() {
            return LibxlRecordType.EMULATOR_CONTEXT;
        }
    }

    /** Ends one checkpoint of a Remus/COLO stream. */
    record CheckpointEnd() implements LibxlRecord {
        @Override
        public LibxlRecordType type() {
            return LibxlRecordType.CHECKPOINT_END;
        }
    }

    /**
     * COLO control message.
     *
     * @param controlId 0 NEW, 1 SVM_SUSPENDED, 2 SVM_READY, 3 SVM_RESUMED
     */
    record CheckpointState(int controlId) implements LibxlRecord {
        @Override
        public LibxlRecordType type() {
            return LibxlRecordType.CHECKPOINT_STATE;
        }
    }
}
