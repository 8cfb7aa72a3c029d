package org.xenhost.daemon.cli;

import org.xenhost.daemon.LocalHost;
import org.xenhost.hostdev.AttachResult;
import org.xenhost.hostdev.ResetPlan;
import org.xenhost.libxl.LibxlDevicePci;
import org.xenhost.libxl.pcispec.PciSpecParser;
import org.xenhost.pci.PciAddress;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

/** {@code xenhost attach-device} and {@code xenhost detach-device}: PCI hotplug on a running domain. */
public final class DeviceCommands {
    private DeviceCommands() {
    }

    /** {@code xenhost attach-device DOMAIN 'SPEC' [--force]}. */
    @Command(name = "attach-device", mixinStandardHelpOptions = true,
            description = "Attach a PCI device to a running domain. SPEC is an xl.cfg PCI spec, e.g. "
                    + "'0000:03:00.0,permissive=1', '03:00.*@5,seize=1', 'name=gpu0,rdm_policy=relaxed'.")
    public static final class Attach implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Mixin
        HostOptions host;
        @Parameters(index = "0", paramLabel = "DOMAIN", description = "domain name or domid")
        String domain;
        @Parameters(index = "1", paramLabel = "SPEC", description = "xl.cfg PCI spec (see xl-pci-configuration(5))")
        String pciSpec;
        @Option(names = "--force", description = "attach even a host-critical device or one with no safe reset")
        boolean force;

        @Override
        public Integer call() throws Exception {
            LibxlDevicePci pci = PciSpecParser.parse(pciSpec);
            PrintWriter out = spec.commandLine().getOut();
            try (LocalHost h = host.open(spec.commandLine().getErr())) {
                AttachResult r = h.manager().attach(domain, pci, force);
                out.println("attached " + r.devices() + " to domain " + r.owner());
                for (ResetPlan p : r.resets()) {
                    out.println("  reset " + p);
                }
            }
            out.flush();
            return Main.EXIT_OK;
        }
    }

    /** {@code xenhost detach-device DOMAIN BDF [--force]}. */
    @Command(name = "detach-device", mixinStandardHelpOptions = true,
            description = "Detach a PCI device from a domain; it stays assignable (on pciback).")
    public static final class Detach implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Mixin
        HostOptions host;
        @Parameters(index = "0", paramLabel = "DOMAIN", description = "domain name or domid")
        String domain;
        @Parameters(index = "1", paramLabel = "BDF", description = "the device, DDDD:BB:DD.F or BB:DD.F")
        String bdf;
        @Option(names = "--force", description = "do not wait for the guest to release it (libxl pci-destroy)")
        boolean force;

        @Override
        public Integer call() throws Exception {
            PciAddress a = PciAddress.parse(bdf);
            PrintWriter out = spec.commandLine().getOut();
            try (LocalHost h = host.open(spec.commandLine().getErr())) {
                h.manager().detach(domain, a, force);
                out.println("detached " + a + " from domain " + domain + "; it is in the assignable pool");
            }
            out.flush();
            return Main.EXIT_OK;
        }
    }
}
