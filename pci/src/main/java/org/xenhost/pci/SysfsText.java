package org.xenhost.pci;

import java.nio.file.Path;

/** Parsing of sysfs attribute text and link targets, strict about format (the kernel's is fixed). */
final class SysfsText {
    private SysfsText() {
    }

    /** Lexical resolution of a link target against the link's directory (no file-system access). */
    static String resolve(String baseDir, String target) {
        if (target.startsWith("/")) {
            return Path.of(target).normalize().toString();
        }
        return Path.of(baseDir).resolve(target).normalize().toString();
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
