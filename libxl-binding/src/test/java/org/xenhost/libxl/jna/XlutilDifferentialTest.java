package org.xenhost.libxl.jna;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.xenhost.libxl.LibxlDevicePci;
import org.xenhost.libxl.RdmPolicy;
import org.xenhost.libxl.pcispec.PciSpecParser;
import org.xenhost.libxl.pcispec.PciSpecResult;
import org.xenhost.libxl.pcispec.PciSpecResult.Divergence;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Differential test: our pure-Java PCI spec parser against the real {@code xlu_pci_parse_spec_string} from
 * libxlutil 4.17, called through JNA after {@code libxl_device_pci_init} (no hypervisor needed). For every spec
 * both must give the same return code and leave the same struct: domain, bus, dev, func, vdevfn, vfunc_mask,
 * msitranslate, power_mgmt, permissive, seize, rdm_policy and name.
 *
 * <p>Excluded, and only those: the inputs our parser flags as a {@link Divergence}.
 * {@code BDF_WITHOUT_FUNCTION}: libxlutil reads an uninitialised {@code %n} there (undefined behaviour; it can
 * crash this JVM, so it must never be called with them). {@code NUL_CHARACTER}: C cannot see past a NUL, so
 * there is nothing to compare.
 */
class XlutilDifferentialTest {
    private static XenlightLibrary xl;
    private static XlutilLibrary xlu;
    private static LibC libc;

    @BeforeAll
    static void prerequisites() {
        XenPrerequisites.requireLibxenDev();
        xl = NativeLibraries.xenlight();
        xlu = NativeLibraries.xlutil();
        libc = NativeLibraries.libc();
    }

    /** What libxlutil returns for {@code spec} on a struct initialised by libxl and then set to {@code seed}. */
    static PciSpecResult libxlutil(String spec, LibxlDevicePci seed) {
        DevicePciStruct s = NativeLibxl.toStruct(xl, libc, seed);
        try {
            int rc = xlu.xlu_pci_parse_spec_string(null, s, spec);
            s.read();
            return new PciSpecResult(rc, NativeLibxl.fromStruct(s), null, Divergence.NONE);
        } finally {
            xl.libxl_device_pci_dispose(s);
        }
    }

    /** A struct xl would hand over after seeding from global pci_* keys and rdm=. */
    private static final LibxlDevicePci SEEDED = new LibxlDevicePci(0, 0, 0, 0, 0, 0, true, true, true, true,
            RdmPolicy.STRICT, null);

    @Test
    void javaParserMatchesLibxlutil() {
        Set<String> specs = new LinkedHashSet<>(PciSpecCorpus.HAND_PICKED);
        specs.addAll(PciSpecCorpus.generated(20261127L, 420));
        specs.addAll(PciSpecCorpus.chaos(7L, 150));

        List<String> mismatches = new ArrayList<>();
        Map<Divergence, List<String>> excluded = new EnumMap<>(Divergence.class);
        int compared = 0;
        int accepted = 0;
        int seededCompared = 0;
        int i = 0;
        for (String spec : specs) {
            // every 5th spec runs on a pre-seeded struct: fields the spec does not mention must survive
            LibxlDevicePci seed = (i++ % 5 == 4) ? SEEDED : PciSpecParser.initialDevice();
            PciSpecResult ours = PciSpecParser.parse(spec, seed);
            if (ours.divergence() != Divergence.NONE) {
                excluded.computeIfAbsent(ours.divergence(), d -> new ArrayList<>()).add(spec);
                assertEquals(-6, ours.rc(), "deliberate refusals are ERROR_INVAL: " + spec);
                continue;
            }
            PciSpecResult theirs = libxlutil(spec, seed);
            compared++;
            if (seed == SEEDED) {
                seededCompared++;
            }
            if (theirs.rc() == 0) {
                accepted++;
            }
            if (theirs.rc() != ours.rc() || !theirs.device().equals(ours.device())) {
                mismatches.add("'" + spec + "': libxlutil rc=" + theirs.rc() + " " + theirs.device()
                        + " / ours rc=" + ours.rc() + " " + ours.device());
            }
        }
        assertEquals(List.of(), mismatches, "Java parser differs from libxlutil");
        assertTrue(compared >= 300, "only " + compared + " specs compared");
        assertTrue(accepted >= 60 && compared - accepted >= 60,
                "the corpus must exercise both outcomes: " + accepted + " accepted of " + compared);
        assertTrue(seededCompared >= 50, "seeded comparisons: " + seededCompared);
        // exclusions stay a small, explained minority
        int nExcluded = excluded.values().stream().mapToInt(List::size).sum();
        assertTrue(nExcluded < compared / 4, "too many exclusions: " + excluded);
        System.out.printf("xlu_pci_parse_spec_string differential: %d specs compared (%d accepted, %d on a seeded"
                + " struct), %d excluded %s%n", compared, accepted, seededCompared, nExcluded, excluded.keySet());
    }

    @Test
    void theOracleIsReallyLibxlutil() {
        // sanity: the JNA call reaches libxlutil and reports its documented results
        PciSpecResult r = libxlutil("0000:03:00.*@4,permissive=1,rdm_policy=relaxed,seize=1",
                PciSpecParser.initialDevice());
        assertEquals(0, r.rc());
        assertEquals(new LibxlDevicePci(0, 3, 0, 0, 0x20, LibxlDevicePci.FUNC_ALL, false, false, true, true,
                RdmPolicy.RELAXED, null), r.device());
        assertEquals(-6, libxlutil("0000:03:00.0,bogus=1", PciSpecParser.initialDevice()).rc());
        assertEquals(-3, libxlutil("03:00.0,rdm_policy=bogus", PciSpecParser.initialDevice()).rc());
        assertEquals("gpu0", libxlutil("name=gpu0", PciSpecParser.initialDevice()).device().name());
    }
}
