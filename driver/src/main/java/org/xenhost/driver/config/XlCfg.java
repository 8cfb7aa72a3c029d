package org.xenhost.driver.config;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An xl.cfg file as libxlutil reads it: an ordered set of {@code key = value} settings whose values are
 * atoms (strings or numbers, both kept as text, as libxlutil does) or lists of atoms.
 *
 * <p>Grammar (libxlutil's, {@code tools/libs/util/libxlu_cfg_*}): settings end at a newline or {@code ;};
 * {@code #} starts a comment; an atom is a {@code "double"} or {@code 'single'} quoted string (with
 * C-style escapes) or a bare number/word; a list is {@code [ atom, atom, ]} and may span lines and end with
 * a comma; {@code key += value} appends to an earlier list or string. A later setting of the same key
 * replaces the earlier one (libxlutil looks up the last).
 */
public final class XlCfg {

    /** One value in the file. */
    public sealed interface Value permits Atom, ListValue {
        /** The line the value started on (1-based), for error messages. */
        int line();
    }

    /** A string or number; {@code quoted} tells which, because xl rejects quoted numbers in some keys. */
    public record Atom(String text, boolean quoted, int line) implements Value {
    }

    /** A list of atoms or of further lists (xl nests them, e.g. {@code vnuma}). */
    public record ListValue(List<Value> items, int line) implements Value {
        public ListValue {
            items = List.copyOf(items);
        }
    }

    private final String source;
    private final Map<String, Value> settings;

    XlCfg(String source, LinkedHashMap<String, Value> settings) {
        this.source = source;
        this.settings = Collections.unmodifiableMap(settings);
    }

    /** Where the text came from (a file name or a label), used in every error message. */
    public String source() {
        return source;
    }

    /** All settings in file order (the last assignment of a key wins its place). */
    public Map<String, Value> settings() {
        return settings;
    }

    public boolean has(String key) {
        return settings.containsKey(key);
    }

    /** The atom's text, or {@code null} if absent; a list where an atom is expected is an error. */
    public String string(String key) {
        Value v = settings.get(key);
        if (v == null) {
            return null;
        }
        if (v instanceof Atom a) {
            return a.text();
        }
        throw new XlCfgException(source, v.line(), "'" + key + "' must be a single value, not a list");
    }

    /** A decimal (or 0x hex) number, as libxlutil's get_long reads it; {@code null} if absent. */
    public Long number(String key) {
        Value v = settings.get(key);
        if (v == null) {
            return null;
        }
        String text = string(key);
        try {
            String t = text.trim();
            if (t.startsWith("0x") || t.startsWith("0X")) {
                return Long.parseLong(t.substring(2), 16);
            }
            return Long.parseLong(t);
        } catch (NumberFormatException e) {
            throw new XlCfgException(source, v.line(), "'" + key + "' must be a number, got \"" + text + "\"");
        }
    }

    /** The list's atoms as text; an absent key gives an empty list; a single atom is refused, as xl does. */
    public List<String> list(String key) {
        Value v = settings.get(key);
        if (v == null) {
            return List.of();
        }
        if (v instanceof ListValue l) {
            List<String> out = new ArrayList<>(l.items().size());
            for (Value item : l.items()) {
                if (!(item instanceof Atom a)) {
                    throw new XlCfgException(source, item.line(), "'" + key + "' must be a list of strings, not of lists");
                }
                out.add(a.text());
            }
            return out;
        }
        throw new XlCfgException(source, v.line(), "'" + key + "' must be a list, e.g. " + key + " = [ \"...\" ]");
    }

    /** The line a key was set on, or 0. */
    public int lineOf(String key) {
        Value v = settings.get(key);
        return v == null ? 0 : v.line();
    }

    /**
     * The same settings with {@code key} set to a list of quoted strings (replacing its value in place, or added
     * at the end); an empty list removes the key. How {@code attach-device --config} edits {@code pci}.
     */
    public XlCfg withList(String key, List<String> values) {
        LinkedHashMap<String, Value> next = new LinkedHashMap<>(settings);
        if (values.isEmpty()) {
            next.remove(key);
        } else {
            int line = lineOf(key);
            List<Value> items = new ArrayList<>();
            for (String v : values) {
                items.add(new Atom(v, true, line));
            }
            next.put(key, new ListValue(items, line));
        }
        return new XlCfg(source, next);
    }

    /** Formats the settings back as xl.cfg text that {@link XlCfgParser} reads to the same settings. */
    public String format() {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, Value> e : settings.entrySet()) {
            sb.append(e.getKey()).append(" = ");
            appendValue(sb, e.getValue());
            sb.append('\n');
        }
        return sb.toString();
    }

    private static void appendValue(StringBuilder sb, Value v) {
        if (v instanceof Atom a) {
            appendAtom(sb, a);
            return;
        }
        ListValue l = (ListValue) v;
        sb.append('[');
        for (int i = 0; i < l.items().size(); i++) {
            sb.append(i == 0 ? " " : ", ");
            appendValue(sb, l.items().get(i));
        }
        sb.append(l.items().isEmpty() ? "]" : " ]");
    }

    private static void appendAtom(StringBuilder sb, Atom a) {
        if (!a.quoted()) {
            sb.append(a.text());
            return;
        }
        sb.append('"');
        for (char c : a.text().toCharArray()) {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\t' -> sb.append("\\t");
                case '\r' -> sb.append("\\r");
                default -> {
                    sb.append(c);
                }
            }
        }
        sb.append('"');
    }
}
