package org.xenhost.transport.pki;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * One subject alternative name of a host certificate: a DNS name or an IP address, as the peers dial it.
 *
 * @param kind  DNS or IP
 * @param value the DNS name (lower case) or the IP address in its canonical text form
 */
public record SubjectAltName(Kind kind, String value) {
    /** The two SAN kinds a host certificate carries. */
    public enum Kind { DNS, IP }

    private static final Pattern DNS = Pattern.compile(
            "(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*");
    private static final Pattern IPV4 = Pattern.compile("(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)(\\.(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)){3}");
    private static final Pattern IPV6 = Pattern.compile("[0-9a-fA-F:.]*:[0-9a-fA-F:.]*");

    /**
     * Parses an operator's {@code --san} value: an IPv4/IPv6 literal becomes an IP SAN, anything else must be a
     * DNS name (letters, digits, hyphens, dots).
     *
     * @throws IllegalArgumentException naming the value when it is neither
     */
    public static SubjectAltName parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("SAN must not be empty; give a DNS name or an IP address");
        }
        String t = text.trim();
        if (IPV4.matcher(t).matches() || IPV6.matcher(t).matches()) {
            try {
                // literal only: the patterns above guarantee no DNS lookup happens here
                return new SubjectAltName(Kind.IP, InetAddress.getByName(t).getHostAddress());
            } catch (UnknownHostException e) {
                throw new IllegalArgumentException("SAN '" + text + "' is not a valid IP address", e);
            }
        }
        if (t.matches("[0-9.]+")) {
            throw new IllegalArgumentException("SAN '" + text + "' is not a valid IPv4 address");
        }
        String lower = t.toLowerCase(Locale.ROOT);
        if (!DNS.matcher(lower).matches()) {
            throw new IllegalArgumentException("SAN '" + text + "' is neither an IP address nor a valid DNS name "
                    + "(letters, digits, '-' and '.', labels up to 63 characters)");
        }
        return new SubjectAltName(Kind.DNS, lower);
    }

    /** {@return whether a host name is a valid DNS name that can also serve as SAN} */
    static boolean isDnsName(String name) {
        return DNS.matcher(name.toLowerCase(Locale.ROOT)).matches();
    }

    @Override
    public String toString() {
        return kind + ":" + value;
    }
}
