package org.xenhost.driver.xen;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Turns a libxl domain configuration (JSON) back into xl.cfg text, for domains xenhost did not define: ones
 * restored from a save file or adopted from {@code xl create}. Only what {@link
 * org.xenhost.driver.config.DomainConfig} reads is carried over.
 */
final class LibxlJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private LibxlJson() {
    }

    static String toXlCfg(String json) throws IOException {
        JsonNode root = JSON.readTree(json);
        JsonNode c = root.path("c_info");
        JsonNode b = root.path("b_info");
        StringBuilder sb = new StringBuilder();
        line(sb, "name", quote(c.path("name").asText()));
        if (c.hasNonNull("uuid")) {
            line(sb, "uuid", quote(c.get("uuid").asText()));
        }
        if (c.hasNonNull("type")) {
            line(sb, "type", quote(c.get("type").asText().toLowerCase(Locale.ROOT)));
        }
        if (b.has("target_memkb")) {
            line(sb, "memory", String.valueOf(Math.max(1, b.get("target_memkb").asLong() / 1024)));
        }
        if (b.has("max_memkb")) {
            line(sb, "maxmem", String.valueOf(Math.max(1, b.get("max_memkb").asLong() / 1024)));
        }
        int maxVcpus = b.path("max_vcpus").asInt(0);
        int vcpus = b.path("avail_vcpus").isArray() && b.get("avail_vcpus").size() > 0 ? b.get("avail_vcpus").size() : maxVcpus;
        if (vcpus > 0) {
            line(sb, "vcpus", String.valueOf(vcpus));
        }
        if (maxVcpus > vcpus) {
            line(sb, "maxvcpus", String.valueOf(maxVcpus));
        }
        for (String k : List.of("kernel", "ramdisk", "cmdline")) {
            if (b.hasNonNull(k)) {
                line(sb, k, quote(b.get(k).asText()));
            }
        }
        List<String> pci = new ArrayList<>();
        for (JsonNode d : root.path("pcidevs")) {
            pci.add(quote(spec(d)));
        }
        if (!pci.isEmpty()) {
            line(sb, "pci", "[ " + String.join(", ", pci) + " ]");
        }
        if (root.has("emulated_dirty_rate")) {
            line(sb, "emulated_dirty_rate", quote(String.valueOf(root.get("emulated_dirty_rate").asLong())));
        }
        return sb.toString();
    }

    private static String spec(JsonNode d) {
        long mask = d.path("vfunc_mask").asLong(1);
        StringBuilder s = new StringBuilder(String.format(Locale.ROOT, "%04x:%02x:%02x.%s", d.path("domain").asInt(),
                d.path("bus").asInt(), d.path("dev").asInt(), mask == 0xffffffffL ? "*" : Integer.toHexString(d.path("func").asInt())));
        long vdevfn = d.path("vdevfn").asLong(0);
        if (vdevfn != 0) {
            s.append('@').append(Long.toHexString(vdevfn >> 3));
        }
        for (String flag : List.of("permissive", "msitranslate", "power_mgmt", "seize")) {
            if (d.path(flag).asBoolean(false)) {
                s.append(',').append(flag).append("=1");
            }
        }
        if (d.hasNonNull("rdm_policy")) {
            s.append(",rdm_policy=").append(d.get("rdm_policy").asText().toLowerCase(Locale.ROOT));
        }
        return s.toString();
    }

    private static void line(StringBuilder sb, String key, String value) {
        sb.append(key).append(" = ").append(value).append('\n');
    }

    private static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"";
    }
}
