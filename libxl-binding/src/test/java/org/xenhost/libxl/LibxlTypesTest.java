package org.xenhost.libxl;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LibxlTypesTest {

    @Test
    void errorCodesMapBothWays() {
        for (LibxlError e : LibxlError.values()) {
            assertEquals(e, LibxlError.of(e.code()));
        }
        assertEquals(-3, LibxlError.FAIL.code());
        assertEquals(-21, LibxlError.DOMAIN_NOTFOUND.code());
        assertEquals(-32, LibxlError.QEMU_API.code());
        assertEquals(LibxlError.NONSPECIFIC, LibxlError.of(-99));
        assertThrows(IllegalArgumentException.class, () -> LibxlError.of(0));
    }

    @Test
    void exceptionKeepsCodeAndRawValue() {
        LibxlException e = new LibxlException(-99, "libxl_frobnicate failed");
        assertEquals(LibxlError.NONSPECIFIC, e.error());
        assertEquals(-99, e.rawCode());
        assertTrue(e.getMessage().startsWith("libxl_frobnicate failed"), e.getMessage());
        assertEquals(-21, new LibxlException(LibxlError.DOMAIN_NOTFOUND, "x").rawCode());
    }

    @Test
    void devicePciValidatesRangesAndFormatsLikeLibxl() {
        LibxlDevicePci d = LibxlDevicePci.of(0, 3, 0x1f, 7);
        assertEquals("0000:03:1f.7", d.bdf());
        assertEquals("0000-03-1f-7", d.xenstoreKey());
        assertThrows(IllegalArgumentException.class, () -> LibxlDevicePci.of(0x10000, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> LibxlDevicePci.of(0, 0x100, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> LibxlDevicePci.of(0, 0, 0x20, 0));
        assertThrows(IllegalArgumentException.class, () -> LibxlDevicePci.of(0, 0, 0, 8));
        assertEquals(0x28, d.withVdevfn(0x28).vdevfn());
        assertEquals("gpu", d.withName("gpu").name());
    }

    @Test
    void domainStateCondensesFlagsLikeXlList() {
        assertEquals(DomainState.RUNNING, DomainState.of(false, false, false, ShutdownReason.UNKNOWN));
        assertEquals(DomainState.PAUSED, DomainState.of(true, false, false, ShutdownReason.UNKNOWN));
        assertEquals(DomainState.SUSPENDED, DomainState.of(true, true, false, ShutdownReason.SUSPEND));
        assertEquals(DomainState.SHUTDOWN, DomainState.of(false, true, false, ShutdownReason.POWEROFF));
        assertEquals(DomainState.DYING, DomainState.of(false, true, true, ShutdownReason.CRASH));
        assertEquals(DomainType.PVH, DomainType.ofCode(3));
        assertEquals(RdmPolicy.RELAXED, RdmPolicy.ofCode(1));
    }
}
