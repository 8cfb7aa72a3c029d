package org.xenhost.emulator.domain;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.Locale;
import java.util.UUID;
import org.xenhost.libxl.DomainType;

/**
 * The parts of a domain configuration the emulated host uses. Accepts libxl's own JSON
 * ({@code libxl_domain_config_to_json}: {@code c_info.{name,uuid,type}}, {@code b_info.{max_memkb,max_vcpus}})
 * and a flat form ({@code name, uuid, type, memory} in MiB as in xl.cfg, {@code vcpus}). Emulated-only keys
 * (ignored by a real host, which never sees them through this class): {@code emulated_dirty_rate} (bytes/s the
 * workload dirties), {@code emulated_working_set} (bytes of guest memory the workload writes in, default all),
 * {@code emulated_seed} (workload pattern seed, default derived from the uuid).
 *
 * @param json the configuration exactly as given (kept for libxl_retrieve_domain_configuration and save headers)
 */
public record DomainConfig(String name, UUID uuid, DomainType type, long memoryBytes, int vcpus, long dirtyRate,
                           long workingSet, long seed, String json) {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Largest emulated guest: 1 TiB (keeps bitmaps and pfn arithmetic well inside int/long ranges). */
    public static final long MAX_MEMORY = 1L << 40;

    public DomainConfig {
        if (name == null || name.isEmpty() || name.length() > 128 || !name.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
            throw new IllegalArgumentException("domain name must be 1-128 printable characters without spaces, got '"
                    + name + "'");
        }
        if (memoryBytes < 4096 || memoryBytes > MAX_MEMORY || memoryBytes % (1 << 20) != 0) {
            throw new IllegalArgumentException("domain memory must be a whole number of MiB between 1 MiB and 1 TiB, got "
                    + memoryBytes + " bytes");
        }
        if (vcpus < 1 || vcpus > 128) {
            throw new IllegalArgumentException("vcpus must be 1..128, got " + vcpus);
        }
        if (dirtyRate < 0) {
            throw new IllegalArgumentException("emulated_dirty_rate must be >= 0 bytes/s, got " + dirtyRate);
        }
        if (workingSet <= 0 || workingSet > memoryBytes) {
            throw new IllegalArgumentException("emulated_working_set must be 1.." + memoryBytes + " bytes, got " + workingSet);
        }
    }

    /** Parses a configuration; every problem is an IllegalArgumentException naming the key. */
    public static DomainConfig parse(String json) {
        if (json == null || json.isBlank()) {
            throw new IllegalArgumentException("domain configuration is empty: give a JSON object with at least name and memory");
        }
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("domain configuration is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new IllegalArgumentException("domain configuration could not be read: " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException("domain configuration must be a JSON object");
        }
        JsonNode cInfo = root.path("c_info");
        JsonNode bInfo = root.path("b_info");
        String name = text(root, "name", text(cInfo, "name", null));
        if (name == null) {
            throw new IllegalArgumentException("domain configuration lacks a name (\"name\" or \"c_info.name\")");
        }
        String uuidText = text(root, "uuid", text(cInfo, "uuid", null));
        UUID uuid;
        try {
            uuid = uuidText == null ? UUID.randomUUID() : UUID.fromString(uuidText);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("uuid is not a UUID: '" + uuidText + "'");
        }
        String typeText = text(root, "type", text(cInfo, "type", "pvh"));
        DomainType type = parseType(typeText);
        long memory;
        if (root.has("memory")) {
            memory = number(root, "memory") << 20;
        } else if (bInfo.has("max_memkb")) {
            memory = number(bInfo, "max_memkb") << 10;
        } else if (bInfo.has("target_memkb")) {
            memory = number(bInfo, "target_memkb") << 10;
        } else {
            throw new IllegalArgumentException("domain configuration lacks memory (\"memory\" in MiB or \"b_info.max_memkb\")");
        }
        long vcpus = root.has("vcpus") ? number(root, "vcpus") : bInfo.has("max_vcpus") ? number(bInfo, "max_vcpus") : 1;
        long rate = root.has("emulated_dirty_rate") ? number(root, "emulated_dirty_rate") : 0;
        long working = root.has("emulated_working_set") ? number(root, "emulated_working_set") : memory;
        long seed = root.has("emulated_seed") ? number(root, "emulated_seed")
                : uuid.getMostSignificantBits() ^ uuid.getLeastSignificantBits();
        if (vcpus > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("vcpus out of range: " + vcpus);
        }
        return new DomainConfig(name, uuid, type, memory, (int) vcpus, rate, working, seed, json);
    }

    private static DomainType parseType(String s) {
        switch (s.trim().toLowerCase(Locale.ROOT)) {
            case "hvm": return DomainType.HVM;
            case "pvh": return DomainType.PVH;
            case "pv": return DomainType.PV;
            default: throw new IllegalArgumentException("domain type must be one of hvm, pvh, pv; got '" + s + "'");
        }
    }

    /** libxc domain header type: x86 PV 1, x86 HVM 2 (PVH travels as HVM). */
    public int streamDomainType() {
        return type == DomainType.PV ? 1 : 2;
    }

    private static String text(JsonNode node, String key, String dflt) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) {
            return dflt;
        }
        if (!v.isTextual()) {
            throw new IllegalArgumentException("\"" + key + "\" must be a string, got " + v);
        }
        return v.asText();
    }

    private static long number(JsonNode node, String key) {
        JsonNode v = node.get(key);
        if (v == null || !v.canConvertToExactIntegral() || !v.canConvertToLong() || v.asLong() < 0) {
            throw new IllegalArgumentException("\"" + key + "\" must be a non-negative integer, got " + v);
        }
        long n = v.asLong();
        if (n > (1L << 50)) {
            throw new IllegalArgumentException("\"" + key + "\" is out of range: " + n);
        }
        return n;
    }

    /**
     * Whether Xen would have given this domain an IOMMU context (XEN_DOMCTL_CDF_iommu): libxl turns passthrough on
     * when {@code c_info.passthrough} asks for it or, left at default, when the config lists PCI devices.
     */
    public boolean passthroughEnabled() {
        if (json == null) {
            return false;
        }
        try {
            JsonNode root = JSON.readTree(json);
            String mode = root.path("c_info").path("passthrough").asText(root.path("passthrough").asText("default"));
            if (!mode.equals("default")) {
                return !mode.equals("disabled");
            }
            JsonNode devs = root.path("pcidevs");
            return devs.isArray() && devs.size() > 0;
        } catch (IOException e) {
            return false;
        }
    }
}
