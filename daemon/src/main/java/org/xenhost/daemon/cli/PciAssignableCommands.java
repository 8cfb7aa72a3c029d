package org.xenhost.daemon.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.xenhost.daemon.LocalHost;
import org.xenhost.hostdev.Ownership;
import org.xenhost.hostdev.PoolDevice;
import org.xenhost.pci.PciAddress;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code xenhost pci assignable-add|assignable-remove|assignable-list}: the assignable pool, as xl's commands. */
public final class PciAssignableCommands {
    private PciAssignableCommands() {
    }

    /** {@code xenhost pci assignable-add BDF [--name NAME] [--force]}. */
    @Command(name = "assignable-add", mixinStandardHelpOptions = true,
            description = "Make a device assignable: unbind it from its dom0 driver (remembered), bind it to pciback.")
    public static final class Add implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Mixin
        HostOptions host;
        @Parameters(index = "0", paramLabel = "BDF", description = "the device, DDDD:BB:DD.F or BB:DD.F")
        String bdf;
        @Option(names = {"-n", "--name"}, paramLabel = "NAME", description = "friendly name (1-64 printable characters)")
        String name;
        @Option(names = "--force", description = "take it even if it carries the root filesystem or the default route")
        boolean force;

        @Override
        public Integer call() throws Exception {
            PciAddress a = PciAddress.parse(bdf);
            PrintWriter out = spec.commandLine().getOut();
            try (LocalHost h = host.open(spec.commandLine().getErr())) {
                Ownership o = h.manager().assignableAdd(a, name, force);
                out.println(a + " is assignable" + (o.name() == null ? "" : " as '" + o.name() + "'")
                        + (o.originalDriver() == null ? "" : " (dom0 driver " + o.originalDriver()
                        + " is remembered for assignable-remove --rebind)"));
            }
            out.flush();
            return Main.EXIT_OK;
        }
    }

    /** {@code xenhost pci assignable-remove BDF|NAME [--rebind]}. */
    @Command(name = "assignable-remove", mixinStandardHelpOptions = true,
            description = "Return a device from the pool to dom0 (unbind from pciback; --rebind: bind its original driver).")
    public static final class Remove implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Mixin
        HostOptions host;
        @Parameters(index = "0", paramLabel = "BDF|NAME", description = "the device, by address or friendly name")
        String device;
        @Option(names = {"-r", "--rebind"}, description = "bind the device to the dom0 driver it had before")
        boolean rebind;

        @Override
        public Integer call() throws Exception {
            if (device.isBlank()) {
                throw new IllegalArgumentException("device is empty: give a BDF or a name");
            }
            PrintWriter out = spec.commandLine().getOut();
            try (LocalHost h = host.open(spec.commandLine().getErr())) {
                PciAddress a = h.manager().assignableRemove(device, rebind);
                String driver = h.reader().read(a).map(d -> d.driver()).orElse(null);
                out.println(a + " is back with dom0 (" + (driver == null ? "bound to no driver" : "driver " + driver) + ")");
            }
            out.flush();
            return Main.EXIT_OK;
        }
    }

    /** {@code xenhost pci assignable-list [--json]}. */
    @Command(name = "assignable-list", mixinStandardHelpOptions = true,
            description = "List the devices on pciback that no domain uses.")
    public static final class ListPool implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Mixin
        HostOptions host;
        @Option(names = "--json", description = "JSON array of {bdf, name, originalDriver}")
        boolean json;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            try (LocalHost h = host.open(spec.commandLine().getErr())) {
                List<PoolDevice> pool = h.manager().assignableList();
                if (json) {
                    List<Map<String, Object>> rows = new ArrayList<>();
                    for (PoolDevice d : pool) {
                        Map<String, Object> m = new LinkedHashMap<>();
                        m.put("bdf", d.bdf().toString());
                        m.put("name", d.name());
                        m.put("originalDriver", d.originalDriver());
                        rows.add(m);
                    }
                    out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(rows));
                } else {
                    for (PoolDevice d : pool) {
                        out.println(d.bdf() + (d.name() == null ? "" : " " + d.name()));
                    }
                }
            }
            out.flush();
            return Main.EXIT_OK;
        }
    }
}
