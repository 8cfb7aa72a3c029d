package org.xenhost.daemon.cli;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import org.xenhost.daemon.HypervisorHost;
import org.xenhost.hostdev.DeviceVerdict;
import org.xenhost.pci.PciAddress;
import org.xenhost.pci.PciClassNames;
import org.xenhost.pci.PciDevice;
import org.xenhost.pci.PciInventory;
import org.xenhost.pci.SysfsPciReader;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code xenhost pci list|show}: the host's PCI functions as sysfs and config space describe them. */
@Command(name = "pci", description = "Host PCI inventory and the assignable pool.", mixinStandardHelpOptions = true,
        subcommands = {PciCommand.ListCommand.class, PciCommand.ShowCommand.class,
                PciAssignableCommands.Add.class, PciAssignableCommands.Remove.class,
                PciAssignableCommands.ListPool.class})
public final class PciCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(),
                "a subcommand is required: list, show, assignable-add, assignable-remove or assignable-list");
    }

    /** Options both subcommands share. */
    static final class Source {
        @Option(names = "--sysfs-root", paramLabel = "DIR", defaultValue = "/",
                description = "Directory containing sys/bus/pci (default: ${DEFAULT-VALUE}); e.g. fixtures/sysfs/<host>.")
        Path sysfsRoot;

        @Option(names = "--json", description = "Print JSON instead of a table.")
        boolean json;

        SysfsPciReader reader() {
            return new SysfsPciReader(sysfsRoot);
        }
    }

    @Command(name = "list", description = "List every PCI function.", mixinStandardHelpOptions = true)
    static final class ListCommand implements Runnable {
        @CommandLine.Mixin
        Source source = new Source();

        @Option(names = "--state-dir", paramLabel = "DIR", defaultValue = "${env:XENHOST_STATE_DIR:-/var/lib/xenhost}",
                description = "state directory whose ownership journal gives the assignable verdicts and owners "
                        + "(read only); default $XENHOST_STATE_DIR or /var/lib/xenhost")
        Path stateDir;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            Map<PciAddress, DeviceVerdict> verdicts;
            PciInventory inv;
            // a fixture tree driven by an emulated xenhostd is listed as that host sees it now; no daemon is needed
            Path root = HypervisorHost.listRoot(source.sysfsRoot, stateDir);
            inv = new SysfsPciReader(root).scan();
            verdicts = HypervisorHost.verdicts(source.sysfsRoot, stateDir, inv); // judged on this scan: one read of sysfs
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            if (source.json) {
                writeList(out, inv.devices(), verdicts);
            } else {
                out.print(table(inv.devices(), verdicts));
                printWarnings(err, inv);
            }
            inv.warnings().forEach(w -> err.println("xenhost: warning: " + w));
            out.flush();
            err.flush();
        }
    }

    @Command(name = "show", description = "Show one PCI function in full, with its capabilities.", mixinStandardHelpOptions = true)
    static final class ShowCommand implements Runnable {
        @Parameters(paramLabel = "BDF", description = "PCI address, DDDD:BB:DD.F or BB:DD.F.")
        String bdf;

        @CommandLine.Mixin
        Source source = new Source();

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            PciAddress address = PciAddress.parse(bdf);
            SysfsPciReader reader = source.reader();
            PciDevice d = reader.read(address).orElseThrow(() -> new IllegalArgumentException(
                    "no PCI function " + address + " under " + reader.root().resolve("sys/bus/pci/devices")
                            + "; 'xenhost pci list' shows the functions that exist"));
            PrintWriter out = spec.commandLine().getOut();
            if (source.json) {
                out.println(pretty(PciJson.full(d)));
            } else {
                out.print(PciText.describe(d));
                d.warnings().forEach(w -> spec.commandLine().getErr().println("xenhost: warning: " + address + ": " + w));
            }
            out.flush();
            spec.commandLine().getErr().flush();
        }
    }

    /**
     * {@code pci list --json}: the array streamed entry by entry (thousands of functions on a large host: a node
     * tree would be built only to be printed), pretty-printed exactly as {@link #pretty} prints a tree.
     */
    static void writeList(PrintWriter out, List<PciDevice> devices, Map<PciAddress, DeviceVerdict> verdicts) {
        try (JsonGenerator g = PciJson.prettyGenerator(out)) {
            g.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET); // out is the command line's, not ours
            g.writeStartArray();
            for (PciDevice d : devices) {
                DeviceVerdict v = verdicts.get(d.address());
                g.writeStartObject();
                PciJson.writeSummary(g, d);
                g.writeBooleanField("assignable", v != null && v.assignable());
                g.writeStringField("assignableReason", v == null ? "vanished while listed" : v.reason());
                g.writeStringField("owner", v == null ? null : v.owner());
                g.writeEndObject();
            }
            g.writeEndArray();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the PCI list", e);
        }
        out.println();
    }

    static String pretty(Object node) {
        try {
            return PciJson.mapper().writerWithDefaultPrettyPrinter().writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot render JSON", e);
        }
    }

    static String table(List<PciDevice> devices) {
        return table(devices, null);
    }

    /** The table; with verdicts, a last column ASSIGNABLE: yes, no, or the owning domain's name. */
    static String table(List<PciDevice> devices, Map<PciAddress, DeviceVerdict> verdicts) {
        List<String[]> rows = new ArrayList<>();
        rows.add(verdicts == null
                ? new String[] {"ADDRESS", "CLASS", "VENDOR:DEVICE", "DRIVER", "IOMMU", "NUMA", "SR-IOV"}
                : new String[] {"ADDRESS", "CLASS", "VENDOR:DEVICE", "DRIVER", "IOMMU", "NUMA", "SR-IOV", "ASSIGNABLE"});
        for (PciDevice d : devices) {
            String sriov = switch (d.sriovRole()) {
                case PF -> "PF " + (d.sriovNumVfs() == null ? "?" : d.sriovNumVfs()) + "/"
                        + (d.sriovTotalVfs() == null ? "?" : d.sriovTotalVfs());
                case VF -> "VF of " + d.physfn();
                case NONE -> "-";
            };
            rows.add(new String[] {
                d.address().toString(),
                d.pciClass() == null ? "?" : PciClassNames.of(d.pciClass()),
                orQ(PciJson.hex(d.vendor(), 4)) + ":" + orQ(PciJson.hex(d.device(), 4)),
                d.driver() == null ? "-" : d.driver(),
                d.iommuGroup() == null ? "-" : d.iommuGroup().toString(),
                d.numaNode() == null ? "-" : d.numaNode().toString(),
                sriov,
            });
            if (verdicts != null) {
                DeviceVerdict v = verdicts.get(d.address());
                String[] r = rows.get(rows.size() - 1);
                String[] wider = java.util.Arrays.copyOf(r, r.length + 1);
                wider[r.length] = v == null ? "?" : v.owner() != null ? "owned by " + v.owner()
                        : v.assignable() ? "yes" : "no";
                rows.set(rows.size() - 1, wider);
            }
        }
        int[] width = new int[rows.get(0).length];
        for (String[] r : rows) {
            for (int i = 0; i < r.length; i++) {
                width[i] = Math.max(width[i], r[i].length());
            }
        }
        StringBuilder b = new StringBuilder();
        for (String[] r : rows) {
            for (int i = 0; i < r.length; i++) {
                b.append(i == r.length - 1 ? r[i] : String.format("%-" + (width[i] + 2) + "s", r[i]));
            }
            b.append('\n');
        }
        return b.toString();
    }

    private static String orQ(String s) {
        return s == null ? "????" : s;
    }

    /** Same warning on many functions (e.g. no IOMMU) is printed once with the functions it concerns. */
    static void printWarnings(PrintWriter err, PciInventory inv) {
        Map<String, List<PciAddress>> byText = new LinkedHashMap<>();
        for (PciDevice d : inv.devices()) {
            for (String w : d.warnings()) {
                byText.computeIfAbsent(w, k -> new ArrayList<>()).add(d.address());
            }
        }
        byText.forEach((w, where) -> {
            String who = where.size() <= 3 ? joined(where)
                    : joined(where.subList(0, 3)) + " and " + (where.size() - 3) + " more";
            err.println("xenhost: warning: " + who + ": " + w);
        });
    }

    private static String joined(List<PciAddress> l) {
        return String.join(", ", l.stream().map(PciAddress::toString).toList());
    }
}
