package org.xenhost.daemon.config;

import org.xenhost.driver.config.XlCfg;
import org.xenhost.driver.config.XlCfgException;
import org.xenhost.driver.config.XlCfgParser;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * xenhostd's settings: a {@code key = value} file in libvirt's .conf style (same syntax as xl.cfg:
 * strings quoted, lists in brackets, {@code #} comments) overlaid by command-line flags of the same names
 * ({@code --state-dir} sets {@code state_dir}).
 *
 * @param hypervisor   {@code emulated} (the embedded default) or {@code native} (the real libxenlight)
 * @param sysfsRoot    where {@code sys/} is: {@code /} on a real host, a fixture copy when emulated
 * @param stateDir     domains, journals, the emulated hypervisor's files
 * @param adminSocket  the admin API's UNIX socket
 * @param adminGroup   group allowed on the admin socket (mode 0660), or null for root only (0600)
 * @param listen       migration/TLS port; port 0 picks a free one and prints it; null disables it
 * @param tlsDir       ca-cert.pem, HOST-cert.pem, HOST-key.pem
 * @param tlsName      HOST in those file names
 * @param allowPeers   certificate subject/SAN patterns allowed to connect
 * @param emulatedMemoryMiB memory of the emulated host when it is first created (0: the emulator's default)
 * @param peerTimeoutSeconds how long a peer may take to connect and open TLS, or stay silent on an open
 *                    connection, before it counts as gone (0: the transport's default, 10 s); raise it for slow
 *                    or heavily loaded hosts, where a cold daemon's first TLS handshake can take longer
 * @param domainWatchSeconds how often xenhostd looks for its guests gone from Xen without it (crashed, or destroyed
 *                    by xl) to give their devices back and free their names; 0 turns the watch off (then only
 *                    list/define/create/restore notice them). Default 5.
 */
public record DaemonConfig(String hypervisor, Path sysfsRoot, Path stateDir, Path adminSocket, String adminGroup,
                           InetSocketAddress listen, Path tlsDir, String tlsName, List<String> allowPeers,
                           long emulatedMemoryMiB, int peerTimeoutSeconds, int domainWatchSeconds) {

    public static final Set<String> KEYS = Set.of("hypervisor", "sysfs_root", "state_dir", "admin_socket",
            "admin_group", "listen", "tls_dir", "tls_name", "allow_peer", "emulated_memory", "peer_timeout", "domain_watch");

    public DaemonConfig {
        allowPeers = List.copyOf(allowPeers);
    }

    /** The settings a bare {@code xenhost daemon} uses. */
    public static Map<String, Object> defaults() {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("hypervisor", "emulated");
        d.put("sysfs_root", "/");
        d.put("state_dir", "/var/lib/xenhost");
        d.put("admin_socket", "/run/xenhost/xenhostd.sock");
        d.put("domain_watch", "5");
        return d;
    }

    /**
     * Builds the configuration: defaults, then the file (if any), then the flags; each value checked.
     *
     * @param fileText the config file's text, or null
     * @param flags    flag values by key (strings; {@code allow_peer} a list), already parsed by the CLI
     */
    public static DaemonConfig resolve(String fileName, String fileText, Map<String, Object> flags) {
        Map<String, Object> v = defaults();
        if (fileText != null) {
            XlCfg cfg = XlCfgParser.parse(fileName, fileText);
            for (String key : cfg.settings().keySet()) {
                if (!KEYS.contains(key)) {
                    throw new XlCfgException(fileName, cfg.lineOf(key), "unknown setting '" + key + "'; known: " + String.join(", ", sorted(KEYS)));
                }
                v.put(key, key.equals("allow_peer") ? listOrOne(cfg, key) : cfg.string(key));
            }
        }
        for (Map.Entry<String, Object> f : flags.entrySet()) {
            if (f.getValue() != null) {
                v.put(f.getKey(), f.getValue());
            }
        }
        String hv = (String) v.get("hypervisor");
        if (!hv.equals("emulated") && !hv.equals("native")) {
            throw new IllegalArgumentException("hypervisor \"" + hv + "\" must be \"emulated\" or \"native\"");
        }
        InetSocketAddress listen = v.get("listen") == null ? null : hostPort((String) v.get("listen"));
        Path tlsDir = v.get("tls_dir") == null ? null : Path.of((String) v.get("tls_dir"));
        String tlsName = (String) v.get("tls_name");
        if (listen != null && (tlsDir == null || tlsName == null)) {
            throw new IllegalArgumentException("listen needs tls_dir and tls_name (there is no plaintext migration port); "
                    + "create them with 'xenhost pki init-ca' and 'xenhost pki issue'");
        }
        @SuppressWarnings("unchecked")
        List<String> peers = v.get("allow_peer") == null ? List.of() : (List<String>) v.get("allow_peer");
        if (listen != null && peers.isEmpty()) {
            throw new IllegalArgumentException("listen needs at least one allow_peer pattern (e.g. 'CN=host-*' or '*' for any "
                    + "certificate of the CA): there is no implicit allow-all");
        }
        long memory = number(v, "emulated_memory", 2049, 1L << 32,
                "must be the emulated host's memory in MiB, more than the 2048 MiB dom0 keeps");
        int peerTimeout = (int) number(v, "peer_timeout", 1, 3600, "must be 1-3600 seconds");
        int watch = (int) number(v, "domain_watch", 0, 3600, "must be 0-3600 seconds (0: no watch)");
        return new DaemonConfig(hv, Path.of((String) v.get("sysfs_root")), Path.of((String) v.get("state_dir")),
                Path.of((String) v.get("admin_socket")), (String) v.get("admin_group"), listen, tlsDir, tlsName, peers, memory,
                peerTimeout, watch);
    }

    /** A whole-number setting in [min, max], or 0 when unset; anything else is refused, quoting the value. */
    private static long number(Map<String, Object> v, String key, long min, long max, String rule) {
        Object text = v.get(key);
        if (text == null) {
            return 0;
        }
        long n;
        try {
            n = Long.parseLong(((String) text).trim());
        } catch (NumberFormatException e) {
            n = min - 1;
        }
        if (n < min || n > max) {
            throw new IllegalArgumentException(key + " \"" + text + "\" " + rule);
        }
        return n;
    }

    /** Parses {@code HOST:PORT} ({@code [v6]:PORT} for IPv6); port 0 means "pick one". */
    public static InetSocketAddress hostPort(String text) {
        int colon = text.lastIndexOf(':');
        if (colon <= 0 || colon == text.length() - 1) {
            throw new IllegalArgumentException("listen address \"" + text + "\" must be HOST:PORT, e.g. 0.0.0.0:16514 or 127.0.0.1:0");
        }
        String host = text.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(text.substring(colon + 1));
        } catch (NumberFormatException e) {
            port = -1;
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("listen address \"" + text + "\": port must be 0..65535");
        }
        return new InetSocketAddress(host, port);
    }

    private static List<String> listOrOne(XlCfg cfg, String key) {
        XlCfg.Value value = cfg.settings().get(key);
        return value instanceof XlCfg.ListValue ? cfg.list(key) : List.of(cfg.string(key));
    }

    private static List<String> sorted(Set<String> keys) {
        List<String> l = new ArrayList<>(keys);
        l.sort(null);
        return l;
    }
}
