package org.xenhost.daemon;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenhost.daemon.admin.AdminServer;
import org.xenhost.daemon.config.DaemonConfig;
import org.xenhost.driver.job.DomainJobs;
import org.xenhost.driver.xen.XenDriver;
import org.xenhost.hostdev.Finding;
import org.xenhost.hostdev.HostdevException;
import org.xenhost.libxl.Libxl;
import org.xenhost.libxl.LibxlException;
import org.xenhost.pci.HostFacts;
import org.xenhost.transport.PeerAcceptor;
import org.xenhost.transport.PeerAllowlist;
import org.xenhost.transport.Transport;
import org.xenhost.transport.TransportConfig;
import org.xenhost.transport.pki.HostCredentials;

import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * xenhostd: the composition root. {@link HypervisorHost} chooses the real or the emulated {@link Libxl} and the
 * sysfs tree; everything built above that sees only the interfaces.
 */
public final class Xenhostd implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Xenhostd.class);

    private final DaemonConfig config;
    private final HypervisorHost host;
    private final XenDriver driver;
    private final AdminServer admin;
    private final Transport transport;
    private final PeerAcceptor migrationListener;
    private final ScheduledExecutorService domainWatch;
    private final CountDownLatch stopped = new CountDownLatch(1);

    private Xenhostd(DaemonConfig config, HypervisorHost host, XenDriver driver, AdminServer admin, Transport transport,
                     PeerAcceptor migrationListener) {
        this.config = config;
        this.host = host;
        this.driver = driver;
        this.admin = admin;
        this.transport = transport;
        this.migrationListener = migrationListener;
        this.domainWatch = config.domainWatchSeconds() > 0 ? watchDomains(driver, config.domainWatchSeconds()) : null;
    }

    /**
     * xenhostd's domain watch: every few seconds, settles the guests that left Xen without it (a crash, xl destroy),
     * so their devices go back and their names are free with nobody asking. libvirt's libxl driver learns this from
     * libxl's domain-death event; xenhost has no libxl event loop, and one {@code libxl_list_domain} every few seconds
     * (only while a guest of ours runs) costs nothing next to a guest's lifetime.
     */
    private static ScheduledExecutorService watchDomains(XenDriver driver, int seconds) {
        ScheduledExecutorService watch = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "xenhost-domain-watch");
            t.setDaemon(true);
            return t;
        });
        watch.scheduleWithFixedDelay(() -> {
            try {
                driver.settleGone();
            } catch (RuntimeException e) {
                // a failure now (libxl's list, a device's release) says nothing about the next round: the watch goes on
                log.warn("domain watch: settling guests gone from Xen failed ({}); trying again in {} s", e.getMessage(),
                        seconds);
            }
        }, seconds, seconds, TimeUnit.SECONDS);
        return watch;
    }

    /** Opens the hypervisor, reconciles state, and starts serving. Fails without side effects. */
    public static Xenhostd start(DaemonConfig config, Supplier<HostFacts> hostFacts)
            throws IOException, LibxlException, HostdevException {
        Files.createDirectories(config.stateDir());
        // 0. the hypervisor, and the host-device manager, which settles every device a previous daemon left
        //    half moved before any domain is looked at
        HypervisorHost host = HypervisorHost.open(config);
        for (Finding f : host.findings()) {
            log.warn("host device reconciled: {}", f);
        }
        Transport transport = null;
        PeerAcceptor listener = null;
        XenDriver driver = null;
        try {
            // 1. the TLS migration port, when configured (there is no plaintext one)
            String endpoint = null;
            if (config.listen() != null) {
                HostCredentials creds = HostCredentials.load(config.tlsDir(), config.tlsName());
                TransportConfig.Builder tc = TransportConfig.builder(creds, PeerAllowlist.of(config.allowPeers()));
                if (config.peerTimeoutSeconds() > 0) {
                    Duration t = Duration.ofSeconds(config.peerTimeoutSeconds());
                    // silence is noticed within the timeout: keepalives go out five times as often
                    tc.handshakeTimeout(t).idleTimeout(t).keepaliveInterval(t.dividedBy(5));
                }
                transport = Transport.start(tc.build());
                listener = transport.listen(config.listen());
                String hostName = config.listen().getAddress() != null && config.listen().getAddress().isAnyLocalAddress()
                        ? hostFacts.get().hostname() : config.listen().getHostString();
                endpoint = hostName + ":" + listener.address().getPort();
                log.info("migration listener on {} ({})", endpoint, transport.description());
            }
            // 2. the driver (which settles interrupted migrations), then the admin socket
            driver = new XenDriver(host.libxl(), config.stateDir(), new DomainJobs(), hostFacts, host.devices(),
                    host.sysfsRoot(), transport, endpoint);
            if (listener != null) {
                driver.serveMigrations(listener);
            }
            AdminServer admin = AdminServer.start(driver, config.adminSocket(), config.adminGroup(), 64);
            log.info("xenhostd ready: hypervisor {}, state {}, admin socket {}", config.hypervisor(), config.stateDir(), config.adminSocket());
            return new Xenhostd(config, host, driver, admin, transport, listener);
        } catch (IOException | RuntimeException e) {
            // in reverse: the listener first, so no migration arrives at a driver being closed
            if (listener != null) {
                listener.close();
            }
            if (driver != null) {
                driver.close();
            }
            if (transport != null) {
                transport.close();
            }
            host.close();
            throw e;
        }
    }

    public DaemonConfig config() {
        return config;
    }

    public XenDriver driver() {
        return driver;
    }

    /** The hypervisor under the driver: tests reach Xen behind the daemon's back through it, as xl would. */
    HypervisorHost host() {
        return host;
    }

    /** Blocks until {@link #close()}. */
    public void awaitStop() throws InterruptedException {
        stopped.await();
    }

    /**
     * Stops serving. Running domains keep running: they belong to Xen, not to the daemon; their state is
     * already on disk, and a job cut short here is reported as interrupted at the next start. Runs once: a second
     * caller (Ctrl-C at a terminal signals the whole process group, so a daemon the demo started gets SIGINT and the
     * demo's SIGTERM together) waits for the first to finish.
     */
    @Override
    public synchronized void close() {
        if (stopped.getCount() == 0) {
            return;
        }
        if (domainWatch != null) {
            // first, and waited for: a round in progress must not settle domains through a driver being closed
            domainWatch.shutdownNow();
            try {
                domainWatch.awaitTermination(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        admin.close();
        if (migrationListener != null) {
            migrationListener.close();
        }
        driver.close();
        if (transport != null) {
            transport.close();
        }
        host.close();
        log.info("xenhostd stopped; domains keep running");
        stopped.countDown();
    }
}
