package org.xenhost.daemon;

import org.xenhost.daemon.config.DaemonConfig;
import org.xenhost.emulator.EmulatedLibxl;
import org.xenhost.emulator.HostSettings;
import org.xenhost.hostdev.DeviceVerdict;
import org.xenhost.hostdev.Finding;
import org.xenhost.hostdev.HostCriticalDevices;
import org.xenhost.hostdev.HostdevException;
import org.xenhost.hostdev.HostdevManager;
import org.xenhost.libxl.Libxl;
import org.xenhost.libxl.LibxlException;
import org.xenhost.libxl.jna.NativeLibxl;
import org.xenhost.pci.PciAddress;
import org.xenhost.pci.PciInventory;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The one place that chooses which Xen xenhost drives and which sysfs tree its host-device manager reads:
 * <ul>
 *   <li>{@code native}: libxenlight on this dom0, over this machine's sysfs;
 *   <li>{@code emulated} over a fixture tree (e.g. {@code fixtures/sysfs/asus-p6t6}): an emulated Xen host kept in
 *       {@code <state>/emulated-xen/}, whose kernel works on a private copy of the tree in
 *       {@code <state>/emulated-xen/sysfs} (the fixture never changes; the devices persist with the host);
 *   <li>{@code emulated} over {@code /}: an emulated Xen host without PCI devices (the emulated kernel never
 *       writes to this machine's real /sys), so no host-device manager.
 * </ul>
 * Everything above sees only {@link Libxl}, a sysfs root and a {@link HostdevManager}.
 */
public final class HypervisorHost implements AutoCloseable {
    private final Libxl libxl;
    private final Path sysfsRoot;
    private final HostdevManager devices;

    private HypervisorHost(Libxl libxl, Path sysfsRoot, HostdevManager devices) {
        this.libxl = libxl;
        this.sysfsRoot = sysfsRoot;
        this.devices = devices;
    }

    /**
     * Opens the hypervisor the configuration names and, when the host has PCI devices, the host-device manager
     * (which replays its journal and reconciles it with sysfs and libxl before this returns). Fails without side
     * effects; {@code native} on a host without Xen fails with the binding's message, never falls back.
     */
    public static HypervisorHost open(DaemonConfig config) throws IOException, LibxlException, HostdevException {
        Path state = config.stateDir().toAbsolutePath().normalize();
        if (config.hypervisor().equals("native")) {
            Path root = config.sysfsRoot().toAbsolutePath().normalize();
            return withDevices(NativeLibxl.open(), root, state, HostCriticalDevices.Sources.ofHost(root));
        }
        Path sysfs = config.sysfsRoot().toAbsolutePath().normalize();
        HostSettings settings = config.emulatedMemoryMiB() > 0
                ? HostSettings.DEFAULT.withTotalMemory(config.emulatedMemoryMiB() << 20) : HostSettings.DEFAULT;
        Path xen = emulatedDir(state);
        if (sysfs.equals(Path.of("/"))) {
            return new HypervisorHost(EmulatedLibxl.open(xen, null, settings), null, null);
        }
        if (!Files.isDirectory(sysfs.resolve("sys/bus/pci/devices"))) {
            throw new IllegalArgumentException("sysfs root " + sysfs + " has no sys/bus/pci/devices; give a tree such as fixtures/sysfs/asus-p6t6");
        }
        Path tree = xen.resolve("sysfs");
        if (!Files.isDirectory(tree)) {
            copyTree(sysfs, tree);
        }
        return withDevices(EmulatedLibxl.open(xen, tree, settings), tree, state, emulatedCritical(tree));
    }

    private static HypervisorHost withDevices(Libxl libxl, Path root, Path state, HostCriticalDevices.Sources critical)
            throws HostdevException {
        try {
            return new HypervisorHost(libxl, root, HostdevManager.start(libxl, root, state, critical, HostdevHalt.fromEnvironment()));
        } catch (HostdevException | RuntimeException e) {
            libxl.close();
            throw e;
        }
    }

    /**
     * The sysfs tree {@code pci list} reads for {@code --sysfs-root} and {@code --state-dir}, without a daemon:
     * this machine's, or for a fixture tree the working copy an emulated xenhostd keeps in that state directory
     * once one exists (so the list shows what the daemon did).
     */
    public static Path listRoot(Path sysfsRoot, Path stateDir) {
        Path root = sysfsRoot.toAbsolutePath().normalize();
        if (root.equals(Path.of("/"))) {
            return root;
        }
        Path tree = emulatedDir(stateDir.toAbsolutePath().normalize()).resolve("sysfs");
        return Files.isDirectory(tree.resolve("sys/bus/pci/devices")) ? tree : root;
    }

    /**
     * Per device: could it be given to a guest now, why not, who owns it. Read only (sysfs and the journal as they
     * are; no libxl, nothing written), so it works with or without a daemon.
     */
    public static Map<PciAddress, DeviceVerdict> verdicts(Path sysfsRoot, Path stateDir) {
        return verdicts(sysfsRoot, stateDir, null);
    }

    /**
     * The same, judged against {@code inventory}: a scan of {@link #listRoot} the caller has just made, so a listing
     * reads sysfs once (null: scan here).
     */
    public static Map<PciAddress, DeviceVerdict> verdicts(Path sysfsRoot, Path stateDir, PciInventory inventory) {
        Path root = listRoot(sysfsRoot, stateDir);
        HostCriticalDevices.Sources critical = root.equals(Path.of("/"))
                ? HostCriticalDevices.Sources.ofHost(root) : emulatedCritical(root);
        return HostdevManager.verdicts(root, stateDir.toAbsolutePath().normalize(), critical, inventory);
    }

    private static Path emulatedDir(Path state) {
        return state.resolve("emulated-xen");
    }

    /** The emulated host's mount table and routes, if a test put them beside its sysfs (else none are critical). */
    private static HostCriticalDevices.Sources emulatedCritical(Path tree) {
        return new HostCriticalDevices.Sources(tree, tree.resolve("proc/mounts"), tree.resolve("proc/net/route"),
                tree.resolve("proc/net/ipv6_route"));
    }

    public Libxl libxl() {
        return libxl;
    }

    /** The sysfs root the host-device manager reads, or null when this host has no PCI devices. */
    public Path sysfsRoot() {
        return sysfsRoot;
    }

    /** The host-device manager, or null when this host has no PCI devices. */
    public HostdevManager devices() {
        return devices;
    }

    /** What the manager's start-up reconciliation found and did (empty after a clean stop). */
    public List<Finding> findings() {
        return devices == null ? List.of() : devices.startupFindings();
    }

    @Override
    public void close() {
        if (devices != null) {
            devices.close();
        }
        libxl.close();
    }

    /** Copies a sysfs tree, links as links, into place atomically (a half-copied tree is never used). */
    static void copyTree(Path from, Path to) throws IOException {
        Files.createDirectories(to.getParent());
        Path tmp = Files.createTempDirectory(to.getParent(), "sysfs-copy");
        try (Stream<Path> walk = Files.walk(from)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                Path dest = tmp.resolve(from.relativize(p).toString());
                if (Files.isSymbolicLink(p)) {
                    Files.createSymbolicLink(dest, Files.readSymbolicLink(p));
                } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    Files.createDirectories(dest);
                } else {
                    Files.copy(p, dest, StandardCopyOption.COPY_ATTRIBUTES, LinkOption.NOFOLLOW_LINKS);
                }
            }
        }
        try {
            Files.move(tmp, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (FileAlreadyExistsException e) {
            // another process made it first; use theirs
        }
    }
}
