package org.xenhost.hostdev;

import org.xenhost.pci.PciAddress;

import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import java.util.zip.CRC32;

/**
 * One journal line per record: {@code <crc32 hex> put key=value ...} or {@code <crc32 hex> drop bdf=...}, values
 * URL-encoded. The checksum lets replay tell a line torn by a crash (the last one) from a good one.
 */
final class JournalCodec {
    private JournalCodec() {
    }

    /** A decoded line: the entry to store, or only the BDF to forget. */
    record Record(PciAddress bdf, Ownership put) {
    }

    static String put(Ownership o) {
        Map<String, String> f = new LinkedHashMap<>();
        f.put("bdf", o.bdf().toString());
        f.put("state", o.state().name());
        f.put("pending", o.pending().name());
        if (o.owner() != null) {
            f.put("owner", o.owner().uuid().toString());
            f.put("ownerName", o.owner().name());
            f.put("ownerDomid", Integer.toString(o.owner().domid()));
        }
        if (o.originalDriver() != null) {
            f.put("driver", o.originalDriver());
        }
        if (o.name() != null) {
            f.put("name", o.name());
        }
        f.put("managed", Boolean.toString(o.managed()));
        f.put("returnToHost", Boolean.toString(o.returnToHost()));
        StringBuilder sb = new StringBuilder("put");
        f.forEach((k, v) -> sb.append(' ').append(k).append('=').append(URLEncoder.encode(v, StandardCharsets.UTF_8)));
        return seal(sb.toString());
    }

    static String drop(PciAddress bdf) {
        return seal("drop bdf=" + bdf);
    }

    private static String seal(String payload) {
        return String.format("%08x %s", crc(payload), payload);
    }

    private static long crc(String payload) {
        CRC32 c = new CRC32();
        c.update(payload.getBytes(StandardCharsets.UTF_8));
        return c.getValue();
    }

    /**
     * Decodes one line.
     *
     * @throws IllegalArgumentException when the checksum or the content is wrong (a torn or damaged line)
     */
    static Record decode(String line) {
        int sp = line.indexOf(' ');
        if (sp != 8) {
            throw new IllegalArgumentException("no checksum");
        }
        String payload = line.substring(9);
        if (Long.parseLong(line.substring(0, 8), 16) != crc(payload)) {
            throw new IllegalArgumentException("checksum mismatch");
        }
        String[] parts = payload.split(" ");
        Map<String, String> f = new LinkedHashMap<>();
        for (int i = 1; i < parts.length; i++) {
            int eq = parts[i].indexOf('=');
            if (eq < 0) {
                throw new IllegalArgumentException("field without '=': " + parts[i]);
            }
            f.put(parts[i].substring(0, eq), URLDecoder.decode(parts[i].substring(eq + 1), StandardCharsets.UTF_8));
        }
        PciAddress bdf = PciAddress.parse(required(f, "bdf"));
        switch (parts[0]) {
            case "drop":
                return new Record(bdf, null);
            case "put":
                Owner owner = f.containsKey("owner")
                        ? new Owner(UUID.fromString(f.get("owner")), required(f, "ownerName"),
                        Integer.parseInt(required(f, "ownerDomid")))
                        : null;
                return new Record(bdf, new Ownership(bdf, DeviceState.valueOf(required(f, "state")),
                        Pending.valueOf(required(f, "pending")), owner, f.get("driver"), f.get("name"),
                        Boolean.parseBoolean(f.get("managed")), Boolean.parseBoolean(f.get("returnToHost"))));
            default:
                throw new IllegalArgumentException("unknown record kind '" + parts[0] + "'");
        }
    }

    private static String required(Map<String, String> f, String key) {
        String v = f.get(key);
        if (v == null) {
            throw new IllegalArgumentException("missing field " + key);
        }
        return v;
    }
}
