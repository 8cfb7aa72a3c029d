package org.xenhost.driver.config;

/** A configuration file the operator must fix; the message names the file and line. */
public final class XlCfgException extends IllegalArgumentException {
    private final String source;
    private final int line;

    public XlCfgException(String source, int line, String problem) {
        super(source + (line > 0 ? ":" + line : "") + ": " + problem);
        this.source = source;
        this.line = line;
    }

    public String source() {
        return source;
    }

    public int line() {
        return line;
    }
}
