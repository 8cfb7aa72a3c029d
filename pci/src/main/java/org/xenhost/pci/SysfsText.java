package org.xenhost.pci;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Parsing of sysfs attribute text and link targets, strict about format (the kernel's is fixed). */
final class SysfsText {
    private SysfsText() {
    }

    /**
     * Lexical resolution of a link target against the link's directory (no file-system access): the result is
     * absolute, without {@code .}, {@code ..} or repeated slashes, as {@link Path#normalize()} would give.
     */
    static String resolve(String baseDir, String target) {
        String quick = upAndDown(baseDir, target);
        if (quick != null) {
            return quick;
        }
        String joined = target.startsWith("/") ? target : baseDir + "/" + target;
        if (joined.indexOf("/.") < 0 && joined.indexOf("//") < 0 && !joined.endsWith("/")) {
            return joined; // already normal: the common case for absolute bases
        }
        String[] parts = new String[joined.length() / 2 + 1];
        int depth = 0;
        int start = 0;
        while (start <= joined.length()) {
            int end = joined.indexOf('/', start);
            if (end < 0) {
                end = joined.length();
            }
            String part = joined.substring(start, end);
            if (part.equals("..")) {
                if (depth > 0 && !parts[depth - 1].equals("..")) {
                    depth--;
                } else if (!joined.startsWith("/")) {
                    parts[depth++] = part; // a relative path keeps leading ..
                }
            } else if (!part.isEmpty() && !part.equals(".")) {
                parts[depth++] = part;
            }
            start = end + 1;
        }
        StringBuilder b = new StringBuilder(joined.length());
        for (int i = 0; i < depth; i++) {
            if (i > 0 || joined.startsWith("/")) {
                b.append('/');
            }
            b.append(parts[i]);
        }
        return b.length() == 0 ? (joined.startsWith("/") ? "/" : "") : b.toString();
    }

    /**
     * The shape of every kernel link ({@code ../../../devices/pci0000:00/...}) against a normal absolute base:
     * leading {@code ../} then plain names. Null for anything else (the general path handles it).
     */
    private static String upAndDown(String baseDir, String target) {
        if (!baseDir.startsWith("/") || baseDir.endsWith("/") || baseDir.contains("/.") || baseDir.contains("//")) {
            return null;
        }
        int at = 0;
        int ups = 0;
        while (target.startsWith("../", at)) {
            at += 3;
            ups++;
        }
        String rest = target.substring(at);
        if (rest.isEmpty() || rest.startsWith(".") || rest.contains("/.") || rest.contains("//") || rest.endsWith("/")
                || rest.startsWith("/")) {
            return null;
        }
        int cut = baseDir.length();
        for (int i = 0; i < ups; i++) {
            cut = baseDir.lastIndexOf('/', cut - 1);
            if (cut <= 0) {
                return null; // climbs to or above the root: the general path clamps it
            }
        }
        return baseDir.substring(0, cut) + "/" + rest;
    }

    /** Words separated by white space as {@code \\s+} splits them (no regular expression: this runs once per function). */
    static List<String> words(String t) {
        List<String> out = new ArrayList<>(2);
        int i = 0;
        int n = t.length();
        while (i < n) {
            while (i < n && space(t.charAt(i))) {
                i++;
            }
            int start = i;
            while (i < n && !space(t.charAt(i))) {
                i++;
            }
            if (i > start) {
                out.add(t.substring(start, i));
            }
        }
        return out;
    }

    /** The characters of the regular expression class {@code \\s}. */
    private static boolean space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == 0x0b || c == '\f' || c == '\r';
    }

    static String basename(String path) {
        int end = path.length();
        while (end > 1 && path.charAt(end - 1) == '/') {
            end--;
        }
        return path.substring(path.lastIndexOf('/', end - 1) + 1, end);
    }

    static String parent(String path) {
        int slash = path.lastIndexOf('/');
        return slash <= 0 ? "" : path.substring(0, slash);
    }

    /** {@code 0x} + 1..digits hex digits, else null. */
    static Integer hex(String t, int digits) {
        if (t.length() < 3 || t.length() > digits + 2 || t.charAt(0) != '0' || (t.charAt(1) != 'x' && t.charAt(1) != 'X')) {
            return null;
        }
        int v = 0;
        for (int i = 2; i < t.length(); i++) {
            int d = Character.digit(t.charAt(i), 16);
            if (d < 0) {
                return null;
            }
            v = v << 4 | d;
        }
        return v;
    }

    /** Optional minus sign and 1..9 decimal digits, else null. */
    static Integer decimal(String t) {
        int i = t.startsWith("-") ? 1 : 0;
        if (t.length() == i || t.length() - i > 9) {
            return null;
        }
        int v = 0;
        for (int k = i; k < t.length(); k++) {
            char c = t.charAt(k);
            if (c < '0' || c > '9') {
                return null;
            }
            v = v * 10 + (c - '0');
        }
        return i == 1 ? -v : v;
    }

    /** Garbage made safe to quote in a one-line warning. */
    static String printable(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length() && i < 40; i++) {
            char c = s.charAt(i);
            b.append(c >= 0x20 && c < 0x7f ? c : '?');
        }
        if (s.length() > 40) {
            b.append("...");
        }
        return b.toString();
    }
}
