package org.xenhost.pci;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Corrupt, truncated and hostile config spaces: decoding must stop cleanly and say why. */
class ConfigSpaceTest {

    /** A PCIe endpoint: PM at 40 -> PCIe at 60 (FLR) -> end; ext: ACS at 100 -> SR-IOV at 140 -> end. */
    static byte[] endpoint() {
        byte[] c = new byte[4096];
        put16(c, 0, 0x8086);
        put16(c, 2, 0x10c9);
        c[0x06] = 0x10; // capability list
        c[0x34] = 0x40;
        c[0x40] = 0x01; c[0x41] = 0x60; put16(c, 0x42, 0x0003); put16(c, 0x44, 0x0008); // PM v3, NoSoftRst
        c[0x60] = 0x10; c[0x61] = 0x00; put16(c, 0x62, 0x0002); put32(c, 0x64, 1 << 28); // PCIe v2 endpoint, FLR
        put32(c, 0x100, 0x0d | 1 << 16 | 0x140 << 20); put16(c, 0x104, 0x001f); put16(c, 0x106, 0x0005);
        put32(c, 0x140, 0x10 | 1 << 16); put16(c, 0x14c, 8); put16(c, 0x14e, 8); put16(c, 0x150, 2);
        put16(c, 0x154, 0x80); put16(c, 0x156, 2); put16(c, 0x15a, 0x10ca);
        return c;
    }

    static void put16(byte[] c, int at, int v) {
        c[at] = (byte) v;
        c[at + 1] = (byte) (v >> 8);
    }

    static void put32(byte[] c, int at, long v) {
        put16(c, at, (int) v);
        put16(c, at + 2, (int) (v >> 16));
    }

    @Test
    void decodesAWellFormedEndpoint() {
        ConfigSpace cs = ConfigSpace.parse(endpoint());
        assertEquals(ConfigSpace.HeaderType.ENDPOINT, cs.headerType());
        assertEquals(ConfigSpace.PortType.ENDPOINT, cs.pcie().portType());
        assertTrue(cs.flr());
        assertTrue(cs.powerManagement().noSoftReset());
        assertEquals(0x1f, cs.acs().capability());
        assertEquals(5, cs.acs().control());
        assertEquals(new ConfigSpace.SrIov(8, 8, 2, 0x80, 2, 0x10ca, false), cs.srIov());
        assertEquals(4, cs.capabilities().size());
        assertTrue(cs.problems().isEmpty());
        assertFalse(cs.truncated());
    }

    @Test
    void standardChainLoopStops() {
        byte[] c = endpoint();
        c[0x61] = 0x40; // PCIe points back to PM
        ConfigSpace cs = ConfigSpace.parse(c);
        assertEquals(2, cs.capabilities().stream().filter(x -> !x.extended()).count());
        assertTrue(cs.problems().get(0).contains("loops back to 40"), cs.problems().toString());
    }

    @Test
    void selfLoopAndPointerIntoHeaderStop() {
        byte[] c = endpoint();
        c[0x41] = 0x40;
        assertTrue(ConfigSpace.parse(c).problems().get(0).contains("loops"));
        c[0x41] = 0x10;
        assertTrue(ConfigSpace.parse(c).problems().get(0).contains("into the header"));
    }

    @Test
    void brokenIdStops() {
        byte[] c = endpoint();
        c[0x60] = (byte) 0xff;
        ConfigSpace cs = ConfigSpace.parse(c);
        assertNull(cs.pcie());
        assertTrue(cs.problems().get(0).contains("broken"));
    }

    @Test
    void extendedChainLoopStops() {
        byte[] c = endpoint();
        put32(c, 0x140, 0x10 | 1 << 16 | 0x100L << 20); // SR-IOV points back to ACS
        ConfigSpace cs = ConfigSpace.parse(c);
        assertEquals(2, cs.capabilities().stream().filter(ConfigSpace.Capability::extended).count());
        assertTrue(cs.problems().get(0).contains("loops back to 100"), cs.problems().toString());
        assertNotNull(cs.srIov());
    }

    @Test
    void extendedPointerBackIntoStandardSpaceStops() {
        byte[] c = endpoint();
        put32(c, 0x100, 0x0d | 1 << 16 | 0x40 << 20);
        ConfigSpace cs = ConfigSpace.parse(c);
        assertTrue(cs.problems().get(0).contains("points back into standard space"), cs.problems().toString());
    }

    @Test
    void allOnesExtendedHeaderIsReported() {
        byte[] c = endpoint();
        put32(c, 0x100, 0xffffffffL);
        ConfigSpace cs = ConfigSpace.parse(c);
        assertNull(cs.acs());
        assertTrue(cs.problems().get(0).contains("all ones"));
    }

    @Test
    void shortReadsDegradeWithoutProblems() {
        ConfigSpace c256 = ConfigSpace.parse(Arrays.copyOf(endpoint(), 256));
        assertNotNull(c256.pcie());
        assertTrue(c256.flr());
        assertNull(c256.acs());
        assertTrue(c256.truncated());
        assertTrue(c256.problems().isEmpty());

        ConfigSpace c64 = ConfigSpace.parse(Arrays.copyOf(endpoint(), 64));
        assertEquals(ConfigSpace.HeaderType.ENDPOINT, c64.headerType());
        assertTrue(c64.capabilities().isEmpty());
        assertTrue(c64.truncated());
        assertTrue(c64.problems().isEmpty());
        assertFalse(c64.flr());

        ConfigSpace empty = ConfigSpace.parse(new byte[0]);
        assertEquals(ConfigSpace.HeaderType.UNKNOWN, empty.headerType());
        assertEquals(ConfigSpace.HeaderType.UNKNOWN, ConfigSpace.parse(null).headerType());
        assertFalse(ConfigSpace.parse(new byte[17]).problems().isEmpty());
    }

    @Test
    void brokenEcapsDumpDecodesWithoutCapabilities() {
        // pciutils' broken-ecaps: a host bridge whose extended space mirrors its header (a real hardware quirk).
        for (PciDumps.Entry e : PciDumps.read(PciDumps.dumpDir().resolve("broken-ecaps")).values()) {
            ConfigSpace cs = ConfigSpace.parse(e.config());
            assertEquals(ConfigSpace.HeaderType.ENDPOINT, cs.headerType());
            assertTrue(cs.capabilities().isEmpty());
        }
    }

    @Test
    void brokenEcapsExtendedSpaceWalkedAnywayStaysBounded() {
        // Force the walk into broken-ecaps' garbage extended space by grafting a PCIe capability onto its header.
        byte[] c = PciDumps.read(PciDumps.dumpDir().resolve("broken-ecaps")).values().iterator().next().config();
        c[0x06] |= 0x10;
        c[0x34] = (byte) 0xc0;
        c[0xc0] = 0x10;
        c[0xc1] = 0x00;
        ConfigSpace cs = ConfigSpace.parse(c);
        assertNotNull(cs.pcie());
        assertTrue(cs.capabilities().size() < 1100, "bounded walk");
    }

    @Test
    void randomBytesNeverThrowAndStayBounded() {
        Random r = new Random(42);
        for (int i = 0; i < 20_000; i++) {
            int len = new int[] {0, 3, 64, 200, 256, 1000, 4096}[i % 7];
            byte[] c = new byte[len];
            r.nextBytes(c);
            if (len > 0x34) {
                c[0x06] |= 0x10;
            }
            ConfigSpace cs = ConfigSpace.parse(c);
            assertTrue(cs.capabilities().size() <= 48 + 960, "walk bounded by distinct offsets");
            ConfigSpace.isPciExpress(c);
        }
    }
}
