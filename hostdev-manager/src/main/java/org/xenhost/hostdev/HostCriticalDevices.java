package org.xenhost.hostdev;

import org.xenhost.pci.PciAddress;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Finds the PCI devices dom0 cannot lose: the one(s) under the block device holding the root filesystem and under
 * the network interface carrying the default route. Taking either away from the host would cut the branch the
 * host sits on, so xenhost refuses them unless the operator forces it.
 *
 * <p>Everything is read from injectable files so tests can point them at fixture data: the mount table
 * ({@code /proc/mounts}), the routing tables ({@code /proc/net/route}, {@code /proc/net/ipv6_route}) and the sysfs
 * root ({@code sys/class/block/<dev>} and {@code sys/class/net/<if>/device}, whose real paths run through the PCI
 * device directories).
 */
public final class HostCriticalDevices {
    /**
     * Where the facts come from.
     *
     * @param sysfsRoot  the sysfs root ({@code /} on a real host)
     * @param mounts     the mount table in {@code /proc/mounts} format
     * @param ipv4Routes {@code /proc/net/route} format, or null
     * @param ipv6Routes {@code /proc/net/ipv6_route} format, or null
     */
    public record Sources(Path sysfsRoot, Path mounts, Path ipv4Routes, Path ipv6Routes) {
        /** This host's own files. */
        public static Sources ofHost(Path sysfsRoot) {
            return new Sources(sysfsRoot, Path.of("/proc/mounts"), Path.of("/proc/net/route"),
                    Path.of("/proc/net/ipv6_route"));
        }
    }

    private final Sources sources;

    public HostCriticalDevices(Sources sources) {
        this.sources = sources;
    }

    /** Each critical device with the reason, e.g. {@code carries the root filesystem (/dev/sda2 on /)}. */
    public Map<PciAddress, String> find() {
        Map<PciAddress, String> out = new TreeMap<>();
        rootFilesystem(out);
        defaultRoute(out);
        return out;
    }

    private void rootFilesystem(Map<PciAddress, String> out) {
        List<String> lines = readLines(sources.mounts());
        String device = null;
        for (String line : lines) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 2 && unescape(f[1]).equals("/")) {
                device = unescape(f[0]); // the last mount on / is the one in effect
            }
        }
        if (device == null || !device.startsWith("/dev/")) {
            return; // overlay, tmpfs, nfs ...: no local PCI device carries it
        }
        String block = blockName(device);
        if (block == null) {
            return;
        }
        String reason = "carries the root filesystem (" + device + " mounted on /)";
        Deque<String> todo = new ArrayDeque<>(List.of(block));
        Set<String> seen = new HashSet<>();
        while (!todo.isEmpty() && seen.size() < 64) {
            String b = todo.pop();
            if (!seen.add(b)) {
                continue;
            }
            Path p = sources.sysfsRoot().resolve("sys/class/block").resolve(b);
            pciAncestors(p, reason, out);
            // device-mapper and md devices sit on "slaves"; a partition's are its disk's
            listNames(p.resolve("slaves"), todo);
            Path real = realPath(p);
            if (real != null) {
                listNames(real.getParent().resolve("slaves"), todo);
            }
        }
    }

    /** {@code /dev/sda2} → {@code sda2}; {@code /dev/mapper/NAME} → the {@code dm-N} whose dm/name is NAME. */
    private String blockName(String device) {
        if (device.startsWith("/dev/mapper/")) {
            String want = device.substring("/dev/mapper/".length());
            Path blocks = sources.sysfsRoot().resolve("sys/class/block");
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(blocks, "dm-*")) {
                for (Path dm : ds) {
                    List<String> name = readLines(dm.resolve("dm/name"));
                    if (!name.isEmpty() && name.get(0).trim().equals(want)) {
                        return dm.getFileName().toString();
                    }
                }
            } catch (IOException e) {
                return null;
            }
            return null;
        }
        String name = device.substring(device.lastIndexOf('/') + 1);
        return name.isEmpty() || name.equals("root") ? null : name;
    }

    private void defaultRoute(Map<PciAddress, String> out) {
        Set<String> ifaces = new java.util.TreeSet<>();
        if (sources.ipv4Routes() != null) {
            for (String line : readLines(sources.ipv4Routes())) {
                String[] f = line.trim().split("\\s+");
                // Iface Destination Gateway Flags RefCnt Use Metric Mask ...; RTF_UP = 1
                if (f.length >= 8 && f[1].equals("00000000") && f[7].equals("00000000") && isHex(f[3])
                        && (Integer.parseInt(f[3], 16) & 1) != 0) {
                    ifaces.add(f[0]);
                }
            }
        }
        if (sources.ipv6Routes() != null) {
            for (String line : readLines(sources.ipv6Routes())) {
                String[] f = line.trim().split("\\s+");
                // dest prefixlen src srcprefixlen nexthop metric refcnt use flags iface; RTF_UP = 1
                if (f.length >= 10 && f[0].matches("0{32}") && f[1].equals("00") && isHex(f[8])
                        && (Long.parseLong(f[8], 16) & 1) != 0 && !f[9].equals("lo")) {
                    ifaces.add(f[9]);
                }
            }
        }
        for (String iface : ifaces) {
            String reason = "carries the default-route network interface " + iface;
            Deque<String> todo = new ArrayDeque<>(List.of(iface));
            Set<String> seen = new HashSet<>();
            while (!todo.isEmpty() && seen.size() < 64) {
                String n = todo.pop();
                if (!seen.add(n)) {
                    continue;
                }
                Path net = sources.sysfsRoot().resolve("sys/class/net").resolve(n);
                Path dev = net.resolve("device");
                if (Files.exists(dev)) {
                    pciAncestors(dev, reason, out);
                }
                // bonds, VLANs and bridges: the physical ports are their lower devices
                try (DirectoryStream<Path> ds = Files.newDirectoryStream(net, "lower_*")) {
                    for (Path lower : ds) {
                        todo.push(lower.getFileName().toString().substring("lower_".length()));
                    }
                } catch (IOException e) {
                    // no lower devices
                }
                listNames(net.resolve("brif"), todo);
            }
        }
    }

    /** Every PCI address among the components of {@code p}'s real path (the device and the bridges above it). */
    private static void pciAncestors(Path p, String reason, Map<PciAddress, String> out) {
        Path real = realPath(p);
        if (real == null) {
            return;
        }
        for (Path part : real) {
            PciAddress a = PciAddress.parseOrNull(part.toString());
            if (a != null && a.toString().equals(part.toString())) {
                out.merge(a, reason, (x, y) -> x.equals(y) ? x : x + "; " + y);
            }
        }
    }

    private static Path realPath(Path p) {
        try {
            return p.toRealPath();
        } catch (IOException e) {
            return null;
        }
    }

    private static void listNames(Path dir, Deque<String> into) {
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path e : ds) {
                into.push(e.getFileName().toString());
            }
        } catch (IOException e) {
            // unreadable: nothing more to follow
        }
    }

    private static List<String> readLines(Path p) {
        try {
            return Files.readAllLines(p, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return List.of();
        }
    }

    private static boolean isHex(String s) {
        return s.matches("[0-9A-Fa-f]{1,16}");
    }

    /** /proc/mounts escapes space, tab, newline and backslash as octal. */
    private static String unescape(String s) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length() && s.substring(i + 1, i + 4).matches("[0-7]{3}")) {
                sb.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }
}
