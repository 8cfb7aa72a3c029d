package org.xenhost.libxl.stream;

/** Constants of the on-wire format shared by reader, writer and tap (values from Xen's stream format headers). */
final class Wire {
    private Wire() {
    }

    static final long LIBXL_IDENT = 0x4c6962786c466d74L; // "LibxlFmt"
    static final int LIBXL_VERSION = 2;
    static final int LIBXL_HEADER_BYTES = 16;
    static final int LIBXL_OPT_BIG_ENDIAN = 1;
    static final int LIBXL_OPT_LEGACY = 2;

    static final long IHDR_MARKER = 0xFFFFFFFFFFFFFFFFL;
    static final int IHDR_ID = 0x58454E46; // "XENF"
    static final int IHDR_BYTES = 24;
    static final int IHDR_OPT_BIG_ENDIAN = 1;
    static final int DHDR_BYTES = 16;

    static final int RECORD_HEADER_BYTES = 8;
    /** libxenguest's REC_LENGTH_MAX: no record body may be longer. */
    static final int REC_LENGTH_MAX = 128 << 20;

    static final int PAGE_SHIFT = 12;
    static final int PAGE_SIZE = 1 << PAGE_SHIFT;
    /** libxenguest's MAX_BATCH_SIZE: pfns per PAGE_DATA record written by the saver. */
    static final int MAX_BATCH_PFNS = 1024;
    static final long PFN_MASK = (1L << 52) - 1;
    static final long PFN_RESERVED_MASK = ((1L << 60) - 1) & ~PFN_MASK;
    static final int TYPE_SHIFT = 60;
    /** Largest pfn that fits the 52-bit field, plus one. */
    static final long PFN_LIMIT = 1L << 52;

    /** Zero bytes after a body of {@code length} bytes so the record ends on an 8-byte boundary. */
    static int padding(long length) {
        return (int) (-length & 7);
    }
}
