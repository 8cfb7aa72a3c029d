package org.xenhost.daemon.cli;

import org.xenhost.driver.api.Driver;
import org.xenhost.driver.api.HostDescription;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;

/** {@code xenhost host info}: the host as xenhostd sees it (libxl for Xen and memory, OSHI for dom0's CPU). */
@Command(name = "host", description = "Host facts.", mixinStandardHelpOptions = true,
        subcommands = {HostCommand.InfoCommand.class})
public final class HostCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required: info");
    }

    @Command(name = "info", description = "Xen version, memory (total and free for guests, from libxl), CPUs, NUMA, "
            + "IOMMU and the host's capabilities, from xenhostd.", mixinStandardHelpOptions = true)
    static final class InfoCommand extends DomainCommands.DriverCommand {
        @Option(names = "--json", description = "Print JSON.")
        boolean json;

        @Override
        void run(Driver d) {
            HostDescription h = d.hostInfo();
            PrintWriter out = out();
            if (json) {
                Output.json(out, h);
                return;
            }
            out.printf("%-14s %s%n", "Hostname:", h.hostname());
            out.printf("%-14s %s%n", "Xen:", h.xenVersion());
            out.printf("%-14s %d MiB total, %d MiB free for guests%n", "Memory:", h.totalMemoryMiB(), h.freeMemoryMiB());
            out.printf("%-14s %d (%s)%n", "CPUs:", h.cpus(), h.cpuModel());
            out.printf("%-14s %d%n", "NUMA nodes:", h.numaNodes());
            out.printf("%-14s %s%n", "IOMMU:", h.iommu() ? "on" : "off");
            out.printf("%-14s %s%n", "Capabilities:", String.join(" ", h.capabilities()));
            out.printf("%-14s %d flags%n", "CPU flags:", h.cpuFlags().size());
            out.flush();
        }
    }
}
