package org.xenhost.libxl.pcispec;

import org.junit.jupiter.api.Test;
import org.xenhost.libxl.LibxlDevicePci;
import org.xenhost.libxl.LibxlError;
import org.xenhost.libxl.RdmPolicy;
import org.xenhost.libxl.pcispec.PciSpecResult.Divergence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The parser's documented behaviour (xen-facts §6), independent of libxlutil being installed. */
class PciSpecParserTest {

    @Test
    void bareBdfGetsLibxlutilDefaults() {
        assertEquals(LibxlDevicePci.of(0, 3, 0, 0), PciSpecParser.parse("0000:03:00.0"));
        assertEquals(LibxlDevicePci.of(0, 3, 0, 1), PciSpecParser.parse("3:0.1"));
        assertEquals(LibxlDevicePci.of(0xffff, 0xff, 0x1f, 7), PciSpecParser.parse("ffff:ff:1f.7"));
    }

    @Test
    void starMeansEveryFunction() {
        LibxlDevicePci d = PciSpecParser.parse("0000:03:00.*@2");
        assertEquals(0, d.func());
        assertTrue(d.allFunctions());
        assertEquals(2 << 3, d.vdevfn());
    }

    @Test
    void vslotIsShiftedIntoVdevfnWhicheverWayItIsGiven() {
        assertEquals(0x20, PciSpecParser.parse("03:00.0@4").vdevfn());
        assertEquals(0x20, PciSpecParser.parse("03:00.0,vslot=4").vdevfn());
        assertEquals(0x20, PciSpecParser.parse("bdf=03:00.0,vslot=0x4").vdevfn());
    }

    @Test
    void flagsAreReadWithAtoi() {
        LibxlDevicePci d = PciSpecParser.parse("03:00.0,permissive=1,msitranslate=2,power_mgmt=yes,seize=-1");
        assertTrue(d.permissive());
        assertTrue(d.msitranslate());
        assertEquals(false, d.powerMgmt()); // atoi("yes") == 0
        assertTrue(d.seize());
        // strtol saturates, then (int) truncates: 2^32 -> 0, LONG_MAX -> -1
        assertEquals(false, PciSpecParser.parse("03:00.0,permissive=4294967296").permissive());
        assertTrue(PciSpecParser.parse("03:00.0,permissive=99999999999999999999").permissive());
    }

    @Test
    void rdmPolicyIsCaseInsensitiveAsciiOnly() {
        assertEquals(RdmPolicy.STRICT, PciSpecParser.parse("03:00.0,rdm_policy=STRICT").rdmPolicy());
        assertEquals(RdmPolicy.RELAXED, PciSpecParser.parse("03:00.0,rdm_policy=relaxed").rdmPolicy());
        PciSpecException e = assertThrows(PciSpecException.class,
                () -> PciSpecParser.parse("03:00.0,rdm_policy=\u017ftrict")); // long s folds to S in Java, not in C
        assertEquals(LibxlError.FAIL, e.error());
    }

    @Test
    void nameAloneOrBdfAloneButNotBoth() {
        LibxlDevicePci byName = PciSpecParser.parse("name=gpu0");
        assertEquals("gpu0", byName.name());
        assertEquals(0, byName.vfuncMask());
        PciSpecException both = assertThrows(PciSpecException.class, () -> PciSpecParser.parse("03:00.0,name=x"));
        assertEquals(LibxlError.INVAL, both.error());
        assertTrue(both.getMessage().contains("either a BDF or name="), both.getMessage());
        assertThrows(PciSpecException.class, () -> PciSpecParser.parse("permissive=1"));
    }

    @Test
    void refusalsQuoteTheSpecAndSayWhy() {
        PciSpecException e = assertThrows(PciSpecException.class, () -> PciSpecParser.parse("03:00.0,colour=red"));
        assertEquals(LibxlError.INVAL, e.error());
        assertTrue(e.getMessage().contains("'03:00.0,colour=red'") && e.getMessage().contains("colour"),
                e.getMessage());
        assertTrue(assertThrows(PciSpecException.class, () -> PciSpecParser.parse("03:00.0@20"))
                .getMessage().contains("vslot"));
        assertTrue(assertThrows(PciSpecException.class, () -> PciSpecParser.parse("03:00.0y"))
                .getMessage().contains("after the BDF"));
        // but glibc's %x swallows "0x" whole, so libxlutil (and we) take 03:00.0x as 03:00.0
        assertEquals(LibxlDevicePci.of(0, 3, 0, 0), PciSpecParser.parse("03:00.0x"));
        assertThrows(PciSpecException.class, () -> PciSpecParser.parse(""));
        assertThrows(PciSpecException.class, () -> PciSpecParser.parse(" 03:00.0"));
        assertThrows(PciSpecException.class, () -> PciSpecParser.parse("0000:00:20.0"));
    }

    @Test
    void whereLibxlutilIsUndefinedWeRefuseCleanly() {
        for (String spec : new String[] {"0000:03:00", "03:00", "03:00,permissive=1", "bdf=03:00"}) {
            PciSpecResult r = PciSpecParser.parse(spec, PciSpecParser.initialDevice());
            assertEquals(LibxlError.INVAL.code(), r.rc(), spec);
            assertEquals(Divergence.BDF_WITHOUT_FUNCTION, r.divergence(), spec);
            assertTrue(r.error().contains("no '.F' function part"), r.error());
        }
        PciSpecResult nul = PciSpecParser.parse("03:00.0\0,permissive=1", PciSpecParser.initialDevice());
        assertEquals(Divergence.NUL_CHARACTER, nul.divergence());
        assertEquals(LibxlError.INVAL.code(), nul.rc());
    }

    @Test
    void aFailedParseKeepsWhatWasFilledAsInC() {
        PciSpecResult r = PciSpecParser.parse("03:00.*5", PciSpecParser.initialDevice());
        assertEquals(-6, r.rc());
        assertEquals(3, r.device().bus());
        assertTrue(r.device().allFunctions());
        PciSpecResult named = PciSpecParser.parse("name=a,bogus=1", PciSpecParser.initialDevice());
        assertEquals("a", named.device().name());
        assertNull(PciSpecParser.parse("0x3:00.0", PciSpecParser.initialDevice()).device().name());
    }

    @Test
    void seededFieldsSurviveWhenNotMentioned() {
        LibxlDevicePci seed = new LibxlDevicePci(0, 0, 0, 0, 0, 0, true, false, true, false, RdmPolicy.STRICT, null);
        LibxlDevicePci d = PciSpecParser.parse("03:00.0,permissive=0", seed).device();
        assertTrue(d.msitranslate());
        assertEquals(false, d.permissive());
        assertEquals(RdmPolicy.STRICT, d.rdmPolicy());
    }
}
