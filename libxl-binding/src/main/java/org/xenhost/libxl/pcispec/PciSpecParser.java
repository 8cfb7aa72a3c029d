package org.xenhost.libxl.pcispec;

import org.xenhost.libxl.LibxlDevicePci;
import org.xenhost.libxl.LibxlError;
import org.xenhost.libxl.RdmPolicy;
import org.xenhost.libxl.pcispec.PciSpecResult.Divergence;

import java.util.Objects;

/**
 * Parses xl.cfg PCI specs ({@code docs/man/xl-pci-configuration.5.pod}) exactly as libxlutil 4.17's
 * {@code xlu_pci_parse_spec_string} does, in pure Java, so that xenhost accepts the same {@code pci=[...]}
 * entries as {@code xl} without loading libxlutil:
 *
 * <pre>
 *   spec   = [ bdf [ "@" vslot ] [ "," ] ] [ key "=" value { "," key "=" value } [ "," ] ]
 *   bdf    = [ domain ":" ] bus ":" dev "." ( func | "*" )            (hex)
 *   key    = bdf | vslot | permissive | msitranslate | power_mgmt | seize | rdm_policy | name
 * </pre>
 *
 * <p>Exactly one of a BDF (positional or {@code bdf=}) and {@code name=} is required. The numbers are read
 * the way glibc's {@code sscanf("%x")} reads them (leading blanks, a sign and {@code 0x} are allowed, values
 * are truncated to 32 bits before the range check), flags the way {@code atoi} reads them ({@code yes} is 0),
 * {@code rdm_policy} case-insensitively (strict, relaxed, invalid). A positional BDF must be followed by
 * {@code @}, {@code ,} or the end, but a {@code bdf=} or {@code vslot=} value may carry trailing junk.
 * Fields not mentioned keep the seed's value, and a failed parse keeps what was filled before the failure,
 * as in C.
 *
 * <p>Deliberate differences (see {@link Divergence}): a BDF missing its {@code .F} after well-formed hex
 * groups and a spec containing NUL are refused with {@code ERROR_INVAL}, where libxlutil has undefined
 * behaviour or silently truncates.
 */
public final class PciSpecParser {
    private static final int OK = 0;
    private static final int INVAL = LibxlError.INVAL.code();
    private static final int FAIL = LibxlError.FAIL.code();

    private PciSpecParser() {
    }

    /** The struct {@code libxl_device_pci_init} gives: all zero, rdm policy invalid, no name. */
    public static LibxlDevicePci initialDevice() {
        return new LibxlDevicePci(0, 0, 0, 0, 0, 0, false, false, false, false, RdmPolicy.INVALID, null);
    }

    /**
     * Parses a spec onto a freshly initialised device.
     *
     * @throws PciSpecException if libxlutil would refuse the spec (or it is one of our deliberate refusals)
     */
    public static LibxlDevicePci parse(String spec) {
        PciSpecResult r = parse(spec, initialDevice());
        if (!r.ok()) {
            throw new PciSpecException(LibxlError.of(r.rc()), r.error());
        }
        return r.device();
    }

    /**
     * Parses a spec onto {@code seed} (xl seeds the flags from the global {@code pci_*} keys) and reports what
     * {@code xlu_pci_parse_spec_string} returns and leaves in the struct, even when it fails.
     */
    public static PciSpecResult parse(String spec, LibxlDevicePci seed) {
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(seed, "seed");
        Fields f = new Fields(seed);
        if (spec.indexOf('\0') >= 0) {
            return f.result(INVAL, "PCI spec '" + printable(spec) + "' contains a NUL character",
                    Divergence.NUL_CHARACTER);
        }
        try {
            new Run(spec, f).spec();
            return f.result(OK, null, Divergence.NONE);
        } catch (Refusal r) {
            return f.result(r.rc, "PCI spec '" + spec + "' rejected: " + r.getMessage(), r.divergence);
        }
    }

    // -----------------------------------------------------------------------------------------------------

    /** One parse of one spec: the C function's control flow, with a cursor instead of {@code char *}. */
    private static final class Run {
        private final String s;
        private final Fields f;

        Run(String s, Fields f) {
            this.s = s;
            this.f = f;
        }

        void spec() throws Refusal {
            int pos = 0;
            boolean bdfPresent = false;
            boolean namePresent = false;

            // 1. a positional BDF, optionally "@vslot", then "," or the end
            int afterBdf = bdf(s, 0, true);
            if (afterBdf >= 0) {
                bdfPresent = true;
                pos = afterBdf;
                if (at(pos) == '@') {
                    pos = vslot(s, pos + 1);
                }
                if (at(pos) == ',') {
                    pos++;
                } else if (pos < s.length()) {
                    throw new Refusal(INVAL, "unexpected '" + s.substring(pos) + "' after the BDF"
                            + " (expected '@VSLOT', ',' or the end)");
                }
            }

            // 2. the rest as key=value pairs
            while (pos < s.length()) {
                int eq = s.indexOf('=', pos);
                if (eq < 0) {
                    throw new Refusal(INVAL, "'" + s.substring(pos) + "' is not KEY=VALUE");
                }
                String key = s.substring(pos, eq);
                int comma = s.indexOf(',', eq + 1);
                int valueEnd = comma < 0 ? s.length() : comma;
                String value = s.substring(eq + 1, valueEnd);
                pos = comma < 0 ? valueEnd : comma + 1;

                switch (key) {
                    case "bdf" -> {
                        if (bdf(value, 0, false) < 0) {
                            throw new Refusal(INVAL, "bdf=" + value + " is not [DDDD:]BB:DD.F");
                        }
                        bdfPresent = true;
                    }
                    case "vslot" -> vslot(value, 0);
                    case "permissive" -> f.permissive = atoi(value) != 0;
                    case "msitranslate" -> f.msitranslate = atoi(value) != 0;
                    case "seize" -> f.seize = atoi(value) != 0;
                    case "power_mgmt" -> f.powerMgmt = atoi(value) != 0;
                    case "rdm_policy" -> f.rdmPolicy = rdmPolicy(value);
                    case "name" -> {
                        namePresent = true;
                        f.name = value;
                    }
                    default -> throw new Refusal(INVAL, "unknown key '" + key + "' (known: bdf, vslot, permissive,"
                            + " msitranslate, seize, power_mgmt, rdm_policy, name)");
                }
            }

            // 3. exactly one way of naming the device
            if (bdfPresent == namePresent) {
                throw new Refusal(INVAL, bdfPresent ? "give either a BDF or name=, not both"
                        : "no device: give a BDF ([DDDD:]BB:DD.F) or name=");
            }
        }

        private char at(int i) {
            return i < s.length() ? s.charAt(i) : '\0';
        }

        /**
         * libxlutil's {@code parse_bdf}: counts the colons in the leading run of hex digits and colons to know
         * whether a domain is present, scans the groups with {@code %x}, then the function or {@code *}.
         * Fills the BDF fields only when everything scanned.
         *
         * @return the index after the function, or -1 if this is not a BDF (ERROR_INVAL in C)
         * @throws Refusal for our deliberate refusal of a BDF whose groups scan but lack the '.'
         */
        private int bdf(String t, int from, boolean positional) throws Refusal {
            int colons = 0;
            for (int i = from; i < t.length() && (isXDigit(t.charAt(i)) || t.charAt(i) == ':'); i++) {
                if (t.charAt(i) == ':') {
                    colons++;
                }
            }
            if (colons != 1 && colons != 2) {
                return -1;
            }
            long domain = 0;
            int pos = from;
            if (colons == 2) {
                Hex d = Hex.scan(t, pos);
                if (d == null || charAt(t, d.end) != ':') {
                    return -1;
                }
                domain = d.value;
                pos = d.end + 1;
            }
            Hex bus = Hex.scan(t, pos);
            if (bus == null || charAt(t, bus.end) != ':') {
                return -1;
            }
            Hex dev = Hex.scan(t, bus.end + 1);
            if (dev == null) {
                return -1;
            }
            if (charAt(t, dev.end) != '.') {
                // sscanf matched every conversion but not the '.', so C's %n stays unset and is then used.
                throw new Refusal(INVAL, (positional ? "BDF '" : "bdf='") + t.substring(from, dev.end)
                        + "' has no '.F' function part (write e.g. " + t.substring(from, dev.end) + ".0)",
                        Divergence.BDF_WITHOUT_FUNCTION);
            }
            if (domain > 0xffff || bus.value > 0xff || dev.value > 0x1f) {
                return -1;
            }
            pos = dev.end + 1;
            long func;
            int mask;
            if (charAt(t, pos) == '*') {
                func = 0;
                mask = LibxlDevicePci.FUNC_ALL;
                pos++;
            } else {
                Hex fn = Hex.scan(t, pos);
                if (fn == null || fn.value > 7) {
                    return -1;
                }
                func = fn.value;
                mask = 1;
                pos = fn.end;
            }
            f.vfuncMask = mask;
            f.domain = (int) domain;
            f.bus = (int) bus.value;
            f.dev = (int) dev.value;
            f.func = (int) func;
            return pos;
        }

        /** libxlutil's {@code parse_vslot}: {@code %x}, at most 0x1f, stored as {@code vdevfn = vslot << 3}. */
        private int vslot(String t, int from) throws Refusal {
            Hex v = Hex.scan(t, from);
            if (v == null || v.value > 0x1f) {
                throw new Refusal(INVAL, "vslot '" + t.substring(from) + "' is not a hex slot 0..1f");
            }
            f.vdevfn = (int) (v.value << 3);
            return v.end;
        }

        private static RdmPolicy rdmPolicy(String value) throws Refusal {
            // libxl_rdm_reserve_policy_from_string: strcasecmp over the enum's string table, ERROR_FAIL if absent
            for (RdmPolicy p : RdmPolicy.values()) {
                if (asciiEqualsIgnoreCase(p.xlName(), value)) {
                    return p;
                }
            }
            throw new Refusal(FAIL, "unknown rdm_policy '" + value + "' (strict or relaxed)");
        }
    }

    /** glibc {@code sscanf("%x")} on a {@code unsigned int}: one conversion, or null if it matched nothing. */
    private static final class Hex {
        final long value; // 0..0xffffffff
        final int end;

        private Hex(long value, int end) {
            this.value = value;
            this.end = end;
        }

        static Hex scan(String t, int i) {
            while (i < t.length() && isCSpace(t.charAt(i))) {
                i++;
            }
            boolean negative = false;
            if (i < t.length() && (t.charAt(i) == '-' || t.charAt(i) == '+')) {
                negative = t.charAt(i) == '-';
                i++;
            }
            int digits = 0;
            long acc = 0;
            boolean overflow = false;
            if (i < t.length() && t.charAt(i) == '0') {
                digits++;
                i++;
                // glibc consumes an 'x' after a leading 0 even when no hex digit follows ("0x" reads as 0)
                if (i < t.length() && (t.charAt(i) == 'x' || t.charAt(i) == 'X')) {
                    i++;
                }
            }
            while (i < t.length() && isXDigit(t.charAt(i))) {
                int d = Character.digit(t.charAt(i), 16);
                if (Long.compareUnsigned(acc, 0x0fffffffffffffffL) > 0) {
                    overflow = true;
                }
                acc = (acc << 4) | d;
                digits++;
                i++;
            }
            if (digits == 0) {
                return null;
            }
            // strtoul: saturate at ULONG_MAX on overflow (whatever the sign), else negate modulo 2^64;
            // then the (unsigned int) store keeps the low 32 bits.
            long ul = overflow ? -1L : (negative ? -acc : acc);
            return new Hex(ul & 0xffffffffL, i);
        }
    }

    /** glibc {@code atoi}: {@code (int) strtol(s, NULL, 10)}, saturating at LONG_MIN/LONG_MAX before the cast. */
    static int atoi(String t) {
        int i = 0;
        while (i < t.length() && isCSpace(t.charAt(i))) {
            i++;
        }
        boolean negative = false;
        if (i < t.length() && (t.charAt(i) == '-' || t.charAt(i) == '+')) {
            negative = t.charAt(i) == '-';
            i++;
        }
        long acc = 0;
        boolean overflow = false;
        while (i < t.length() && t.charAt(i) >= '0' && t.charAt(i) <= '9') {
            int d = t.charAt(i) - '0';
            if (!overflow) {
                // magnitude limit is 2^63 for negative numbers, 2^63-1 for positive ones
                long limit = negative ? Long.MIN_VALUE : -Long.MAX_VALUE;
                if (acc < (limit + d) / 10) {
                    overflow = true;
                } else {
                    acc = acc * 10 - d; // accumulate negatively so that LONG_MIN fits
                }
            }
            i++;
        }
        long value = overflow ? (negative ? Long.MIN_VALUE : Long.MAX_VALUE) : (negative ? acc : -acc);
        return (int) value;
    }

    private static char charAt(String t, int i) {
        return i < t.length() ? t.charAt(i) : '\0';
    }

    /** C-locale {@code isxdigit}. */
    static boolean isXDigit(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    }

    /** C-locale {@code isspace}. */
    static boolean isCSpace(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == 0x0b || c == '\f' || c == '\r';
    }

    /** C-locale {@code strcasecmp(a, b) == 0}: only ASCII letters fold (unlike {@link String#equalsIgnoreCase}). */
    static boolean asciiEqualsIgnoreCase(String a, String b) {
        if (a.length() != b.length()) {
            return false;
        }
        for (int i = 0; i < a.length(); i++) {
            char x = a.charAt(i);
            char y = b.charAt(i);
            if (x >= 'A' && x <= 'Z') {
                x = (char) (x + 32);
            }
            if (y >= 'A' && y <= 'Z') {
                y = (char) (y + 32);
            }
            if (x != y) {
                return false;
            }
        }
        return true;
    }

    private static String printable(String spec) {
        return spec.replace("\0", "\\0");
    }

    /** The {@code libxl_device_pci} being filled, mutable as in C. */
    private static final class Fields {
        int domain;
        int bus;
        int dev;
        int func;
        int vdevfn;
        int vfuncMask;
        boolean msitranslate;
        boolean powerMgmt;
        boolean permissive;
        boolean seize;
        RdmPolicy rdmPolicy;
        String name;

        Fields(LibxlDevicePci d) {
            domain = d.domain();
            bus = d.bus();
            dev = d.dev();
            func = d.func();
            vdevfn = d.vdevfn();
            vfuncMask = d.vfuncMask();
            msitranslate = d.msitranslate();
            powerMgmt = d.powerMgmt();
            permissive = d.permissive();
            seize = d.seize();
            rdmPolicy = d.rdmPolicy();
            name = d.name();
        }

        PciSpecResult result(int rc, String error, Divergence divergence) {
            LibxlDevicePci d = new LibxlDevicePci(domain, bus, dev, func, vdevfn, vfuncMask, msitranslate, powerMgmt,
                    permissive, seize, rdmPolicy, name);
            return new PciSpecResult(rc, d, error, divergence);
        }
    }

    /** C's early {@code return ret}. */
    private static final class Refusal extends Exception {
        private static final long serialVersionUID = 1L;
        final int rc;
        final Divergence divergence;

        Refusal(int rc, String message) {
            this(rc, message, Divergence.NONE);
        }

        Refusal(int rc, String message, Divergence divergence) {
            super(message, null, false, false);
            this.rc = rc;
            this.divergence = divergence;
        }
    }
}
