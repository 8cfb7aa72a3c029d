package org.xenhost.daemon.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.xenhost.pci.HostFacts;
import org.xenhost.pci.HostFactsReader;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;

/** {@code xenhost host info}: memory, CPU and NUMA facts through OSHI. */
@Command(name = "host", description = "Host facts.", mixinStandardHelpOptions = true,
        subcommands = {HostCommand.InfoCommand.class})
public final class HostCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required: info");
    }

    @Command(name = "info", description = "Memory, CPU model and flags, NUMA nodes, host name and OS.",
            mixinStandardHelpOptions = true)
    static final class InfoCommand implements Runnable {
        @Option(names = "--json", description = "Print JSON.")
        boolean json;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            HostFacts f = HostFactsReader.read();
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                ObjectNode o = PciJson.MAPPER.valueToTree(f);
                o.put("hardwareVirtualization", f.hardwareVirtualization());
                out.println(PciCommand.pretty(o));
            } else {
                out.printf("%-16s %s%n", "Hostname:", f.hostname());
                out.printf("%-16s %s%n", "OS:", f.operatingSystem());
                out.printf("%-16s %.1f GiB total, %.1f GiB available%n", "Memory:",
                        f.memoryTotalBytes() / 1073741824.0, f.memoryAvailableBytes() / 1073741824.0);
                out.printf("%-16s %s (%s), %d logical / %d physical%n", "CPU:", f.cpuModel(), f.cpuVendor(),
                        f.logicalCpus(), f.physicalCores());
                out.printf("%-16s %s%n", "HW virt:", f.hardwareVirtualization() ? "yes (vmx/svm)" : "no");
                out.printf("%-16s %d flags%n", "CPU flags:", f.cpuFlags().size());
                for (HostFacts.NumaNode n : f.numaNodes()) {
                    out.printf("%-16s CPUs %s%n", "NUMA node " + n.node() + ":", n.cpus());
                }
            }
            out.flush();
        }
    }
}
