package org.xenhost.libxl.jna;

import org.xenhost.libxl.SaveProgress;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One line printed by libxentoollog's stdio logger: {@code [context: ]level: message[: strerror]}, where a
 * progress report's message is {@code doing_what: done/total  percent%}.
 *
 * @param context e.g. {@code libxl} or {@code xc}, or null
 * @param level   xentoollog level name ({@code debug} .. {@code critical}), or null if the line has none
 * @param message the rest
 */
public record XenLogLine(String context, String level, String message) {
    private static final Pattern LINE = Pattern.compile(
            "^(?:(.*?): )?(debug|verbose|detail|progress|info|notice|warning|error|critical): (.*)$", Pattern.DOTALL);
    private static final Pattern PROGRESS = Pattern.compile("^(.*): (\\d+)/(\\d+) +(\\d+)%$", Pattern.DOTALL);

    /** Splits a line; a line in another shape becomes a message without level. */
    public static XenLogLine parse(String line) {
        Matcher m = LINE.matcher(line);
        if (!m.matches()) {
            return new XenLogLine(null, null, line);
        }
        return new XenLogLine(m.group(1), m.group(2), m.group(3));
    }

    /** True for error and critical lines. */
    public boolean isError() {
        return "error".equals(level) || "critical".equals(level);
    }

    /** The progress report this line carries, if it is one (levels detail/progress with the progress shape). */
    public Optional<SaveProgress> progress() {
        if (!"progress".equals(level) && !"detail".equals(level)) {
            return Optional.empty();
        }
        Matcher m = PROGRESS.matcher(message);
        if (!m.matches()) {
            return Optional.empty();
        }
        try {
            return Optional.of(new SaveProgress(m.group(1), Integer.parseInt(m.group(4)),
                    Long.parseUnsignedLong(m.group(2)), Long.parseUnsignedLong(m.group(3))));
        } catch (NumberFormatException e) {
            return Optional.empty(); // digits beyond 64 bits: not something libxenguest prints
        }
    }
}
