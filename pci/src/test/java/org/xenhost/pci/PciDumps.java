package org.xenhost.pci;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Reads pciutils' {@code lspci -vvvxxxx}-style dump files (fixtures/pci-dumps): per device, the config bytes from
 * the hex lines and whatever decoded text lspci wrote above them.
 */
public final class PciDumps {
    private static final Pattern DEVICE = Pattern.compile("^((?:[0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]) .*");
    private static final Pattern HEX = Pattern.compile("^([0-9a-f]{2,3}): ((?:[0-9a-f]{2} ){15}[0-9a-f]{2})\\s*$");

    private PciDumps() {
    }

    /** One device of a dump. */
    public record Entry(PciAddress address, byte[] config, String text) {
    }

    /** Repository root (Surefire sets xenhost.root; fall back to walking up from the module). */
    public static Path repoRoot() {
        String r = System.getProperty("xenhost.root");
        Path p = r != null ? Path.of(r) : Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("fixtures/pci-dumps"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("cannot find fixtures/pci-dumps above " + r);
        }
        return p;
    }

    public static Path dumpDir() {
        return repoRoot().resolve("fixtures/pci-dumps");
    }

    /** Every dump file (everything except the notes). */
    public static List<Path> files() {
        try (Stream<Path> s = Files.list(dumpDir())) {
            return s.filter(p -> !p.getFileName().toString().endsWith(".md")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Devices of one file, in file order. */
    public static Map<PciAddress, Entry> read(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Map<PciAddress, Entry> out = new LinkedHashMap<>();
        PciAddress current = null;
        byte[] cfg = null;
        int max = 0;
        StringBuilder text = null;
        for (String line : lines) {
            Matcher d = DEVICE.matcher(line);
            Matcher h = HEX.matcher(line);
            if (h.matches() && current != null) {
                int off = Integer.parseInt(h.group(1), 16);
                String[] bytes = h.group(2).split(" ");
                for (int i = 0; i < 16; i++) {
                    cfg[off + i] = (byte) Integer.parseInt(bytes[i], 16);
                }
                max = Math.max(max, off + 16);
            } else if (d.matches()) {
                if (current != null) {
                    out.put(current, new Entry(current, Arrays.copyOf(cfg, max), text.toString()));
                }
                current = PciAddress.parse(d.group(1));
                cfg = new byte[4096];
                max = 0;
                text = new StringBuilder(line).append('\n');
            } else if (current != null) {
                text.append(line).append('\n');
            }
        }
        if (current != null) {
            out.put(current, new Entry(current, Arrays.copyOf(cfg, max), text.toString()));
        }
        return out;
    }

    /** All entries of all files. */
    public static List<Entry> all() {
        List<Entry> all = new ArrayList<>();
        for (Path f : files()) {
            all.addAll(read(f).values());
        }
        return all;
    }
}
