package org.xenhost.pci;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class SysfsTextTest {
    @Test
    void hexAttributesAreStrict() {
        assertEquals(0x8086, SysfsText.hex("0x8086", 4));
        assertEquals(0x020000, SysfsText.hex("0x020000", 6));
        assertNull(SysfsText.hex("8086", 4));
        assertNull(SysfsText.hex("0x", 4));
        assertNull(SysfsText.hex("0x18086", 4));
        assertNull(SysfsText.hex("0x80 86", 4));
        assertNull(SysfsText.hex("0x-1", 4));
    }

    @Test
    void decimalsAreStrict() {
        assertEquals(-1, SysfsText.decimal("-1"));
        assertEquals(8, SysfsText.decimal("8"));
        assertNull(SysfsText.decimal(""));
        assertNull(SysfsText.decimal("-"));
        assertNull(SysfsText.decimal("0x8"));
        assertNull(SysfsText.decimal("1234567890"));
        assertNull(SysfsText.decimal("+1"));
    }

    @Test
    void linkTargetsResolveLexically() {
        assertEquals("/r/sys/devices/pci0000:00/0000:00:01.0",
                SysfsText.resolve("/r/sys/bus/pci/devices", "../../../devices/pci0000:00/0000:00:01.0"));
        assertEquals("/sys/devices/x", SysfsText.resolve("/r/sys/bus/pci/devices", "/sys/devices/x"));
        assertEquals("igb", SysfsText.basename("../../../bus/pci/drivers/igb/"));
        assertEquals("drivers", SysfsText.basename(SysfsText.parent("../../../bus/pci/drivers/igb")));
        assertEquals("??x", SysfsText.printable("\u0000\u00ffx"));
    }

    @Test
    void lexicalResolutionAgreesWithPathNormalize() {
        String[] bases = {"/r/sys/bus/pci/devices", "/r/sys/devices/pci0000:00/0000:00:01.0", "/", "/a", "/a/./b", "/a//b/"};
        String[] targets = {"../../../devices/pci0000:00/0000:00:01.0", "../0000:09:00.0", "../../../../bus/pci/drivers/igb",
            "../../../../kernel/iommu_groups/12", "x", "./x", "x/../y", "../../../../../../../../x", "..", "../", "a//b",
            "a/b/", "/abs/../path", "/", "", ".hidden/x", "../.x", "../x/./y", "../../..y"};
        for (String b : bases) {
            for (String t : targets) {
                String expected = t.startsWith("/") ? Path.of(t).normalize().toString() : Path.of(b).resolve(t).normalize().toString();
                assertEquals(expected, SysfsText.resolve(b, t), b + " + " + t);
            }
        }
    }

    @Test
    void wordsSplitLikeTheWhitespaceExpression() {
        for (String t : new String[] {"flr bus", "flr", "flr  pm\tbus", "a\u000bb\fc\rd", "x\u0001y"}) {
            assertEquals(java.util.List.of(t.split("\\s+")), SysfsText.words(t), t);
        }
    }
}
