package org.xenhost.daemon.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.util.TokenBuffer;
import org.xenhost.pci.ConfigSpace;
import org.xenhost.pci.PciAddress;
import org.xenhost.pci.PciClassNames;
import org.xenhost.pci.PciDevice;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * The JSON shape of {@code xenhost pci list --json} and {@code pci show --json}: a contract with scripts and
 * tests. IDs are lower-case hex without {@code 0x} ({@code vendor}/{@code device} 4 digits, {@code class} 6 with
 * prog-if, {@code revision} 2); absent facts are JSON null, never omitted.
 */
final class PciJson {
    /**
     * Streams {@code pci list --json}: jackson-core alone. An {@link ObjectMapper} (for trees) costs a short CLI call
     * ~40 ms of class initialisation, so it is made only where a tree is built ({@link #mapper()}).
     */
    static final JsonFactory FACTORY = new JsonFactory();

    private static final class Trees {
        static final ObjectMapper MAPPER = new ObjectMapper();
    }

    static ObjectMapper mapper() {
        return Trees.MAPPER;
    }

    /** A generator printing as {@code writerWithDefaultPrettyPrinter()} does, byte for byte. */
    static JsonGenerator prettyGenerator(java.io.Writer out) throws IOException {
        return FACTORY.createGenerator(out).setPrettyPrinter(new DefaultPrettyPrinter());
    }

    private PciJson() {
    }

    /** The list entry: identity, binding, isolation and SR-IOV at a glance (as a tree: {@link #writeSummary}). */
    static ObjectNode summary(PciDevice d) {
        try (TokenBuffer b = new TokenBuffer(mapper(), false)) {
            b.writeStartObject();
            writeSummary(b, d);
            b.writeEndObject();
            return mapper().readTree(b.asParser());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot build the JSON of " + d.address(), e);
        }
    }

    /**
     * The list entry's fields, written into an object the caller has started (and ends, after any fields of its
     * own): {@code pci list --json} streams thousands of these without building a tree.
     */
    static void writeSummary(JsonGenerator g, PciDevice d) throws IOException {
        g.writeStringField("address", d.address().toString());
        g.writeStringField("vendor", hex(d.vendor(), 4));
        g.writeStringField("device", hex(d.device(), 4));
        g.writeStringField("class", hex(d.pciClass(), 6));
        g.writeStringField("className", d.pciClass() == null ? null : PciClassNames.of(d.pciClass()));
        g.writeStringField("subsystemVendor", hex(d.subsystemVendor(), 4));
        g.writeStringField("subsystemDevice", hex(d.subsystemDevice(), 4));
        g.writeStringField("revision", hex(d.revision(), 2));
        g.writeStringField("driver", d.driver());
        g.writeStringField("driverOverride", d.driverOverride());
        number(g, "iommuGroup", d.iommuGroup());
        addresses(g, "iommuGroupPeers", d.iommuGroupPeers());
        number(g, "numaNode", d.numaNode());
        g.writeStringField("sriovRole", d.sriovRole().name());
        g.writeStringField("physfn", d.physfn() == null ? null : d.physfn().toString());
        addresses(g, "virtfns", d.virtfns());
        number(g, "sriovTotalVfs", d.sriovTotalVfs());
        number(g, "sriovNumVfs", d.sriovNumVfs());
        g.writeBooleanField("flr", d.flr());
        g.writeBooleanField("acs", d.acs());
        g.writeStringField("headerType", d.headerType().label());
        // flr/acs/headerType are only as good as the config bytes read: false here may mean "not seen".
        g.writeBooleanField("configComplete", d.config() != null && !d.config().truncated());
        g.writeArrayFieldStart("resetMethods");
        for (String m : d.resetMethods()) {
            g.writeString(m);
        }
        g.writeEndArray();
        g.writeArrayFieldStart("warnings");
        for (String w : d.warnings()) {
            g.writeString(w);
        }
        g.writeEndArray();
    }

    private static void number(JsonGenerator g, String name, Integer v) throws IOException {
        if (v == null) {
            g.writeNullField(name);
        } else {
            g.writeNumberField(name, v);
        }
    }

    private static void addresses(JsonGenerator g, String name, List<PciAddress> list) throws IOException {
        g.writeArrayFieldStart(name);
        for (PciAddress a : list) {
            g.writeString(a.toString());
        }
        g.writeEndArray();
    }

    /** Everything: the summary plus bridge chain and decoded config space with the capability list. */
    static ObjectNode full(PciDevice d) {
        ObjectNode o = summary(d);
        o.set("parentBridges", addresses(d.parentBridges()));
        o.put("resettable", d.resettable());
        ConfigSpace c = d.config();
        if (c == null) {
            o.putNull("config");
            return o;
        }
        ObjectNode cfg = o.putObject("config");
        cfg.put("length", c.length());
        cfg.put("truncated", c.truncated());
        cfg.put("multiFunction", c.multiFunction());
        cfg.put("secondaryBus", c.secondaryBus() == null ? null : hex(c.secondaryBus(), 2));
        cfg.put("subordinateBus", c.subordinateBus() == null ? null : hex(c.subordinateBus(), 2));
        ArrayNode caps = cfg.putArray("capabilities");
        for (ConfigSpace.Capability cap : c.capabilities()) {
            ObjectNode n = caps.addObject();
            n.put("offset", hex(cap.offset(), cap.extended() ? 3 : 2));
            n.put("id", hex(cap.id(), cap.extended() ? 4 : 2));
            n.put("extended", cap.extended());
            if (cap.extended()) {
                n.put("version", cap.version());
            }
            n.put("name", cap.name());
        }
        if (c.pcie() != null) {
            ObjectNode n = cfg.putObject("pcie");
            n.put("version", c.pcie().version());
            n.put("portType", c.pcie().portType().label());
            n.put("flr", c.pcie().flr());
        }
        cfg.put("afFlr", c.afFlr());
        if (c.powerManagement() != null) {
            ObjectNode n = cfg.putObject("powerManagement");
            n.put("version", c.powerManagement().version());
            n.put("noSoftReset", c.powerManagement().noSoftReset());
        }
        if (c.acs() != null) {
            ObjectNode n = cfg.putObject("acs");
            n.put("capability", hex(c.acs().capability(), 4));
            n.put("control", hex(c.acs().control(), 4));
        }
        if (c.srIov() != null) {
            ConfigSpace.SrIov s = c.srIov();
            ObjectNode n = cfg.putObject("srIov");
            n.put("initialVfs", s.initialVfs());
            n.put("totalVfs", s.totalVfs());
            n.put("numVfs", s.numVfs());
            n.put("vfOffset", s.vfOffset());
            n.put("vfStride", s.vfStride());
            n.put("vfDeviceId", hex(s.vfDeviceId(), 4));
            n.put("vfEnabled", s.vfEnabled());
        }
        if (c.msi() != null) {
            ObjectNode n = cfg.putObject("msi");
            n.put("enabled", c.msi().enabled());
            n.put("vectors", c.msi().vectors());
            n.put("address64", c.msi().address64());
            n.put("perVectorMask", c.msi().perVectorMask());
        }
        if (c.msiX() != null) {
            ObjectNode n = cfg.putObject("msiX");
            n.put("enabled", c.msiX().enabled());
            n.put("functionMask", c.msiX().functionMask());
            n.put("tableSize", c.msiX().tableSize());
            n.put("tableBar", c.msiX().tableBar());
            n.put("tableOffset", Long.toHexString(c.msiX().tableOffset()));
        }
        ArrayNode problems = cfg.putArray("problems");
        c.problems().forEach(problems::add);
        return o;
    }

    static String hex(Integer v, int digits) {
        if (v == null) {
            return null;
        }
        String s = Integer.toHexString(v);
        return s.length() >= digits ? s : "0".repeat(digits - s.length()) + s;
    }

    private static ArrayNode addresses(List<PciAddress> list) {
        ArrayNode a = mapper().createArrayNode();
        list.forEach(x -> a.add(x.toString()));
        return a;
    }
}
