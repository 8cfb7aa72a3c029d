package org.xenhost.daemon.cli;

import org.xenhost.daemon.LocalHost;
import org.xenhost.hostdev.Finding;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Path;

/**
 * Where the host-device commands find the host while they run in-process: the sysfs root ({@code /} is this
 * machine, driven through libxenlight; a fixture tree is driven through an emulated Xen host on a working copy)
 * and the state directory that holds the ownership journal.
 */
public final class HostOptions {
    @Option(names = "--sysfs-root", paramLabel = "DIR", defaultValue = "/",
            description = "sysfs root: / for this host, or a fixture tree such as fixtures/sysfs/asus-p6t6 "
                    + "(driven through an emulated Xen host on a working copy in the state directory)")
    Path sysfsRoot;

    @Option(names = "--state-dir", paramLabel = "DIR", defaultValue = "${env:XENHOST_STATE_DIR:-/var/lib/xenhost}",
            description = "state directory (ownership journal, emulated hosts); default $XENHOST_STATE_DIR or "
                    + "/var/lib/xenhost")
    Path stateDir;

    /** Opens the host and prints what start-up reconciliation found to {@code err}. */
    LocalHost open(PrintWriter err) throws Exception {
        LocalHost host = LocalHost.open(sysfsRoot, stateDir);
        for (Finding f : host.manager().startupFindings()) {
            err.println("xenhost: reconciled " + f);
        }
        err.flush();
        return host;
    }
}
