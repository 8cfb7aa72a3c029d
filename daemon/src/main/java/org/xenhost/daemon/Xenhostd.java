package org.xenhost.daemon;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenhost.daemon.admin.AdminServer;
import org.xenhost.daemon.config.DaemonConfig;
import org.xenhost.driver.job.DomainJobs;
import org.xenhost.driver.xen.HostFacts;
import org.xenhost.driver.xen.XenDriver;
import org.xenhost.emulator.EmulatedLibxl;
import org.xenhost.emulator.HostSettings;
import org.xenhost.libxl.Libxl;
import org.xenhost.libxl.LibxlException;
import org.xenhost.libxl.jna.NativeLibxl;

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
    private final CountDownLatch stopped = new CountDownLatch(1);

    private Xenhostd(DaemonConfig config, Libxl libxl, XenDriver driver, AdminServer admin) {
        this.config = config;
        this.libxl = libxl;
        this.driver = driver;
        this.admin = admin;
    }

    /** Opens the hypervisor, reconciles state, and starts serving. Fails without side effects. */
    public static Xenhostd start(DaemonConfig config, Supplier<HostFacts> hostFacts) throws IOException, LibxlException {
        Files.createDirectories(config.stateDir());
        Libxl libxl = openHypervisor(config);
        try {
            XenDriver driver = new XenDriver(libxl, config.stateDir(), new DomainJobs(), hostFacts);
            AdminServer admin = AdminServer.start(driver, config.adminSocket(), config.adminGroup(), 64);
            log.info("xenhostd ready: hypervisor {}, state {}, admin socket {}", config.hypervisor(), config.stateDir(), config.adminSocket());
            return new Xenhostd(config, libxl, driver, admin);
        } catch (IOException | RuntimeException e) {
            libxl.close();
            throw e;
        }
    }

    private static Libxl openHypervisor(DaemonConfig config) throws IOException, LibxlException {
        if (config.hypervisor().equals("native")) {
            // no silent fallback: on a host without Xen this fails with the binding's own message
            return NativeLibxl.open();
        }
        Path sysfs = config.sysfsRoot();
        return EmulatedLibxl.open(config.stateDir().resolve("emulated-xen"), sysfs.equals(Path.of("/")) ? null : sysfs,
                HostSettings.DEFAULT);
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
        driver.close();
        libxl.close();
        log.info("xenhostd stopped; domains keep running");
        stopped.countDown();
    }
}
