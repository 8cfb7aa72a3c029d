package org.xenhost.emulator.kernel;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One pciback slot-list entry {@code domain:bus:slot.func}; parsed from what pciback's {@code new_slot} and
 * {@code remove_slot} accept ({@code DDDD:BB:SS.F}, {@code BB:SS.F}, wildcards {@code SS.*} and {@code *.*}).
 * A wildcard is {@code -1} before expansion.
 */
record SlotId(int domain, int bus, int slot, int func) {
    private static final Pattern SPEC = Pattern.compile(
            "(?:([0-9a-fA-F]{1,4}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2}|\\*)\\.([0-7]|\\*)");
    private static final Pattern BDF = Pattern.compile("([0-9a-f]{4}):([0-9a-f]{2}):([0-1][0-9a-f])\\.([0-7])");

    /** Parses a slot spec as pciback's str_to_slot does; empty if it does not parse or is out of range. */
    static Optional<SlotId> parseSpec(String s) {
        Matcher m = SPEC.matcher(s.trim());
        if (!m.matches()) {
            return Optional.empty();
        }
        int domain = m.group(1) == null ? 0 : Integer.parseInt(m.group(1), 16);
        int bus = Integer.parseInt(m.group(2), 16);
        int slot = m.group(3).equals("*") ? -1 : Integer.parseInt(m.group(3), 16);
        int func = m.group(4).equals("*") ? -1 : Integer.parseInt(m.group(4));
        if (slot > 0x1f || (slot == -1 && func != -1)) {
            return Optional.empty();
        }
        return Optional.of(new SlotId(domain, bus, slot, func));
    }

    /** Parses a canonical BDF as the PCI core names devices ({@code 0000:03:00.0}). */
    static Optional<SlotId> parseBdf(String s) {
        Matcher m = BDF.matcher(s);
        if (!m.matches()) {
            return Optional.empty();
        }
        int slot = Integer.parseInt(m.group(3), 16);
        if (slot > 0x1f) {
            return Optional.empty();
        }
        return Optional.of(new SlotId(Integer.parseInt(m.group(1), 16), Integer.parseInt(m.group(2), 16), slot,
                Integer.parseInt(m.group(4))));
    }

    boolean covers(SlotId device) {
        return domain == device.domain && bus == device.bus && (slot == -1 || slot == device.slot)
                && (func == -1 || func == device.func);
    }

    String text() {
        // by hand: String.format was the hot spot of rewriting a long slot list under pciback's list lock
        StringBuilder b = new StringBuilder(12);
        hex(b, domain, 4).append(':');
        hex(b, bus, 2).append(':');
        return hex(b, slot, 2).append('.').append(func).toString();
    }

    private static StringBuilder hex(StringBuilder b, int v, int digits) {
        for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) {
            b.append(Character.forDigit((v >>> shift) & 0xf, 16));
        }
        return b;
    }
}
