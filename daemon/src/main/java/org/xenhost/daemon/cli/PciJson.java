package org.xenhost.daemon.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.xenhost.pci.ConfigSpace;
import org.xenhost.pci.PciAddress;
import org.xenhost.pci.PciClassNames;
import org.xenhost.pci.PciDevice;

import java.util.List;

/**
 * The JSON shape of {@code xenhost pci list --json} and {@code pci show --json}: a contract with scripts and
 * tests. IDs are lower-case hex without {@code 0x} ({@code vendor}/{@code device} 4 digits, {@code class} 6 with
 * prog-if, {@code revision} 2); absent facts are JSON null, never omitted.
 */
final class PciJson {
    static final ObjectMapper MAPPER = new ObjectMapper();

    private PciJson() {
    }

    /** The list entry: identity, binding, isolation and SR-IOV at a glance. */
    static ObjectNode summary(PciDevice d) {
        ObjectNode o = MAPPER.createObjectNode();
        o.put("address", d.address().toString());
        o.put("vendor", hex(d.vendor(), 4));
        o.put("device", hex(d.device(), 4));
        o.put("class", hex(d.pciClass(), 6));
        o.put("className", d.pciClass() == null ? null : PciClassNames.of(d.pciClass()));
        o.put("subsystemVendor", hex(d.subsystemVendor(), 4));
        o.put("subsystemDevice", hex(d.subsystemDevice(), 4));
        o.put("revision", hex(d.revision(), 2));
        o.put("driver", d.driver());
        o.put("driverOverride", d.driverOverride());
        o.put("iommuGroup", d.iommuGroup());
        o.set("iommuGroupPeers", addresses(d.iommuGroupPeers()));
        o.put("numaNode", d.numaNode());
        o.put("sriovRole", d.sriovRole().name());
        o.put("physfn", d.physfn() == null ? null : d.physfn().toString());
        o.set("virtfns", addresses(d.virtfns()));
        o.put("sriovTotalVfs", d.sriovTotalVfs());
        o.put("sriovNumVfs", d.sriovNumVfs());
        o.put("flr", d.flr());
        o.put("acs", d.acs());
        o.put("headerType", d.headerType().label());
        // flr/acs/headerType are only as good as the config bytes read: false here may mean "not seen".
        o.put("configComplete", d.config() != null && !d.config().truncated());
        ArrayNode resets = o.putArray("resetMethods");
        d.resetMethods().forEach(resets::add);
        ArrayNode w = o.putArray("warnings");
        d.warnings().forEach(w::add);
        return o;
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
        ArrayNode a = MAPPER.createArrayNode();
        list.forEach(x -> a.add(x.toString()));
        return a;
    }
}
