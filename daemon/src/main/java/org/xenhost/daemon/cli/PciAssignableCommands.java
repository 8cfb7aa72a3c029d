package org.xenhost.daemon.cli;

import org.xenhost.driver.api.Driver;
import org.xenhost.driver.api.NodeDevice;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code xenhost pci assignable-add|assignable-remove|assignable-list}: the assignable pool with xl's command
 * names; each is the matching node-device call on xenhostd ({@code nodedev-detach}, {@code nodedev-reattach},
 * {@code nodedev-list}).
 */
public final class PciAssignableCommands {
    private PciAssignableCommands() {
    }

    /** {@code xenhost pci assignable-add BDF [--name NAME] [--force]}. */
    @Command(name = "assignable-add", mixinStandardHelpOptions = true,
            description = "Make a device assignable: unbind it from its dom0 driver (remembered), bind it to pciback.")
    public static final class Add extends DomainCommands.DriverCommand {
        @Parameters(index = "0", paramLabel = "BDF", description = "the device, DDDD:BB:DD.F or BB:DD.F")
        String bdf;
        @Option(names = {"-n", "--name"}, paramLabel = "NAME", description = "friendly name (1-64 printable characters)")
        String name;
        @Option(names = "--force", description = "take it even if it carries the root filesystem or the default route")
        boolean force;

        @Override
        void run(Driver d) {
            NodeDevice n = d.nodeDeviceDetach(bdf, name, force);
            out().println(n.bdf() + " is assignable" + (n.name() == null ? "" : " as '" + n.name() + "'")
                    + (n.originalDriver() == null ? "" : " (dom0 driver " + n.originalDriver()
                    + " is remembered for assignable-remove --rebind)"));
        }
    }

    /** {@code xenhost pci assignable-remove BDF|NAME [--rebind]}. */
    @Command(name = "assignable-remove", mixinStandardHelpOptions = true,
            description = "Return a device from the pool to dom0 (unbind from pciback; --rebind: bind its original driver).")
    public static final class Remove extends DomainCommands.DriverCommand {
        @Parameters(index = "0", paramLabel = "BDF|NAME", description = "the device, by address or friendly name")
        String device;
        @Option(names = {"-r", "--rebind"}, description = "bind the device to the dom0 driver it had before")
        boolean rebind;

        @Override
        void run(Driver d) {
            NodeDevice n = d.nodeDeviceReattach(device, rebind);
            out().println(n.bdf() + " is back with dom0 (" + (n.driver() == null ? "bound to no driver" : "driver " + n.driver()) + ")");
        }
    }

    /** {@code xenhost pci assignable-list [--json]}. */
    @Command(name = "assignable-list", mixinStandardHelpOptions = true,
            description = "List the devices on pciback that no domain uses.")
    public static final class ListPool extends DomainCommands.DriverCommand {
        @Option(names = "--json", description = "JSON array of {bdf, name, originalDriver}")
        boolean json;

        @Override
        void run(Driver d) {
            List<Map<String, Object>> rows = new ArrayList<>();
            for (NodeDevice n : d.nodeDeviceList()) {
                if (n.placement().equals("assignable")) {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("bdf", n.bdf());
                    m.put("name", n.name());
                    m.put("originalDriver", n.originalDriver());
                    rows.add(m);
                }
            }
            if (json) {
                Output.json(out(), rows);
            } else {
                rows.forEach(m -> out().println(m.get("bdf") + (m.get("name") == null ? "" : " " + m.get("name"))));
            }
        }
    }
}
