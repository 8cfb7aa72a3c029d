package org.xenhost.daemon.cli;

import org.xenhost.daemon.Xenhostd;
import org.xenhost.daemon.config.DaemonConfig;
import org.xenhost.pci.HostFacts;
import org.xenhost.pci.HostFactsReader;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Supplier;

/** {@code xenhost daemon}: runs xenhostd in the foreground until SIGTERM or SIGINT. */
@Command(name = "daemon", description = "Run xenhostd in the foreground.")
final class DaemonCommand implements Callable<Integer> {
    @Option(names = "--config", paramLabel = "FILE", description = "settings file (key = value lines)")
    Path configFile;
    @Option(names = "--hypervisor", paramLabel = "emulated|native")
    String hypervisor;
    @Option(names = "--sysfs-root", paramLabel = "DIR")
    String sysfsRoot;
    @Option(names = "--state-dir", paramLabel = "DIR")
    String stateDir;
    @Option(names = "--admin-socket", paramLabel = "PATH")
    String adminSocket;
    @Option(names = "--admin-group", paramLabel = "GROUP")
    String adminGroup;
    @Option(names = "--listen", paramLabel = "HOST:PORT", description = "migration/TLS port; port 0 picks one and prints it")
    String listen;
    @Option(names = "--tls-dir", paramLabel = "DIR")
    String tlsDir;
    @Option(names = "--tls-name", paramLabel = "HOST")
    String tlsName;
    @Option(names = "--allow-peer", paramLabel = "PATTERN", description = "certificate subject/SAN pattern allowed to connect (repeatable)")
    List<String> allowPeers;
    @Option(names = "--emulated-memory", paramLabel = "MiB", description = "memory of a newly created emulated host")
    String emulatedMemory;
    @Option(names = "--peer-timeout", paramLabel = "SECONDS",
            description = "a migration peer counts as gone after this long without connecting or answering (default 10)")
    String peerTimeout;
    @Option(names = "--domain-watch", paramLabel = "SECONDS",
            description = "look for guests gone from Xen without xenhost (crashed, xl destroy) this often, to give their "
                    + "devices back and free their names (default 5; 0: only when domains are listed or created)")
    String domainWatch;

    @Override
    public Integer call() throws Exception {
        String text = null;
        if (configFile != null) {
            try {
                text = Files.readString(configFile);
            } catch (NoSuchFileException e) {
                throw new IllegalArgumentException("config file " + configFile + " does not exist");
            }
        }
        Map<String, Object> flags = new HashMap<>();
        flags.put("hypervisor", hypervisor);
        flags.put("sysfs_root", sysfsRoot);
        flags.put("state_dir", stateDir);
        flags.put("admin_socket", adminSocket);
        flags.put("admin_group", adminGroup);
        flags.put("listen", listen);
        flags.put("tls_dir", tlsDir);
        flags.put("tls_name", tlsName);
        flags.put("allow_peer", allowPeers);
        flags.put("emulated_memory", emulatedMemory);
        flags.put("peer_timeout", peerTimeout);
        flags.put("domain_watch", domainWatch);
        DaemonConfig config = DaemonConfig.resolve(String.valueOf(configFile), text, flags);
        Supplier<HostFacts> facts = hostFacts();
        Xenhostd d = Xenhostd.start(config, facts);
        // read OSHI's facts now, in the background: the first migration (its cookie, the destination's checks)
        // or `host info` would otherwise pay OSHI's slow start while a peer waits
        Thread warm = new Thread(() -> {
            try {
                facts.get();
            } catch (RuntimeException e) {
                // reported by the call that needs the facts
            }
        }, "host-facts");
        warm.setDaemon(true);
        warm.start();
        // SIGTERM/SIGINT end the daemon cleanly (exit 0, as systemd expects), not with the JVM's 143
        for (String sig : new String[] {"TERM", "INT"}) {
            sun.misc.Signal.handle(new sun.misc.Signal(sig), s -> new Thread(d::close, "xenhostd-stop").start());
        }
        System.out.println("xenhostd ready: admin socket " + config.adminSocket());
        System.out.flush();
        d.awaitStop();
        return Main.EXIT_OK;
    }

    /** The dom0 operating system's view (OSHI); read once, lazily, as OSHI is slow to start. */
    static Supplier<HostFacts> hostFacts() {
        return new Supplier<>() {
            private volatile HostFacts facts;

            @Override
            public HostFacts get() {
                HostFacts f = facts;
                if (f == null) {
                    f = HostFactsReader.read();
                    facts = f;
                }
                return f;
            }
        };
    }
}
