package org.xenhost.pci;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Our config-space decoding against lspci's, for every device of every pciutils dump in fixtures/pci-dumps:
 * the real {@code lspci -F FILE -vvv} (pciutils 3.9 here) and, where the file carries it, the text lspci wrote
 * when the dump was taken.
 */
class ConfigSpaceOracleTest {
    private static final Pattern BUS = Pattern.compile("Bus: primary=[0-9a-f]{2}, secondary=([0-9a-f]{2}), subordinate=([0-9a-f]{2})");
    private static final Pattern SRIOV1 = Pattern.compile("Initial VFs: (\\d+), Total VFs: (\\d+), Number of VFs: (\\d+)");
    private static final Pattern SRIOV2 = Pattern.compile("VF offset: (\\d+), stride: (\\d+), Device ID: ([0-9a-f]{4})");
    private static final Pattern MSI = Pattern.compile("^MSI: Enable([+-]) Count=\\d+/(\\d+) Maskable([+-]) 64bit([+-])");
    private static final Pattern MSIX = Pattern.compile("^MSI-X: Enable([+-]) Count=(\\d+) Masked([+-])");
    private static final Pattern EXPRESS = Pattern.compile("^Express \\(v(\\d+)\\) (.*?)(?:, MSI [0-9a-f]+| \\(Slot[+-]\\).*)?$");

    static List<Path> files() {
        return PciDumps.files();
    }

    @Test
    void everyDumpIsCovered() {
        // 41 files in pciutils' set; guards against the directory being empty or the glob silently matching nothing.
        assertTrue(files().size() >= 40, "dump files found: " + files());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("files")
    void agreesWithLspci(Path file) {
        Map<PciAddress, PciDumps.Entry> dump = PciDumps.read(file);
        Map<PciAddress, LspciText.Device> lspci = LspciText.decode(file);
        assertEquals(lspci.keySet(), dump.keySet(), "devices in " + file.getFileName());
        List<String> errors = new ArrayList<>();
        for (PciDumps.Entry e : dump.values()) {
            compare(e, lspci.get(e.address()), errors);
        }
        assertTrue(errors.isEmpty(), file.getFileName() + ":\n" + String.join("\n", errors));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("files")
    void agreesWithTheTextInTheDump(Path file) {
        // Older lspci wrote this text; compare what its format shares with today's.
        List<String> errors = new ArrayList<>();
        for (PciDumps.Entry e : PciDumps.read(file).values()) {
            if (!e.text().contains("\tControl:")) {
                continue; // hex only
            }
            ConfigSpace cs = ConfigSpace.parse(e.config());
            String t = e.text();
            String where = e.address() + ": ";
            if (e.config().length > ConfigSpace.CONVENTIONAL_SIZE) {
                // Some dumps kept lspci's full text but only 256 bytes of hex: extended capabilities are not in them.
                check(errors, where + "ACS", t.contains("Access Control Services"), cs.acs() != null);
                Matcher m = SRIOV1.matcher(t);
                check(errors, where + "SR-IOV TotalVFs", m.find() ? Integer.valueOf(m.group(2)) : null,
                        cs.srIov() == null ? null : cs.srIov().totalVfs());
            }
            Boolean flr = LspciText.flag(LspciText.between(t, "DevCap:", "DevCtl:"), "FLReset");
            if (flr != null) {
                check(errors, where + "FLR", flr, cs.pcie() != null && cs.pcie().flr());
            }
            check(errors, where + "header", headerTypeFromText(t), cs.headerType());
        }
        assertTrue(errors.isEmpty(), file.getFileName() + ":\n" + String.join("\n", errors));
    }

    private static ConfigSpace.HeaderType headerTypeFromText(String t) {
        if (t.contains("Memory window 0")) {
            return ConfigSpace.HeaderType.CARDBUS;
        }
        if (t.contains("\tBus: primary=")) {
            return ConfigSpace.HeaderType.BRIDGE;
        }
        return ConfigSpace.HeaderType.ENDPOINT;
    }

    private static void compare(PciDumps.Entry e, LspciText.Device d, List<String> errors) {
        ConfigSpace cs = ConfigSpace.parse(e.config());
        String where = e.address() + ": ";
        String t = d.text();
        if (t.contains("Unknown header type")) {
            check(errors, where + "header", ConfigSpace.HeaderType.UNKNOWN, cs.headerType());
            return;
        }
        check(errors, where + "header", headerTypeFromText(t), cs.headerType());
        Matcher bus = BUS.matcher(t);
        if (bus.find()) {
            check(errors, where + "secondary bus", Integer.parseInt(bus.group(1), 16), cs.secondaryBus());
            check(errors, where + "subordinate bus", Integer.parseInt(bus.group(2), 16), cs.subordinateBus());
        }

        // The whole chain: offsets and extended versions, in order.
        List<String> theirs = new ArrayList<>();
        for (LspciText.Cap c : d.caps()) {
            if (!c.title().startsWith("<")) {
                theirs.add(Integer.toHexString(c.offset()) + (c.version() == null ? "" : " v" + c.version()));
            }
        }
        List<String> ours = new ArrayList<>();
        for (ConfigSpace.Capability c : cs.capabilities()) {
            ours.add(Integer.toHexString(c.offset()) + (c.extended() ? " v" + c.version() : ""));
        }
        check(errors, where + "capability chain", theirs, ours);
        boolean lspciSawCorruption = d.caps().stream().anyMatch(c -> c.title().contains("chain"));
        check(errors, where + "chain corruption reported", lspciSawCorruption, !cs.problems().isEmpty());

        LspciText.Cap exp = d.cap("Express");
        check(errors, where + "PCIe present", exp != null, cs.pcie() != null);
        if (exp != null && cs.pcie() != null) {
            Matcher m = EXPRESS.matcher(exp.title());
            if (m.matches()) {
                check(errors, where + "PCIe version", Integer.parseInt(m.group(1)), cs.pcie().version());
                check(errors, where + "PCIe port type", m.group(2), cs.pcie().portType().label());
            } else {
                errors.add(where + "unparsed Express title '" + exp.title() + "'");
            }
            Boolean flr = LspciText.flag(LspciText.between(exp.body(), "DevCap:", "DevCtl:"), "FLReset");
            if (flr != null) {
                check(errors, where + "FLR (DevCap FLReset)", flr, cs.pcie().flr());
            }
        }
        LspciText.Cap af = d.cap("PCI Advanced Features");
        if (af != null) {
            check(errors, where + "AF FLR", LspciText.flag(af.body(), "FLR"), cs.afFlr());
        }

        LspciText.Cap pm = d.cap("Power Management");
        check(errors, where + "PM present", pm != null, cs.powerManagement() != null);
        if (pm != null && cs.powerManagement() != null) {
            Boolean noSoftRst = LspciText.flag(pm.body(), "NoSoftRst");
            if (noSoftRst != null) {
                check(errors, where + "PM NoSoftRst", noSoftRst, cs.powerManagement().noSoftReset());
            }
        }

        LspciText.Cap acs = d.cap("Access Control Services");
        check(errors, where + "ACS present", acs != null, cs.acs() != null);
        if (acs != null && cs.acs() != null) {
            String[] names = {"SrcValid", "TransBlk", "ReqRedir", "CmpltRedir", "UpstreamFwd", "EgressCtrl", "DirectTrans"};
            String capText = LspciText.between(acs.body(), "ACSCap:", "ACSCtl:");
            String ctlText = LspciText.between(acs.body(), "ACSCtl:", "\n");
            for (int bit = 0; bit < names.length; bit++) {
                check(errors, where + "ACSCap " + names[bit], LspciText.flag(capText, names[bit]), (cs.acs().capability() >> bit & 1) != 0);
                check(errors, where + "ACSCtl " + names[bit], LspciText.flag(ctlText, names[bit]), (cs.acs().control() >> bit & 1) != 0);
            }
        }

        LspciText.Cap sriov = d.cap("Single Root I/O Virtualization");
        check(errors, where + "SR-IOV present", sriov != null, cs.srIov() != null);
        if (sriov != null && cs.srIov() != null) {
            Matcher m1 = SRIOV1.matcher(sriov.body());
            Matcher m2 = SRIOV2.matcher(sriov.body());
            if (m1.find() && m2.find()) {
                check(errors, where + "InitialVFs", Integer.parseInt(m1.group(1)), cs.srIov().initialVfs());
                check(errors, where + "TotalVFs", Integer.parseInt(m1.group(2)), cs.srIov().totalVfs());
                check(errors, where + "NumVFs", Integer.parseInt(m1.group(3)), cs.srIov().numVfs());
                check(errors, where + "VF offset", Integer.parseInt(m2.group(1)), cs.srIov().vfOffset());
                check(errors, where + "VF stride", Integer.parseInt(m2.group(2)), cs.srIov().vfStride());
                check(errors, where + "VF device", Integer.parseInt(m2.group(3), 16), cs.srIov().vfDeviceId());
            } else {
                errors.add(where + "unparsed SR-IOV body " + sriov.body());
            }
        }

        LspciText.Cap msi = d.cap("MSI:");
        check(errors, where + "MSI present", msi != null, cs.msi() != null);
        if (msi != null && cs.msi() != null) {
            Matcher m = MSI.matcher(msi.title());
            if (m.find()) {
                check(errors, where + "MSI enable", m.group(1).equals("+"), cs.msi().enabled());
                check(errors, where + "MSI vectors", Integer.parseInt(m.group(2)), cs.msi().vectors());
                check(errors, where + "MSI maskable", m.group(3).equals("+"), cs.msi().perVectorMask());
                check(errors, where + "MSI 64bit", m.group(4).equals("+"), cs.msi().address64());
            } else {
                errors.add(where + "unparsed MSI title " + msi.title());
            }
        }
        LspciText.Cap msix = d.cap("MSI-X:");
        check(errors, where + "MSI-X present", msix != null, cs.msiX() != null);
        if (msix != null && cs.msiX() != null) {
            Matcher m = MSIX.matcher(msix.title());
            if (m.find()) {
                check(errors, where + "MSI-X enable", m.group(1).equals("+"), cs.msiX().enabled());
                check(errors, where + "MSI-X table size", Integer.parseInt(m.group(2)), cs.msiX().tableSize());
                check(errors, where + "MSI-X masked", m.group(3).equals("+"), cs.msiX().functionMask());
            } else {
                errors.add(where + "unparsed MSI-X title " + msix.title());
            }
        }
    }

    /** How many comparisons of each kind ran (keyed by the label after the address), so coverage can be asserted. */
    private static final Map<String, Integer> TALLY = new java.util.concurrent.ConcurrentHashMap<>();

    @org.junit.jupiter.api.AfterAll
    static void comparisonsActuallyRan() {
        // Floors well below what the set contains today (printed on failure): a parser or regex that silently stops
        // matching would otherwise turn this oracle into a test that cannot fail.
        Map<String, Integer> floors = Map.of("FLR (DevCap FLReset)", 30, "ACS present", 150, "ACSCap SrcValid", 10,
                "TotalVFs", 4, "PM NoSoftRst", 90, "capability chain", 170, "secondary bus", 50, "header", 200,
                "MSI-X table size", 15, "PCIe port type", 60);
        floors.forEach((k, min) -> assertTrue(TALLY.getOrDefault(k, 0) >= min,
                "only " + TALLY.getOrDefault(k, 0) + " '" + k + "' comparisons ran; all: " + new java.util.TreeMap<>(TALLY)));
    }

    private static void check(List<String> errors, String what, Object expected, Object actual) {
        TALLY.merge(what.substring(what.indexOf(": ") + 2), 1, Integer::sum);
        if (!java.util.Objects.equals(expected, actual)) {
            errors.add(what + ": lspci says " + expected + ", we say " + actual);
        }
    }
}
