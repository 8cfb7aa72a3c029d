package org.xenhost.daemon.cli;

import org.xenhost.driver.api.Driver;
import org.xenhost.driver.api.NodeDevice;
import org.xenhost.driver.api.ResetReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code xenhost nodedev-list|nodedev-detach|nodedev-reattach|nodedev-reset}: the host's PCI functions through
 * xenhostd, as virsh's node-device commands. ({@code xenhost pci list} reads sysfs directly and needs no daemon.)
 */
public final class NodeDeviceCommands {
    private NodeDeviceCommands() {
    }

    static void printDevices(java.io.PrintWriter out, List<NodeDevice> devices) {
        List<List<String>> rows = new ArrayList<>();
        for (NodeDevice n : devices) {
            rows.add(java.util.Arrays.asList(n.bdf(), n.className(), n.vendor() + ":" + n.device(), n.driver(),
                    n.placement(), n.owner() == null ? (n.assignable() ? "yes" : "no") : "owned by " + n.owner(),
                    n.name()));
        }
        Output.table(out, List.of("ADDRESS", "CLASS", "VENDOR:DEVICE", "DRIVER", "PLACEMENT", "ASSIGNABLE", "NAME"), rows);
    }

    @Command(name = "nodedev-list", mixinStandardHelpOptions = true,
            description = "List the host's PCI functions: driver, where xenhost has them, whether they could be assigned.")
    static final class ListDevices extends DomainCommands.DriverCommand {
        @Option(names = "--json", description = "print JSON (every field, including assignableReason)")
        boolean json;

        @Override
        void run(Driver d) {
            List<NodeDevice> all = d.nodeDeviceList();
            if (json) {
                Output.json(out(), all);
            } else {
                printDevices(out(), all);
            }
        }
    }

    @Command(name = "nodedev-detach", mixinStandardHelpOptions = true,
            description = "Make a device assignable: unbind its dom0 driver (remembered) and bind it to pciback "
                    + "(xl pci-assignable-add).")
    static final class Detach extends DomainCommands.DriverCommand {
        @Parameters(paramLabel = "BDF", description = "the device, DDDD:BB:DD.F or BB:DD.F")
        String bdf;
        @Option(names = {"-n", "--name"}, paramLabel = "NAME", description = "friendly name (1-64 printable characters)")
        String name;
        @Option(names = "--force", description = "take it even if it carries the root filesystem or the default route")
        boolean force;
        @Option(names = "--json", description = "print the device as JSON")
        boolean json;

        @Override
        void run(Driver d) {
            NodeDevice n = d.nodeDeviceDetach(bdf, name, force);
            if (json) {
                Output.json(out(), n);
            } else {
                out().println("Device " + n.bdf() + " detached from dom0: assignable (driver " + n.driver() + ")"
                        + (n.name() == null ? "" : " as '" + n.name() + "'")
                        + (n.originalDriver() == null ? "" : "; nodedev-reattach gives it back to " + n.originalDriver()));
            }
        }
    }

    @Command(name = "nodedev-reattach", mixinStandardHelpOptions = true,
            description = "Give an assignable device back to dom0 and its original driver (xl pci-assignable-remove -r).")
    static final class Reattach extends DomainCommands.DriverCommand {
        @Parameters(paramLabel = "BDF|NAME", description = "the device, by address or friendly name")
        String device;
        @Option(names = "--no-rebind", description = "leave it bound to no driver")
        boolean noRebind;
        @Option(names = "--json", description = "print the device as JSON")
        boolean json;

        @Override
        void run(Driver d) {
            NodeDevice n = d.nodeDeviceReattach(device, !noRebind);
            if (json) {
                Output.json(out(), n);
            } else {
                out().println("Device " + n.bdf() + " reattached to dom0 ("
                        + (n.driver() == null ? "bound to no driver" : "driver " + n.driver()) + ")");
            }
        }
    }

    @Command(name = "nodedev-reset", mixinStandardHelpOptions = true,
            description = "Reset a device now, as libxl does (pciback do_flr, else the device's sysfs reset file). "
                    + "Refused (exit 2) for a device a domain has, one still on its dom0 driver (nodedev-detach it "
                    + "first) or one with no safe reset; exit 1 if the reset fails.")
    static final class Reset extends DomainCommands.DriverCommand {
        @Parameters(paramLabel = "BDF", description = "the device, DDDD:BB:DD.F or BB:DD.F")
        String bdf;
        @Option(names = "--json", description = "print JSON")
        boolean json;

        @Override
        void run(Driver d) {
            ResetReport r = d.nodeDeviceReset(bdf);
            if (json) {
                Output.json(out(), r);
            } else {
                out().println("reset " + r.bdf() + ": " + r.method() + (r.performed() ? " (performed)" : " (not performed)")
                        + "; " + r.reason());
            }
        }
    }
}
