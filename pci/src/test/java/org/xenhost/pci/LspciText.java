package org.xenhost.pci;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * lspci's own decoded text, split into devices and capability blocks: the oracle for our config decoding.
 * Runs the real {@code lspci} (pciutils, installed by run-tests).
 */
final class LspciText {
    private static final Pattern DEVICE = Pattern.compile("^((?:[0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]) .*");
    private static final Pattern CAP = Pattern.compile("^\\tCapabilities: \\[([0-9a-f]+)(?: v(\\d+))?\\] (.*)$");

    /** One capability as lspci printed it. */
    record Cap(int offset, Integer version, String title, String body) {
    }

    /** One device: its full text and capability blocks in print order. */
    record Device(PciAddress address, String text, List<Cap> caps) {
        Cap cap(String titlePrefix) {
            for (Cap c : caps) {
                if (c.title().startsWith(titlePrefix)) {
                    return c;
                }
            }
            return null;
        }
    }

    private LspciText() {
    }

    /** Runs {@code lspci -F file -vvv -D} and splits its output. */
    static Map<PciAddress, Device> decode(Path dump) {
        return parse(run("lspci", "-F", dump.toString(), "-vvv", "-D"));
    }

    static String run(String... cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            int rc = p.waitFor();
            if (rc != 0) {
                throw new IllegalStateException(String.join(" ", cmd) + " exited " + rc);
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + cmd[0] + " (pciutils; ./run-tests installs it)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Splits -vvv text into devices. Exposed for tests that hold text from elsewhere (the dump files' own text). */
    static Map<PciAddress, Device> parse(String out) {
        Map<PciAddress, Device> devices = new LinkedHashMap<>();
        String[] lines = out.split("\n");
        int i = 0;
        while (i < lines.length) {
            Matcher d = DEVICE.matcher(lines[i]);
            if (!d.matches()) {
                i++;
                continue;
            }
            PciAddress a = PciAddress.parse(d.group(1));
            StringBuilder text = new StringBuilder(lines[i]).append('\n');
            List<Cap> caps = new ArrayList<>();
            i++;
            while (i < lines.length && !DEVICE.matcher(lines[i]).matches()) {
                text.append(lines[i]).append('\n');
                Matcher c = CAP.matcher(lines[i]);
                if (c.matches()) {
                    StringBuilder body = new StringBuilder();
                    int j = i + 1;
                    while (j < lines.length && lines[j].startsWith("\t\t")) {
                        body.append(lines[j]).append('\n');
                        j++;
                    }
                    caps.add(new Cap(Integer.parseInt(c.group(1), 16),
                            c.group(2) == null ? null : Integer.valueOf(c.group(2)), c.group(3), body.toString()));
                }
                i++;
            }
            devices.put(a, new Device(a, text.toString(), caps));
        }
        return devices;
    }

    /** Value of a {@code Name+}/{@code Name-} flag in text, or null when absent. */
    static Boolean flag(String text, String name) {
        Matcher m = Pattern.compile("(?:^|[\\s,])" + Pattern.quote(name) + "([+-])").matcher(text);
        return m.find() ? m.group(1).equals("+") : null;
    }

    /** Text between two labels (e.g. "DevCap:" .. "DevCtl:"), or "" when the first is absent. */
    static String between(String text, String from, String to) {
        int a = text.indexOf(from);
        if (a < 0) {
            return "";
        }
        int b = text.indexOf(to, a);
        return text.substring(a, b < 0 ? text.length() : b);
    }
}
