package org.xenhost.pci;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PciAddressTest {

    @Test
    void parsesFullAndShortForms() {
        assertEquals(new PciAddress(0, 3, 0, 0), PciAddress.parse("0000:03:00.0"));
        assertEquals(new PciAddress(0, 3, 0, 0), PciAddress.parse("03:00.0"));
        assertEquals(new PciAddress(0xffff, 0xff, 0x1f, 7), PciAddress.parse("ffff:ff:1f.7"));
        assertEquals(new PciAddress(0xabcd, 0xef, 0x1a, 3), PciAddress.parse("ABCD:EF:1A.3"));
        assertEquals(new PciAddress(1, 2, 3, 4), PciAddress.parse("1:2:3.4"));
        assertEquals(new PciAddress(0, 0xa, 0xb, 1), PciAddress.parse("a:b.1"));
    }

    @Test
    void formatsCanonicallyAndInDashForm() {
        assertEquals("0000:03:00.0", PciAddress.parse("3:0.0").toString());
        assertEquals("abcd:ef:1a.3", PciAddress.parse("ABCD:EF:1A.3").toString());
        assertEquals("0000-03-00-0", PciAddress.parse("03:00.0").toDashForm());
        assertEquals("ffff-ff-1f-7", PciAddress.parse("ffff:ff:1f.7").toDashForm());
    }

    @Test
    void roundTripsEveryDeviceAndFunction() {
        for (int dev = 0; dev <= 0x1f; dev++) {
            for (int fn = 0; fn <= 7; fn++) {
                PciAddress a = new PciAddress(0x10, 0x80, dev, fn);
                assertEquals(a, PciAddress.parse(a.toString()));
            }
        }
    }

    @Test
    void ordersByDomainBusDeviceFunction() {
        List<PciAddress> l = new ArrayList<>(List.of(PciAddress.parse("0001:00:00.0"), PciAddress.parse("00:1f.7"),
                PciAddress.parse("01:00.0"), PciAddress.parse("00:02.1"), PciAddress.parse("00:02.0")));
        Collections.sort(l);
        assertEquals("[0000:00:02.0, 0000:00:02.1, 0000:00:1f.7, 0000:01:00.0, 0001:00:00.0]", l.toString());
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "", " ", "0", "03:00", "03:00.", "0000:03:00", "0000:03:00.0 ", " 0000:03:00.0", "0000:03:00.0\n",
        "0000:03:00.0x", "0000:03:00.00", "0000:03:00.8", "0000:03:00.f", "0000:03:20.0", "0000:03:ff.0",
        "00000:03:00.0", "0000:003:00.0", "0000:03:000.0", "0000:03:00:0", "0000.03.00.0", "0000-03-00-0",
        "0000:03-00.0", "0000::00.0", ":03:00.0", "0000:03:.0", "0000:0g:00.0", "zzzz:03:00.0",
        "../03:00.0", "../../etc/passwd", "03:00.0/..", "0000:03:00.0/../../x", "0:0:03:00.0", "+3:00.0",
        "-1:00.0", "0x03:00.0", "03:0x0.0", "03:00.-1", "03:00.0;rm", "０３:00.0", "03:00.1.2", "0000:03:00.0.0",
    })
    void rejectsAnythingElseQuotingTheInput(String bad) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PciAddress.parse(bad));
        assertTrue(e.getMessage().contains("'" + bad + "'"), e.getMessage());
        assertTrue(e.getMessage().contains("DDDD:BB:DD.F"), e.getMessage());
        assertNull(PciAddress.parseOrNull(bad));
    }

    @Test
    void rangeErrorsSayWhichPartIsOutOfRange() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> PciAddress.parse("00:20.0"))
                .getMessage().contains("device 20 is above 1f"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> PciAddress.parse("00:00.9"))
                .getMessage().contains("function 9 is above 7"));
    }

    @Test
    void nullIsRejectedWithTheExpectedForm() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> PciAddress.parse(null))
                .getMessage().contains("expected DDDD:BB:DD.F"));
    }

    @Test
    void constructorChecksRanges() {
        assertThrows(IllegalArgumentException.class, () -> new PciAddress(0x10000, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new PciAddress(0, 0x100, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new PciAddress(0, 0, 0x20, 0));
        assertThrows(IllegalArgumentException.class, () -> new PciAddress(0, 0, 0, 8));
        assertThrows(IllegalArgumentException.class, () -> new PciAddress(-1, 0, 0, 0));
    }
}
