package org.xenhost.hostdev;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.xenhost.pci.PciAddress;
import org.xenhost.pci.PciDevice;
import org.xenhost.pci.PciInventory;
import org.xenhost.pci.SysfsPciReader;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Reset selection on every fixture host against lspci's reading of the same config space: FLR exactly when
 * lspci shows DevCap FLReset+ or AFCap FLR+ (or the function is a VF), PM exactly when it does not and lspci shows
 * the PM capability with NoSoftRst-, and a bus reset exactly when the function sits behind a bridge (by its sysfs
 * path) under which nothing else is bound to a dom0 driver.
 */
class ResetSelectionTest {
    /** What lspci says about one function. */
    private record Lspci(boolean flr, boolean pm, boolean noSoftReset) {
    }

    @ParameterizedTest
    @ValueSource(strings = {"asus-p6t6", "fujitsu-p8010", "pcix-domains", "sriov-82576", "gpu-audio", "fsl-p2020"})
    void everyEndpointGetsTheResetLspciJustifies(String fixture) throws Exception {
        Path root = EmulatedHost.fixtureTree(fixture);
        Map<PciAddress, Lspci> oracle = lspci(root);
        PciInventory inv = new SysfsPciReader(root).scan();
        Function<PciDevice, Optional<String>> hostUse = d -> d.driver() == null || d.driver().equals("pciback")
                ? Optional.empty() : Optional.of("the host (driver " + d.driver() + ")");
        int counted = 0;
        for (PciDevice d : inv.devices()) {
            Lspci l = oracle.get(d.address());
            assertTrue(l != null, "lspci lists " + d.address());
            ResetPlan plan = ResetSelector.select(d, inv, Set.of(d.address()), hostUse);
            ResetMethod expected;
            boolean vf = Files.exists(root.resolve("sys/bus/pci/devices").resolve(d.address().toString()).resolve("physfn"));
            if (l.flr() || vf) {
                expected = ResetMethod.FLR;
            } else if (l.pm() && !l.noSoftReset()) {
                expected = ResetMethod.PM;
            } else {
                expected = busResetAllowed(root, d.address(), inv) ? ResetMethod.BUS : ResetMethod.NONE;
            }
            assertEquals(expected, plan.method(), fixture + " " + plan);
            assertTrue(!plan.reason().isBlank());
            counted++;
        }
        assertTrue(counted > 0);
    }

    /** The oracle's bus-reset rule, from the sysfs path (the parent directory) rather than the reader's chain. */
    private static boolean busResetAllowed(Path root, PciAddress a, PciInventory inv) throws Exception {
        Path real = root.resolve("sys/bus/pci/devices").resolve(a.toString()).toRealPath();
        PciAddress parent = PciAddress.parseOrNull(real.getParent().getFileName().toString());
        if (parent == null) {
            return false; // directly under pciDDDD:BB, a root bus
        }
        for (PciDevice other : inv.devices()) {
            if (other.address().equals(a)) {
                continue;
            }
            Path p = root.resolve("sys/bus/pci/devices").resolve(other.address().toString()).toRealPath();
            boolean below = p.startsWith(real.getParent()) && !p.equals(real.getParent());
            if (below && other.driver() != null && !other.driver().equals("pciback")) {
                return false;
            }
        }
        return true;
    }

    static Map<PciAddress, Lspci> lspci(Path root) throws Exception {
        Process p = new ProcessBuilder("lspci", "-vvv", "-D", "-A", "linux-sysfs",
                "-O", "sysfs.path=" + root.resolve("sys/bus/pci")).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        Map<PciAddress, Lspci> map = new HashMap<>();
        PciAddress cur = null;
        boolean flr = false;
        boolean pm = false;
        boolean nsr = false;
        String register = "";
        List<String> lines = new ArrayList<>(List.of(out.split("\n")));
        lines.add("");
        for (String line : lines) {
            if (!line.isEmpty() && !Character.isWhitespace(line.charAt(0))) {
                if (cur != null) {
                    map.put(cur, new Lspci(flr, pm, nsr));
                }
                cur = PciAddress.parse(line.substring(0, line.indexOf(' ')));
                flr = pm = nsr = false;
                register = "";
                continue;
            }
            String t = line.trim();
            int colon = t.indexOf(':');
            if (colon > 0 && t.substring(0, colon).matches("[A-Za-z0-9]+")) {
                register = t.substring(0, colon);
            }
            if (t.contains("FLReset+") && register.equals("DevCap")) {
                flr = true;
            }
            if (t.startsWith("AFCap:") && t.contains("FLR+")) {
                flr = true;
            }
            if (t.contains("] Power Management version")) {
                pm = true;
            }
            if (t.contains("NoSoftRst+")) {
                nsr = true;
            }
        }
        if (cur != null) {
            map.put(cur, new Lspci(flr, pm, nsr));
        }
        return map;
    }

    @Test
    void aBusResetIsRefusedWhileASiblingBehindTheBridgeIsInUseAndAllowedWhenTheyMoveTogether() throws Exception {
        // gpu-audio: GPU 06:00.0 (nouveau) and its HDMI audio 06:00.1 (snd_hda_intel) behind root port 00:07.0;
        // neither has FLR and both have NoSoftRst+, so only a bus reset could clean them
        Path root = EmulatedHost.fixtureTree("gpu-audio");
        PciInventory inv = new SysfsPciReader(root).scan();
        PciDevice gpu = inv.devices().stream().filter(d -> d.address().toString().equals("0000:06:00.0"))
                .findFirst().orElseThrow();
        Function<PciDevice, Optional<String>> hostUse = d -> d.driver() == null ? Optional.empty()
                : Optional.of("the host (driver " + d.driver() + ")");
        ResetPlan alone = ResetSelector.select(gpu, inv, Set.of(gpu.address()), hostUse);
        assertEquals(ResetMethod.NONE, alone.method(), alone.toString());
        assertTrue(alone.reason().contains("NoSoftRst set"), alone.reason());
        assertTrue(alone.reason().contains("bridge 0000:00:07.0 would also reset 0000:06:00.1 (the host (driver "
                + "snd_hda_intel))"), alone.reason());
        ResetPlan together = ResetSelector.select(gpu, inv, Set.of(gpu.address(), PciAddress.parse("0000:06:00.1")),
                hostUse);
        assertEquals(ResetMethod.BUS, together.method(), together.toString());
        assertTrue(together.reason().contains("bridge 0000:00:07.0"), together.reason());
    }

    @Test
    void aFunctionOnARootBusWithoutFlrOrPmHasNoReset() throws Exception {
        // fujitsu-p8010 00:1a.0: a UHCI controller on the root bus without FLR or PM capability
        Path root = EmulatedHost.fixtureTree("fujitsu-p8010");
        PciInventory inv = new SysfsPciReader(root).scan();
        PciDevice uhci = inv.devices().stream().filter(d -> d.address().toString().equals("0000:00:1a.0"))
                .findFirst().orElseThrow();
        ResetPlan plan = ResetSelector.select(uhci, inv, Set.of(uhci.address()), d -> Optional.empty());
        assertEquals(ResetMethod.NONE, plan.method());
        assertTrue(plan.reason().contains("no PM capability") && plan.reason().contains("root bus"), plan.reason());
    }
}
