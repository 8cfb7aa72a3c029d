package org.xenhost.daemon;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenhost.daemon.admin.AdminServer;
import org.xenhost.daemon.config.DaemonConfig;
import org.xenhost.driver.job.DomainJobs;
import org.xenhost.driver.xen.XenDriver;
import org.xenhost.emulator.EmulatedLibxl;
import org.xenhost.emulator.HostSettings;
import org.xenhost.libxl.Libxl;
import org.xenhost.libxl.LibxlException;
import org.xenhost.libxl.jna.NativeLibxl;
import org.xenhost.pci.HostFacts;
import org.xenhost.transport.PeerAcceptor;
import org.xenhost.transport.PeerAllowlist;
import org.xenhost.transport.Transport;
import org.xenhost.transport.TransportConfig;
import org.xenhost.transport.pki.HostCredentials;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.function.Supplier;

/**
 * xenhostd: the composition root. It is the one place that chooses the real or the emulated {@link Libxl};
 * everything it builds above that sees only the interface.
 */
public final class Xenhostd implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Xenhostd.class);

    private final DaemonConfig config;
    private final Libxl libxl;
    private final XenDriver driver;
    private final AdminServer admin;
    private final Transport transport;
    private final PeerAcceptor migrationListener;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final org.xenhost.hostdev.HostdevManager hostdevs;

    private Xenhostd(DaemonConfig config, Libxl libxl, XenDriver driver, AdminServer admin, Transport transport,
                     PeerAcceptor migrationListener, org.xenhost.hostdev.HostdevManager hostdevs) {
        this.hostdevs = hostdevs;
        this.config = config;
        this.libxl = libxl;
        this.driver = driver;
        this.admin = admin;
        this.transport = transport;
        this.migrationListener = migrationListener;
    }

    /** Opens the hypervisor, reconciles state, and starts serving. Fails without side effects. */
    public static Xenhostd start(DaemonConfig config, Supplier<HostFacts> hostFacts) throws IOException, LibxlException {
        Files.createDirectories(config.stateDir());
        Libxl libxl = openHypervisor(config);
        Transport transport = null;
        PeerAcceptor listener = null;
        org.xenhost.hostdev.HostdevManager hostdevs = null;
        try {
            // 1. the TLS migration port, when configured (there is no plaintext one)
            String endpoint = null;
            if (config.listen() != null) {
                HostCredentials creds = HostCredentials.load(config.tlsDir(), config.tlsName());
                transport = Transport.start(TransportConfig.builder(creds, PeerAllowlist.of(config.allowPeers())).build());
                listener = transport.listen(config.listen());
                String host = config.listen().getAddress() != null && config.listen().getAddress().isAnyLocalAddress()
                        ? hostFacts.get().hostname() : config.listen().getHostString();
                endpoint = host + ":" + listener.address().getPort();
                log.info("migration listener on {} ({})", endpoint, transport.description());
            }
            // 2. the host-device manager, when this host has PCI devices to give (it reconciles its journal first)
            hostdevs = openHostdevs(config, libxl);
            // 3. the driver (which settles interrupted migrations), then the admin socket
            XenDriver driver = new XenDriver(libxl, config.stateDir(), new DomainJobs(), hostFacts, hostdevs,
                    hostdevs == null ? null : devicesRoot(config), transport, endpoint);
            if (listener != null) {
                driver.serveMigrations(listener);
            }
            AdminServer admin = AdminServer.start(driver, config.adminSocket(), config.adminGroup(), 64);
            log.info("xenhostd ready: hypervisor {}, state {}, admin socket {}", config.hypervisor(), config.stateDir(), config.adminSocket());
            return new Xenhostd(config, libxl, driver, admin, transport, listener, hostdevs);
        } catch (IOException | RuntimeException | org.xenhost.hostdev.HostdevException e) {
            if (hostdevs != null) {
                hostdevs.close();
            }
            if (listener != null) {
                listener.close();
            }
            if (transport != null) {
                transport.close();
            }
            libxl.close();
            if (e instanceof org.xenhost.hostdev.HostdevException h) {
                throw new IllegalStateException("host-device manager: " + h.getMessage(), h);
            }
            if (e instanceof IOException io) {
                throw io;
            }
            throw (RuntimeException) e;
        }
    }

    /** The sysfs tree the host's devices live in: the real one, or the emulated kernel's copy; null if none. */
    private static Path devicesRoot(DaemonConfig config) {
        if (config.hypervisor().equals("native")) {
            return Path.of("/");
        }
        Path tree = config.stateDir().resolve("emulated-xen").resolve("sysfs");
        return java.nio.file.Files.isDirectory(tree.resolve("sys/bus/pci/devices")) ? tree : null;
    }

    private static org.xenhost.hostdev.HostdevManager openHostdevs(DaemonConfig config, Libxl libxl)
            throws org.xenhost.hostdev.HostdevException {
        Path root = devicesRoot(config);
        if (root == null) {
            return null;
        }
        org.xenhost.hostdev.HostCriticalDevices.Sources critical = config.hypervisor().equals("native")
                ? org.xenhost.hostdev.HostCriticalDevices.Sources.ofHost(root)
                : new org.xenhost.hostdev.HostCriticalDevices.Sources(root, root.resolve("proc/mounts"),
                        root.resolve("proc/net/route"), root.resolve("proc/net/ipv6_route"));
        org.xenhost.hostdev.HostdevManager m = org.xenhost.hostdev.HostdevManager.start(libxl, root, config.stateDir(),
                critical, org.xenhost.hostdev.StepHook.NONE);
        m.startupFindings().forEach(f -> log.warn("host devices at start: {}", f));
        return m;
    }

    private static Libxl openHypervisor(DaemonConfig config) throws IOException, LibxlException {
        if (config.hypervisor().equals("native")) {
            // no silent fallback: on a host without Xen this fails with the binding's own message
            return NativeLibxl.open();
        }
        Path sysfs = config.sysfsRoot().toAbsolutePath().normalize();
        HostSettings host = config.emulatedMemoryMiB() > 0
                ? HostSettings.DEFAULT.withTotalMemory(config.emulatedMemoryMiB() << 20) : HostSettings.DEFAULT;
        Path xen = config.stateDir().resolve("emulated-xen");
        if (sysfs.equals(Path.of("/"))) {
            // never let the emulated kernel write to this machine's real /sys: no PCI devices then
            return EmulatedLibxl.open(xen, null, host);
        }
        if (!java.nio.file.Files.isDirectory(sysfs.resolve("sys/bus/pci/devices"))) {
            throw new IllegalArgumentException("sysfs root " + sysfs + " has no sys/bus/pci/devices; give a tree such as fixtures/sysfs/asus-p6t6");
        }
        // the emulated kernel works on the host's own copy, so a fixture tree is never changed and the
        // emulated host's devices persist with the rest of its state
        Path tree = xen.resolve("sysfs");
        if (!java.nio.file.Files.isDirectory(tree)) {
            LocalHost.copyTree(sysfs, tree);
        }
        return EmulatedLibxl.open(xen, tree, host);
    }

    public DaemonConfig config() {
        return config;
    }

    public XenDriver driver() {
        return driver;
    }

    /** Blocks until {@link #close()}. */
    public void awaitStop() throws InterruptedException {
        stopped.await();
    }

    /**
     * Stops serving. Running domains keep running: they belong to Xen, not to the daemon; their state is
     * already on disk, and a job cut short here is reported as interrupted at the next start.
     */
    @Override
    public void close() {
        if (stopped.getCount() == 0) {
            return;
        }
        admin.close();
        if (migrationListener != null) {
            migrationListener.close();
        }
        driver.close();
        if (transport != null) {
            transport.close();
        }
        if (hostdevs != null) {
            hostdevs.close();
        }
        libxl.close();
        log.info("xenhostd stopped; domains keep running");
        stopped.countDown();
    }
}
