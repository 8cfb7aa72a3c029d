package org.xenhost.libxl.stream;

/**
 * The 16-byte libxl stream header (always big-endian): ident "LibxlFmt", version, options.
 *
 * @param version the libxl stream version; only 2 exists
 * @param options bit 0 big-endian, bit 1 converted from a legacy stream; other bits reserved
 */
public record LibxlHeader(int version, int options) implements StreamRecord {
    /** What libxl 4.17 writes on x86: version 2, little-endian, not legacy. */
    public static final LibxlHeader CURRENT = new LibxlHeader(Wire.LIBXL_VERSION, 0);

    public LibxlHeader {
        if (version != Wire.LIBXL_VERSION) {
            throw new IllegalArgumentException("libxl stream version must be 2, not " + version);
        }
        if ((options & ~Wire.LIBXL_OPT_LEGACY) != 0) {
            throw new IllegalArgumentException("unsupported libxl header options 0x" + Integer.toHexString(options)
                    + " (only the legacy bit may be set; big-endian streams are not supported)");
        }
    }

    /** Whether the stream was produced by Xen's legacy-stream conversion tool. */
    public boolean legacy() {
        return (options & Wire.LIBXL_OPT_LEGACY) != 0;
    }

    @Override
    public String label() {
        return "libxl header";
    }
}
