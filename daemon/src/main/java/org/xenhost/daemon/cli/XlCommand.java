package org.xenhost.daemon.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.xenhost.libxl.LibxlDevicePci;
import org.xenhost.libxl.RdmPolicy;
import org.xenhost.libxl.pcispec.PciSpecParser;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * {@code xenhost xl ...}: xl-compatible helpers that need no hypervisor. {@code pci-spec} shows how an xl.cfg
 * {@code pci=[...]} entry is understood (the same fields and refusals as libxlutil's parser).
 */
@Command(name = "xl", mixinStandardHelpOptions = true,
        description = "xl-compatible helpers (no hypervisor needed).",
        subcommands = {XlCommand.PciSpec.class})
public final class XlCommand implements Runnable {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "a subcommand is required (try --help)");
    }

    /** {@code xenhost xl pci-spec SPEC [--json]}. */
    @Command(name = "pci-spec", mixinStandardHelpOptions = true,
            description = {"Parse an xl.cfg PCI spec, [DDDD:]BB:DD.F[@VSLOT][,KEY=VALUE...], as xl does.",
                    "A spec xl would refuse exits with code 2."})
    static final class PciSpec implements Runnable {
        @Parameters(index = "0", paramLabel = "SPEC", description = "e.g. '0000:03:00.0@4,permissive=1'")
        String specText;

        @Option(names = "--json", description = "print the libxl_device_pci fields as one JSON object")
        boolean json;

        @Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            LibxlDevicePci d = PciSpecParser.parse(specText); // PciSpecException is an IllegalArgumentException: exit 2
            PrintWriter out = spec.commandLine().getOut();
            out.println(json ? toJson(d) : readable(d));
            out.flush();
        }
    }

    /** libxl_device_pci as JSON with libxl's field names; unsigned fields printed unsigned. */
    static String toJson(LibxlDevicePci d) {
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode n = mapper.createObjectNode();
        n.put("domain", d.domain());
        n.put("bus", d.bus());
        n.put("dev", d.dev());
        n.put("func", d.func());
        n.put("vdevfn", Integer.toUnsignedLong(d.vdevfn()));
        n.put("vfunc_mask", Integer.toUnsignedLong(d.vfuncMask()));
        n.put("msitranslate", d.msitranslate());
        n.put("power_mgmt", d.powerMgmt());
        n.put("permissive", d.permissive());
        n.put("seize", d.seize());
        n.put("rdm_policy", d.rdmPolicy().xlName());
        n.put("name", d.name());
        return n.toString();
    }

    static String readable(LibxlDevicePci d) {
        StringBuilder b = new StringBuilder();
        if (d.vfuncMask() == 0) {
            b.append(row("device", "named '" + d.name() + "' (libxl looks its BDF up under /libxl/pci/*/name)"));
        } else {
            String bdf = String.format(Locale.ROOT, "%04x:%02x:%02x.%s", d.domain(), d.bus(), d.dev(),
                    d.allFunctions() ? "*" : Integer.toString(d.func()));
            b.append(row("device", bdf + (d.allFunctions() ? " (every function)" : "")));
        }
        b.append(row("guest slot", d.vdevfn() == 0 ? "chosen by the device model"
                : String.format(Locale.ROOT, "%02x (vdevfn 0x%x)", d.vdevfn() >>> 3, d.vdevfn())));
        b.append(row("permissive", yesNo(d.permissive())));
        b.append(row("msitranslate", yesNo(d.msitranslate())));
        b.append(row("power_mgmt", yesNo(d.powerMgmt())));
        b.append(row("seize", yesNo(d.seize())));
        b.append(row("rdm_policy", d.rdmPolicy().xlName()
                + (d.rdmPolicy() == RdmPolicy.INVALID ? " (libxl applies strict on attach)" : "")));
        if (d.vfuncMask() != 0) {
            b.append(row("name", d.name() == null ? "-" : d.name()));
        }
        return b.toString().stripTrailing();
    }

    private static String row(String key, String value) {
        return String.format(Locale.ROOT, "%-13s %s%n", key, value);
    }

    private static String yesNo(boolean b) {
        return b ? "yes" : "no";
    }
}
