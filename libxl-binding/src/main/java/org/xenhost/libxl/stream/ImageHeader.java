package org.xenhost.libxl.stream;

/**
 * The 24-byte libxc image header (always big-endian): marker, "XENF", version, options.
 *
 * @param version 2 or 3; Xen 4.17 writes 3 (which adds STATIC_DATA_END and the CPU policy records)
 */
public record ImageHeader(int version) implements StreamRecord {
    /** What libxenguest 4.17 writes. */
    public static final ImageHeader V3 = new ImageHeader(3);
    /** The format of Xen 4.6..4.13, still accepted by restorers. */
    public static final ImageHeader V2 = new ImageHeader(2);

    public ImageHeader {
        if (version < 2 || version > 3) {
            throw new IllegalArgumentException("libxc stream version must be 2 or 3, not " + version);
        }
    }

    @Override
    public String label() {
        return "libxc image header";
    }
}
