package org.xenhost.pci;

/**
 * A PCI function address (BDF with domain): {@code DDDD:BB:DD.F}, all hexadecimal.
 *
 * <p>{@link #parse} accepts exactly {@code DDDD:BB:DD.F} or the short {@code BB:DD.F} (domain 0), with 1–4 domain
 * digits, 1–2 bus and device digits and one function digit, either case. Nothing else is accepted: the address
 * often ends up in a sysfs path, so whitespace, signs, {@code ../} and trailing text are refused rather than trimmed.
 * The canonical text form is lower case {@code 0000:03:00.0}, as the kernel names the device directories.
 *
 * @param domain   PCI segment, 0..0xffff
 * @param bus      0..0xff
 * @param device   0..0x1f
 * @param function 0..7
 */
public record PciAddress(int domain, int bus, int device, int function) implements Comparable<PciAddress> {

    /** The accepted textual forms, quoted in every rejection message. */
    public static final String EXPECTED_FORM = "DDDD:BB:DD.F or BB:DD.F (hex; bus <= ff, device <= 1f, function <= 7)";

    public PciAddress {
        check(domain, 0xffff, "domain", domain, bus, device, function);
        check(bus, 0xff, "bus", domain, bus, device, function);
        check(device, 0x1f, "device", domain, bus, device, function);
        check(function, 7, "function", domain, bus, device, function);
    }

    private static void check(int value, int max, String what, int d, int b, int s, int f) {
        if (value < 0 || value > max) {
            throw new IllegalArgumentException(String.format(
                    "PCI %s %d out of range 0..%x in address (%d, %d, %d, %d)", what, value, max, d, b, s, f));
        }
    }

    /**
     * Parses {@code DDDD:BB:DD.F} or {@code BB:DD.F}.
     *
     * @throws IllegalArgumentException quoting {@code text} and the expected form when it is anything else
     */
    public static PciAddress parse(String text) {
        if (text == null) {
            throw new IllegalArgumentException("PCI address is missing; expected " + EXPECTED_FORM);
        }
        long v = scan(text);
        if (v == DEVICE_ABOVE_1F) {
            throw bad(text, " (device " + Integer.toHexString(hex(text, text.lastIndexOf(':', text.length() - 2) + 1,
                    text.length() - 2, 2)) + " is above 1f)");
        }
        if (v == FUNCTION_ABOVE_7) {
            throw bad(text, " (function " + hexDigit(text.charAt(text.length() - 1)) + " is above 7)");
        }
        if (v < 0) {
            throw bad(text, "");
        }
        return unpack(v);
    }

    /**
     * Parses like {@link #parse} but returns null instead of throwing; for scanning directory listings and paths,
     * where most names that are not addresses are routine (no exception is made for them).
     */
    public static PciAddress parseOrNull(String text) {
        if (text == null) {
            return null;
        }
        long v = scan(text);
        return v < 0 ? null : unpack(v);
    }

    private static final long MALFORMED = -1;
    private static final long DEVICE_ABOVE_1F = -2;
    private static final long FUNCTION_ABOVE_7 = -3;

    /** The address packed as domain, bus, device, function (16, 8, 8, 8 bits), or one of the negative reasons. */
    private static long scan(String text) {
        // Hand-written scanner: fast (called for every sysfs entry) and strict about every character.
        int len = text.length();
        int dot = len - 2;
        if (len < 5 || len > 12 || text.charAt(dot) != '.') {
            return MALFORMED;
        }
        int function = hexDigit(text.charAt(len - 1));
        if (function < 0) {
            return MALFORMED;
        }
        int c2 = text.lastIndexOf(':', dot);
        int c1 = c2 <= 0 ? -1 : text.lastIndexOf(':', c2 - 1);
        if (c2 < 0 || (c1 >= 0 && text.lastIndexOf(':', c1 - 1) >= 0)) {
            return MALFORMED;
        }
        int domain = c1 < 0 ? 0 : hex(text, 0, c1, 4);
        int bus = hex(text, c1 + 1, c2, 2);
        int device = hex(text, c2 + 1, dot, 2);
        if (domain < 0 || bus < 0 || device < 0) {
            return MALFORMED;
        }
        if (device > 0x1f) {
            return DEVICE_ABOVE_1F;
        }
        if (function > 7) {
            return FUNCTION_ABOVE_7;
        }
        return (long) domain << 24 | bus << 16 | device << 8 | function;
    }

    private static PciAddress unpack(long v) {
        return new PciAddress((int) (v >>> 24), (int) (v >>> 16) & 0xff, (int) (v >>> 8) & 0xff, (int) v & 0xff);
    }

    private static IllegalArgumentException bad(String text, String why) {
        return new IllegalArgumentException("invalid PCI address '" + text + "'" + why + "; expected " + EXPECTED_FORM);
    }

    /** Hex value of text[from, to) with 1..maxDigits digits, or -1. */
    private static int hex(String text, int from, int to, int maxDigits) {
        int n = to - from;
        if (n < 1 || n > maxDigits) {
            return -1;
        }
        int v = 0;
        for (int i = from; i < to; i++) {
            int d = hexDigit(text.charAt(i));
            if (d < 0) {
                return -1;
            }
            v = v << 4 | d;
        }
        return v;
    }

    private static int hexDigit(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    }

    /** Canonical form {@code 0000:03:00.0}, the kernel's directory name. */
    @Override
    public String toString() {
        char[] out = new char[12];
        put(out, 0, domain, 4);
        out[4] = ':';
        put(out, 5, bus, 2);
        out[7] = ':';
        put(out, 8, device, 2);
        out[10] = '.';
        out[11] = HEX[function];
        return new String(out);
    }

    /** The dash form xenstore uses in pciback keys: {@code 0000-03-00-0}. */
    public String toDashForm() {
        return toString().replace(':', '-').replace('.', '-');
    }

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private static void put(char[] out, int at, int value, int digits) {
        for (int i = digits - 1; i >= 0; i--) {
            out[at + i] = HEX[value & 0xf];
            value >>>= 4;
        }
    }

    @Override
    public int compareTo(PciAddress o) {
        int c = Integer.compare(domain, o.domain);
        if (c == 0) {
            c = Integer.compare(bus, o.bus);
        }
        if (c == 0) {
            c = Integer.compare(device, o.device);
        }
        return c != 0 ? c : Integer.compare(function, o.function);
    }
}
