package org.xenhost.daemon.cli;

import org.xenhost.driver.api.DeviceChange;
import org.xenhost.driver.api.DeviceOptions;
import org.xenhost.driver.api.Driver;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;

/**
 * {@code xenhost attach-device} and {@code xenhost detach-device}: PCI hotplug and the domain's definition, as
 * virsh's flags ({@code --live}, {@code --config}, {@code --persistent}; neither: the running domain if it runs,
 * else its definition). Both are modify jobs on the domain, run by xenhostd.
 */
public final class DeviceCommands {
    private DeviceCommands() {
    }

    /** The scope flags both commands share. */
    abstract static class DeviceCommand extends DomainCommands.DriverCommand {
        @Parameters(index = "0", paramLabel = "DOM", description = "domain name, uuid or domid")
        String dom;
        @Option(names = "--live", description = "change the running domain")
        boolean live;
        @Option(names = "--config", description = "change the domain's definition (its next start)")
        boolean config;
        @Option(names = "--persistent", description = "both: the running domain (if it runs) and its definition")
        boolean persistent;
        @Option(names = "--json", description = "print what was done as JSON")
        boolean json;

        DeviceOptions options(boolean force) {
            return new DeviceOptions(live || persistent, config || persistent, force);
        }

        void report(DeviceChange c, String verb) {
            if (json) {
                Output.json(out(), c);
                return;
            }
            PrintWriter o = out();
            String where = c.live() && c.config() ? "domain " + c.domain() + " and its definition"
                    : c.live() ? "domain " + c.domain() : "the definition of domain " + c.domain();
            o.println("Device " + String.join(", ", c.devices()) + " " + verb + " " + where
                    + (c.returnedTo() == null ? "" : "; back on dom0 driver " + c.returnedTo()));
            c.resets().forEach(r -> o.println("  reset " + r));
            c.warnings().forEach(w -> spec.commandLine().getErr().println("xenhost: warning: " + w));
            o.flush();
            spec.commandLine().getErr().flush();
        }
    }

    /** {@code xenhost attach-device DOM SPEC [--live|--config|--persistent] [--force] [--json]}. */
    @Command(name = "attach-device", mixinStandardHelpOptions = true,
            description = "Attach a PCI device to a domain. SPEC is an xl.cfg PCI spec plus managed=yes|no and "
                    + "nostrictreset=1 (attach a device that has no safe reset, unreset, with a warning), e.g. "
                    + "'0000:03:00.0,permissive=1', '03:00.*@5,seize=1', '04:00.0,managed=yes,rdm_policy=relaxed'.")
    public static final class Attach extends DeviceCommand {
        @Parameters(index = "1", paramLabel = "SPEC", description = "xl.cfg PCI spec (see xl-pci-configuration(5)) with optional managed=yes, nostrictreset=1")
        String pciSpec;
        @Option(names = "--force", description = "attach even a host-critical device or one with no safe reset (unmanaged only)")
        boolean force;

        @Override
        void run(Driver d) {
            report(d.attachDevice(dom, pciSpec, options(force)), "attached to");
        }
    }

    /** {@code xenhost detach-device DOM BDF [--live|--config|--persistent] [--force] [--json]}. */
    @Command(name = "detach-device", mixinStandardHelpOptions = true,
            description = "Detach a PCI device from a domain: a managed one goes back to its dom0 driver, an "
                    + "unmanaged one stays assignable (on pciback).")
    public static final class Detach extends DeviceCommand {
        @Parameters(index = "1", paramLabel = "BDF", description = "the device, DDDD:BB:DD.F or BB:DD.F")
        String bdf;
        @Option(names = "--force", description = "do not wait for the guest to release it (libxl pci-destroy)")
        boolean force;

        @Override
        void run(Driver d) {
            report(d.detachDevice(dom, bdf, options(force)), "detached from");
        }
    }
}
