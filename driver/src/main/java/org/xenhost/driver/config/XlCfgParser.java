package org.xenhost.driver.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * Reads xl.cfg text into {@link XlCfg}, accepting what libxlutil accepts (the differential test holds it to
 * that) and naming file and line for everything it refuses.
 */
public final class XlCfgParser {
    /** Configs are a few KiB; a bigger one is a mistake (a disk image passed by accident, say). */
    public static final int MAX_BYTES = 1 << 20;

    private final String source;
    private final String text;
    private int pos;
    private int line = 1;

    private XlCfgParser(String source, String text) {
        this.source = source;
        this.text = text;
    }

    /** Parses a file; its name appears in every error. */
    public static XlCfg parseFile(Path file) {
        String name = file.toString();
        byte[] bytes;
        try {
            if (Files.size(file) > MAX_BYTES) {
                throw new XlCfgException(name, 0, "file is larger than " + MAX_BYTES + " bytes; is it really an xl.cfg?");
            }
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new XlCfgException(name, 0, "cannot read the file (" + e.getMessage() + ")");
        }
        return parse(name, new String(bytes, StandardCharsets.UTF_8));
    }

    /** Parses text; {@code source} names it in errors. */
    public static XlCfg parse(String source, String text) {
        if (text.length() > MAX_BYTES) {
            throw new XlCfgException(source, 0, "text is larger than " + MAX_BYTES + " bytes");
        }
        return new XlCfgParser(source, text).file();
    }

    private XlCfg file() {
        LinkedHashMap<String, XlCfg.Value> settings = new LinkedHashMap<>();
        while (true) {
            skipBlank(true);
            if (atEnd()) {
                break;
            }
            char c = peek();
            if (c == ';') {
                pos++;
                continue;
            }
            int keyLine = line;
            String key = ident();
            skipBlank(false);
            boolean append = false;
            if (lookingAt("+=")) {
                append = true;
                pos += 2;
            } else if (!atEnd() && peek() == '=') {
                pos++;
            } else {
                throw error("expected '=' after '" + key + "'" + (lookingAt(":") ? " (this looks like a Python-style config; xl.cfg uses key = value)" : ""));
            }
            skipBlank(false);
            XlCfg.Value value = value(keyLine);
            if (append) {
                value = appended(key, settings.get(key), value);
            }
            settings.remove(key); // the last assignment also takes the last place, as in the file
            settings.put(key, value);
            endOfSetting();
        }
        return new XlCfg(source, settings);
    }

    private XlCfg.Value appended(String key, XlCfg.Value old, XlCfg.Value add) {
        if (old == null) {
            return add;
        }
        if (old instanceof XlCfg.ListValue ol && add instanceof XlCfg.ListValue al) {
            List<XlCfg.Value> items = new ArrayList<>(ol.items());
            items.addAll(al.items());
            return new XlCfg.ListValue(items, ol.line());
        }
        if (old instanceof XlCfg.Atom oa && add instanceof XlCfg.Atom aa) {
            return new XlCfg.Atom(oa.text() + aa.text(), oa.quoted() || aa.quoted(), oa.line());
        }
        throw new XlCfgException(source, add.line(), "'" + key + " +=' must add a value of the same kind (list to list, string to string)");
    }

    private void endOfSetting() {
        skipBlank(false);
        if (atEnd()) {
            return;
        }
        char c = peek();
        if (c == '\n' || c == ';') {
            return;
        }
        throw error("unexpected '" + printable(c) + "' after the value; put one setting per line");
    }

    private XlCfg.Value value(int keyLine) {
        if (atEnd() || peek() == '\n') {
            throw new XlCfgException(source, keyLine, "missing value after '='");
        }
        if (peek() == '[') {
            int startLine = line;
            pos++;
            List<XlCfg.Value> items = new ArrayList<>();
            while (true) {
                skipBlank(true);
                if (atEnd()) {
                    throw new XlCfgException(source, startLine, "list opened with '[' is never closed with ']'");
                }
                if (peek() == ']') {
                    pos++;
                    return new XlCfg.ListValue(items, startLine);
                }
                items.add(peek() == '[' ? value(line) : atom());
                skipBlank(true);
                if (atEnd()) {
                    throw new XlCfgException(source, startLine, "list opened with '[' is never closed with ']'");
                }
                char c = peek();
                if (c == ',') {
                    pos++;
                } else if (c != ']') {
                    throw error("expected ',' or ']' in the list, found '" + printable(c) + "'");
                }
            }
        }
        return atom();
    }

    private XlCfg.Atom atom() {
        int at = line;
        char c = peek();
        if (c == '"' || c == '\'') {
            return new XlCfg.Atom(quoted(c), true, at);
        }
        if (isDigit(c)) {
            int start = pos;
            while (!atEnd() && isNumberChar(peek())) {
                pos++;
            }
            return new XlCfg.Atom(text.substring(start, pos), false, at);
        }
        if (isIdentStart(c)) {
            String word = ident();
            throw new XlCfgException(source, at, "value '" + word + "' must be quoted (\"" + word + "\") or be a number");
        }
        throw error("expected a value (a \"string\", a number or a [ list ]), found '" + printable(c) + "'");
    }

    private String quoted(char quote) {
        int startLine = line;
        pos++;
        StringBuilder sb = new StringBuilder();
        while (true) {
            if (atEnd() || peek() == '\n') {
                throw new XlCfgException(source, startLine, "string is not closed with " + quote + " before the end of the line");
            }
            char c = text.charAt(pos++);
            if (c == quote) {
                return sb.toString();
            }
            if (c != '\\') {
                sb.append(c);
                continue;
            }
            if (atEnd() || peek() == '\n') {
                throw new XlCfgException(source, startLine, "string ends with a lone backslash");
            }
            char e = text.charAt(pos++);
            switch (e) {
                case 'n' -> sb.append('\n');
                case 't' -> sb.append('\t');
                case 'r' -> sb.append('\r');
                case 'a' -> sb.append('\u0007');
                case 'b' -> sb.append('\b');
                case 'f' -> sb.append('\f');
                case 'v' -> sb.append('\u000b');
                // libxlutil refuses \x and mangles octal escapes (it drops the character): refuse both
                case 'x', '0', '1', '2', '3', '4', '5', '6', '7' -> throw new XlCfgException(source, startLine,
                        "numeric escape '\\" + e + "' in a string is not supported (xl refuses or drops it); write the character itself");
                default -> sb.append(e); // \\ \" \' and any other char stand for themselves
            }
        }
    }

    private String ident() {
        if (atEnd() || !isIdentStart(peek())) {
            throw error(atEnd() ? "unexpected end of file"
                    : "expected a setting name (lower-case letters, digits, '_' and '.', starting with a letter), found '" + printable(peek()) + "'");
        }
        int start = pos;
        while (!atEnd() && isIdentChar(peek())) {
            pos++;
        }
        return text.substring(start, pos);
    }

    /** Skips spaces, tabs and comments; newlines too when {@code newlines}. */
    private void skipBlank(boolean newlines) {
        while (!atEnd()) {
            char c = peek();
            if (c == ' ' || c == '\t') {
                pos++;
            } else if (c == '#') {
                int at = line;
                while (!atEnd() && peek() != '\n') {
                    pos++;
                }
                if (atEnd()) {
                    throw new XlCfgException(source, at, "the comment on the last line needs a newline after it (xl refuses the file otherwise)");
                }
            } else if (c == '\n' && newlines) {
                pos++;
                line++;
            } else {
                return;
            }
        }
    }

    private XlCfgException error(String problem) {
        return new XlCfgException(source, line, problem);
    }

    private boolean atEnd() {
        return pos >= text.length();
    }

    private char peek() {
        return text.charAt(pos);
    }

    private boolean lookingAt(String s) {
        return text.startsWith(s, pos);
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    // libxlutil's lexer: names are [a-z][._0-9a-z]*, numbers [0-9][0-9a-fx]* (decimal, 0x hex, and
    // whatever else those characters spell; they stay text until a key is read as a number).
    private static boolean isIdentStart(char c) {
        return c >= 'a' && c <= 'z';
    }

    private static boolean isIdentChar(char c) {
        return isIdentStart(c) || isDigit(c) || c == '_' || c == '.';
    }

    private static boolean isNumberChar(char c) {
        return isDigit(c) || (c >= 'a' && c <= 'f') || c == 'x';
    }

    private static String printable(char c) {
        return c == '\n' ? "end of line" : c < 0x20 ? String.format("\\x%02x", (int) c) : String.valueOf(c);
    }
}
