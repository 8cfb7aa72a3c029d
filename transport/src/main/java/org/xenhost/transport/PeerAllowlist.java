package org.xenhost.transport;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Which authenticated peers may talk to this daemon, in the spirit of libvirt's {@code tls_allowed_dn_list}: a list
 * of glob patterns ({@code *} any run of characters, {@code ?} one character). A pattern without prefix (or with
 * {@code dn:}) matches the subject in RFC 2253 form ({@code CN=host-b,O=xenhost}); {@code dns:} matches a DNS SAN;
 * {@code ip:} matches an IP SAN. A peer is allowed when any pattern matches. There is no implicit "allow all":
 * {@link #anyPeerOfTheCa()} must be chosen explicitly.
 */
public final class PeerAllowlist {
    private final List<String> patterns;
    private final List<Rule> rules;

    private record Rule(String field, Pattern glob) {
    }

    private PeerAllowlist(List<String> patterns) {
        this.patterns = List.copyOf(patterns);
        List<Rule> r = new ArrayList<>();
        for (String p : patterns) {
            r.add(parse(p));
        }
        this.rules = List.copyOf(r);
    }

    /** {@return an allowlist of the given patterns}; bad patterns are refused naming the pattern. */
    public static PeerAllowlist of(List<String> patterns) {
        if (patterns.isEmpty()) {
            throw new IllegalArgumentException("peer allowlist is empty: list the peers' subjects (e.g. 'CN=host-*,O=xenhost')"
                    + " or allow every certificate of the CA explicitly");
        }
        return new PeerAllowlist(patterns);
    }

    /** {@return an allowlist accepting any peer whose certificate chains to the configured CA} */
    public static PeerAllowlist anyPeerOfTheCa() {
        return new PeerAllowlist(List.of("*"));
    }

    /** {@return the patterns, as given} */
    public List<String> patterns() {
        return patterns;
    }

    /** {@return whether the peer matches any pattern} */
    public boolean allows(PeerIdentity peer) {
        for (Rule r : rules) {
            switch (r.field) {
                case "dn" -> {
                    if (r.glob.matcher(peer.subject()).matches()) {
                        return true;
                    }
                }
                case "dns" -> {
                    for (String d : peer.dnsNames()) {
                        if (r.glob.matcher(d.toLowerCase(Locale.ROOT)).matches()) {
                            return true;
                        }
                    }
                }
                default -> {
                    for (String ip : peer.ipAddresses()) {
                        if (r.glob.matcher(ip).matches()) {
                            return true;
                        }
                    }
                }
            }
        }
        return false;
    }

    private static Rule parse(String p) {
        if (p == null || p.isBlank()) {
            throw new IllegalArgumentException("peer allowlist pattern must not be empty");
        }
        String field = "dn";
        String glob = p;
        int colon = p.indexOf(':');
        if (colon > 0) {
            String prefix = p.substring(0, colon).toLowerCase(Locale.ROOT);
            if (prefix.equals("dn") || prefix.equals("dns") || prefix.equals("ip")) {
                field = prefix;
                glob = p.substring(colon + 1);
            }
        }
        if (glob.isEmpty()) {
            throw new IllegalArgumentException("peer allowlist pattern '" + p + "' has nothing after its prefix");
        }
        if (field.equals("dns")) {
            glob = glob.toLowerCase(Locale.ROOT);
        }
        StringBuilder re = new StringBuilder();
        for (char c : glob.toCharArray()) {
            switch (c) {
                case '*' -> re.append(".*");
                case '?' -> re.append('.');
                default -> re.append(Pattern.quote(String.valueOf(c)));
            }
        }
        return new Rule(field, Pattern.compile(re.toString()));
    }

    @Override
    public String toString() {
        return "PeerAllowlist" + patterns;
    }
}
