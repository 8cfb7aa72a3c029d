package org.xenhost.daemon;

import org.xenhost.emulator.EmulatedLibxl;
import org.xenhost.emulator.HostSettings;
import org.xenhost.hostdev.DeviceVerdict;
import org.xenhost.hostdev.HostCriticalDevices;
import org.xenhost.hostdev.HostdevManager;
import org.xenhost.hostdev.StepHook;
import org.xenhost.libxl.Libxl;
import org.xenhost.libxl.LibxlException;
import org.xenhost.libxl.jna.NativeLibxl;
import org.xenhost.pci.PciAddress;
import org.xenhost.pci.SysfsPciReader;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The one place that decides which Xen the in-process commands drive (until they move behind xenhostd): the sysfs
 * root {@code /} is this machine, driven through libxenlight; any other sysfs root is a fixture tree, driven
 * through an emulated Xen host whose kernel works on a private copy of the tree kept in the state directory
 * ({@code <state>/emulated/<tree>-<hash>/}), so the fixture itself never changes and the emulated host's devices,
 * domains and journal persist from one command to the next. Everything above sees only {@link Libxl}, a sysfs
 * root and a {@link HostdevManager}.
 */
public final class LocalHost implements AutoCloseable {
    private final Libxl libxl;
    private final Path sysfsRoot;
    private final HostdevManager manager;

    private LocalHost(Libxl libxl, Path sysfsRoot, HostdevManager manager) {
        this.libxl = libxl;
        this.sysfsRoot = sysfsRoot;
        this.manager = manager;
    }

    /**
     * Opens the host for {@code sysfsRoot} with its state in {@code stateDir}.
     *
     * @throws IllegalArgumentException if {@code sysfsRoot} is not a sysfs root or the state directory is unusable
     */
    public static LocalHost open(Path sysfsRoot, Path stateDir) throws Exception {
        Path root = sysfsRoot.toAbsolutePath().normalize();
        if (!Files.isDirectory(root.resolve("sys/bus/pci/devices"))) {
            throw new IllegalArgumentException("'" + sysfsRoot + "' is not a sysfs root: it has no sys/bus/pci/devices "
                    + "(give / or a tree such as fixtures/sysfs/asus-p6t6)");
        }
        Path state = stateDir.toAbsolutePath().normalize();
        if (root.equals(Path.of("/"))) {
            Libxl native_;
            try {
                native_ = NativeLibxl.open();
            } catch (LibxlException | LinkageError e) {
                throw new IllegalStateException("cannot open libxenlight on this host (" + e.getMessage() + "): run "
                        + "on a Xen dom0 with libxen installed, or give --sysfs-root a fixture tree to use the "
                        + "emulated host", e);
            }
            return start(native_, root, state, HostCriticalDevices.Sources.ofHost(root));
        }
        Path hostDir = emulatedHostDir(root, state);
        Path tree = hostDir.resolve("sysfs");
        if (!Files.isDirectory(tree)) {
            copyTree(root, tree);
        }
        EmulatedLibxl emulated;
        try {
            emulated = EmulatedLibxl.open(hostDir.resolve("xen"), tree, HostSettings.DEFAULT);
        } catch (IOException e) {
            throw new IllegalStateException("cannot open the emulated Xen host in " + hostDir + ": " + e.getMessage(), e);
        }
        return start(emulated, tree, hostDir, emulatedCritical(tree));
    }

    /**
     * The sysfs root a read-only command should read for {@code sysfsRoot}: this machine's, or for a fixture tree
     * the emulated host's working copy once one exists (so {@code pci list} shows what the pool commands did).
     */
    public static Path effectiveRoot(Path sysfsRoot, Path stateDir) throws NoSuchAlgorithmException {
        Path root = sysfsRoot.toAbsolutePath().normalize();
        if (root.equals(Path.of("/"))) {
            return root;
        }
        Path tree = emulatedHostDir(root, stateDir).resolve("sysfs");
        return Files.isDirectory(tree) ? tree : root;
    }

    /**
     * Per device: could it be given to a guest now, why not, who owns it. Read-only (sysfs and the journal as they
     * are; nothing is opened for writing, no libxl), so it works on any host.
     */
    public static Map<PciAddress, DeviceVerdict> verdicts(Path sysfsRoot, Path stateDir) throws Exception {
        Path root = sysfsRoot.toAbsolutePath().normalize();
        if (root.equals(Path.of("/"))) {
            return HostdevManager.verdicts(root, stateDir.toAbsolutePath().normalize(),
                    HostCriticalDevices.Sources.ofHost(root));
        }
        Path hostDir = emulatedHostDir(root, stateDir);
        Path tree = effectiveRoot(root, stateDir);
        return HostdevManager.verdicts(tree, hostDir, emulatedCritical(tree));
    }

    private static Path emulatedHostDir(Path root, Path stateDir) throws NoSuchAlgorithmException {
        return stateDir.toAbsolutePath().normalize().resolve("emulated").resolve(root.getFileName() + "-" + hash(root));
    }

    /** The emulated host's mount table and routes, if a test put them beside its sysfs (else none are critical). */
    private static HostCriticalDevices.Sources emulatedCritical(Path tree) {
        return new HostCriticalDevices.Sources(tree, tree.resolve("proc/mounts"), tree.resolve("proc/net/route"),
                tree.resolve("proc/net/ipv6_route"));
    }

    private static LocalHost start(Libxl libxl, Path root, Path state, HostCriticalDevices.Sources critical)
            throws Exception {
        try {
            return new LocalHost(libxl, root, HostdevManager.start(libxl, root, state, critical, StepHook.NONE));
        } catch (Exception | Error e) {
            libxl.close();
            throw e;
        }
    }

    /** libxl (native or emulated; callers do not know which). */
    public Libxl libxl() {
        return libxl;
    }

    /** The sysfs root the host's devices are read from (for a fixture: its working copy). */
    public Path sysfsRoot() {
        return sysfsRoot;
    }

    /** A PCI reader over {@link #sysfsRoot()}. */
    public SysfsPciReader reader() {
        return new SysfsPciReader(sysfsRoot);
    }

    public HostdevManager manager() {
        return manager;
    }

    @Override
    public void close() {
        manager.close();
        libxl.close();
    }

    private static String hash(Path root) throws NoSuchAlgorithmException {
        byte[] d = MessageDigest.getInstance("SHA-256").digest(root.toString().getBytes(StandardCharsets.UTF_8));
        return HexFormat.of().formatHex(d, 0, 4);
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
            // another command made it first; use theirs
        }
    }
}
