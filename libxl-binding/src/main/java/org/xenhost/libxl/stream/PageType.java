package org.xenhost.libxl.stream;

/**
 * The type nibble (bits 60..63) of a PAGE_DATA pfn entry: Xen's {@code XEN_DOMCTL_PFINFO_*} value shifted down.
 * Nibbles 5..8 are reserved and have no constant; a stream that uses them is rejected.
 */
public enum PageType {
    /** An ordinary page (every page of an HVM/PVH guest). */
    NOTAB(0x0),
    L1TAB(0x1),
    L2TAB(0x2),
    L3TAB(0x3),
    L4TAB(0x4),
    L1TAB_PIN(0x9),
    L2TAB_PIN(0xA),
    L3TAB_PIN(0xB),
    L4TAB_PIN(0xC),
    /** A broken page: no data. */
    BROKEN(0xD),
    /** Allocate only: no data. */
    XALLOC(0xE),
    /** Not populated (ballooned out or gone during live migration): no data. */
    XTAB(0xF);

    private static final PageType[] BY_NIBBLE = new PageType[16];

    static {
        for (PageType t : values()) {
            BY_NIBBLE[t.nibble] = t;
        }
    }

    private final int nibble;

    PageType(int nibble) {
        this.nibble = nibble;
    }

    /** The 4-bit value as it appears in the stream. */
    public int nibble() {
        return nibble;
    }

    /** Whether the record carries 4096 bytes of contents for a pfn of this type (NOTAB and page tables do). */
    public boolean hasData() {
        return nibble < BROKEN.nibble;
    }

    /** The type for a nibble, or {@code null} for the reserved nibbles 5..8. */
    public static PageType ofNibble(int nibble) {
        return BY_NIBBLE[nibble & 0xF];
    }

    /** Same as {@link #hasData()} on a raw nibble; false for reserved nibbles. */
    static boolean nibbleHasData(int nibble) {
        return nibble <= 4 || (nibble >= 9 && nibble <= 0xC);
    }
}
