package org.xenhost.emulator;

import java.nio.file.Path;
import org.xenhost.libxl.DomainInfo;

/**
 * A process hosting an emulated Xen host (the test's "daemon"): opens DIR, creates a dirtying guest if it has
 * none, prints {@code READY <domid>} and then {@code STEPS <n>} every 50 ms until it is killed.
 */
public final class EmulatorChildMain {
    private EmulatorChildMain() {
    }

    public static void main(String[] args) throws Exception {
        EmulatedLibxl host = EmulatedLibxl.open(Path.of(args[0]), null, HostSettings.DEFAULT);
        int domid = host.findByName("persist").map(DomainInfo::domid).orElse(-1);
        if (domid < 0) {
            domid = host.createDomain(TestHosts.config("persist", "pvh", 64, 8_000_000, 4 << 20), false);
        }
        System.out.println("READY " + domid);
        System.out.flush();
        while (true) {
            System.out.println("STEPS " + host.hypervisor().domain(domid).orElseThrow().workloadSteps());
            System.out.flush();
            Thread.sleep(50);
        }
    }
}
