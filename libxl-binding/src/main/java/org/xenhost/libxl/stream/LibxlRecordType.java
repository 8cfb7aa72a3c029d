package org.xenhost.libxl.stream;

/** Record types of the libxl layer ({@code libxl_sr_stream_format.h}). */
public enum LibxlRecordType {
    END(0),
    LIBXC_CONTEXT(1),
    EMULATOR_XENSTORE_DATA(2),
    EMULATOR_CONTEXT(3),
    CHECKPOINT_END(4),
    CHECKPOINT_STATE(5);

    private final int code;

    LibxlRecordType(int code) {
        this.code = code;
    }

    /** The 32-bit type as written in the record header. */
    public int code() {
        return code;
    }

    /** The type for a code, or {@code null} if libxl does not know it (libxl rejects such records, optional or not). */
    public static LibxlRecordType of(int code) {
        return code >= 0 && code < values().length ? values()[code] : null;
    }

    /** How records are named in error messages and logs. */
    public String label() {
        return "libxl " + name() + " record";
    }
}
