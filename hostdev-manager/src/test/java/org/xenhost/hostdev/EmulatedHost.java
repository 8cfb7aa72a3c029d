package org.xenhost.hostdev;

import org.xenhost.emulator.EmulatedLibxl;
import org.xenhost.emulator.HostSettings;
import org.xenhost.libxl.LibxlDevicePci;
import org.xenhost.libxl.LibxlException;
import org.xenhost.pci.PciAddress;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A test's emulated Xen host: a private copy of a fixtures/sysfs tree, the emulated hypervisor and kernel over
 * it, and the manager's state directory. {@link #restart} models a crash of xenhost: the hypervisor, xenstore and
 * sysfs live on, a new manager replays the journal and reconciles.
 */
final class EmulatedHost implements AutoCloseable {
    final Path tree;
    final Path state;
    final EmulatedLibxl libxl;
    /** What the manager is given: the emulated libxl, through a fault injector. */
    final FaultyLibxl faulty;
    HostdevManager manager;

    private EmulatedHost(Path tree, Path state, EmulatedLibxl libxl) {
        this.tree = tree;
        this.state = state;
        this.libxl = libxl;
        this.faulty = new FaultyLibxl(libxl);
    }

    static EmulatedHost of(String fixture, Path dir) throws IOException {
        return of(fixture, dir, Duration.ZERO);
    }

    static EmulatedHost of(String fixture, Path dir, Duration resetLatency) throws IOException {
        Path tree = dir.resolve("sysfs");
        org.xenhost.fixtures.Fixtures.copyTree(fixture, tree);
        EmulatedLibxl libxl = EmulatedLibxl.open(dir.resolve("xen"),
                tree, HostSettings.DEFAULT.withResetLatency(resetLatency));
        return new EmulatedHost(tree, dir.resolve("state"), libxl);
    }

    /** A host over a generated tree of {@code functions} functions ({@code Fixtures.largeTree}: 16 igbvf VFs per port). */
    static EmulatedHost generated(Path dir, int functions) throws IOException {
        Path tree = dir.resolve("sysfs");
        org.xenhost.fixtures.Fixtures.largeTree(tree, functions);
        EmulatedLibxl libxl = EmulatedLibxl.open(dir.resolve("xen"), tree, HostSettings.DEFAULT);
        return new EmulatedHost(tree, dir.resolve("state"), libxl);
    }

    static Path fixtureTree(String fixture) {
        Path root = Path.of(System.getProperty("xenhost.root", "..")).resolve("fixtures/sysfs").resolve(fixture);
        assertTrue(Files.isDirectory(root.resolve("sys/bus/pci/devices")), "fixture tree " + root);
        return root;
    }

    HostCriticalDevices.Sources critical() {
        return new HostCriticalDevices.Sources(tree, tree.resolve("proc/mounts"), tree.resolve("proc/net/route"),
                null);
    }

    HostdevManager start() throws HostdevException {
        return start(StepHook.NONE);
    }

    HostdevManager start(StepHook hook) throws HostdevException {
        manager = HostdevManager.start(faulty, tree, state, critical(), hook);
        return manager;
    }

    /** xenhost dies and starts again; Xen, xenstore and sysfs are what they were at the moment of death. */
    HostdevManager restart() throws HostdevException {
        return restart(StepHook.NONE);
    }

    HostdevManager restart(StepHook hook) throws HostdevException {
        if (manager != null) {
            manager.close();
        }
        faulty.failOn(null, null);
        return start(hook);
    }

    int poolSize() {
        return manager.assignableList().size();
    }

    int createDomain(String name, String type) throws LibxlException {
        return libxl.createDomain("{\"name\":\"" + name + "\",\"memory\":16,\"passthrough\":\"enabled\",\"type\":\"" + type + "\"}", true);
    }

    /** The driver sysfs shows for a device, or null. */
    String driver(String bdf) throws IOException {
        Path link = tree.resolve("sys/bus/pci/devices").resolve(bdf).resolve("driver");
        return Files.isSymbolicLink(link) ? Files.readSymbolicLink(link).getFileName().toString() : null;
    }

    /** What lspci reports as the driver in use, from this tree (the oracle for sysfs binding). */
    String lspciDriver(String bdf) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("lspci", "-k", "-s", bdf, "-A", "linux-sysfs",
                "-O", "sysfs.path=" + tree.resolve("sys/bus/pci")).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        for (String line : out.split("\n")) {
            String t = line.trim();
            if (t.startsWith("Kernel driver in use:")) {
                return t.substring("Kernel driver in use:".length()).trim();
            }
        }
        return null;
    }

    /** The devices each domain has, by libxl's account. */
    Map<PciAddress, Integer> attached() throws LibxlException {
        Map<PciAddress, Integer> out = new HashMap<>();
        for (var d : libxl.listDomains()) {
            if (d.domid() == 0) {
                continue;
            }
            for (LibxlDevicePci p : libxl.pciList(d.domid())) {
                Integer prev = out.put(Host.address(p), d.domid());
                if (prev != null) {
                    fail(p.bdf() + " is attached to two domains: " + prev + " and " + d.domid());
                }
            }
        }
        return out;
    }

    /**
     * The invariant after every operation and every recovery: the journal has nothing pending, and it agrees with
     * sysfs and libxl for every device: ATTACHED(X) ⇔ in X's backend and on pciback; ASSIGNABLE ⇔ on pciback and
     * in no backend; no entry ⇔ not on pciback.
     */
    void assertConsistent() throws Exception {
        Map<PciAddress, Integer> attached = attached();
        Map<PciAddress, Ownership> journal = manager.ownerships();
        List<String> problems = new ArrayList<>();
        try (Stream<Path> s = Files.list(tree.resolve("sys/bus/pci/devices"))) {
            for (Path p : (Iterable<Path>) s::iterator) {
                PciAddress a = PciAddress.parse(p.getFileName().toString());
                String drv = driver(a.toString());
                Ownership o = journal.get(a);
                Integer dom = attached.get(a);
                if (o != null && o.pending() != Pending.NONE) {
                    problems.add(a + " still pending " + o.pending());
                }
                if (o == null) {
                    if ("pciback".equals(drv) || dom != null) {
                        problems.add(a + " has no journal entry but is on " + drv + (dom == null ? "" : " in domain " + dom));
                    }
                } else if (o.state() == DeviceState.ATTACHED) {
                    if (dom == null || dom != o.owner().domid() || !"pciback".equals(drv)) {
                        problems.add(a + " journaled ATTACHED to " + o.owner() + " but libxl says " + dom + ", driver " + drv);
                    }
                } else if (o.state() == DeviceState.ASSIGNABLE) {
                    if (dom != null || !"pciback".equals(drv)) {
                        problems.add(a + " journaled ASSIGNABLE but in domain " + dom + ", driver " + drv);
                    }
                } else {
                    problems.add(a + " journaled " + o.state() + " with nothing pending");
                }
            }
        }
        assertTrue(problems.isEmpty(), String.join("\n", problems));
    }

    @Override
    public void close() {
        if (manager != null) {
            manager.close();
        }
        libxl.close();
    }
}
