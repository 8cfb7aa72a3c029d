package org.xenhost.jmh.pci;

import org.xenhost.pci.SysfsPciReader;

import java.nio.file.Path;

/**
 * {@code ScanRepeat TREE N [THREADS]}: scans a sysfs tree N times and prints the function count. Run under
 * {@code strace -f -c} with two values of N, the difference in system calls divided by the extra scans and the
 * function count is the reader's system calls per function, free of JVM start-up ({@code jmh/pci-vs-lspci.sh}).
 */
public final class ScanRepeat {
    private ScanRepeat() {
    }

    public static void main(String[] args) {
        if (args.length < 2 || args.length > 3) {
            System.err.println("usage: ScanRepeat SYSFS_ROOT SCANS [THREADS (0 = automatic)]");
            System.exit(2);
        }
        int scans;
        int threads;
        try {
            scans = Integer.parseInt(args[1]);
            threads = args.length > 2 ? Integer.parseInt(args[2]) : 0;
        } catch (NumberFormatException e) {
            System.err.println("ScanRepeat: SCANS and THREADS must be numbers, not '" + args[1] + "'"
                    + (args.length > 2 ? " / '" + args[2] + "'" : ""));
            System.exit(2);
            return;
        }
        SysfsPciReader reader = new SysfsPciReader(Path.of(args[0]), threads);
        int n = 0;
        for (int i = 0; i < scans; i++) {
            n = reader.scan().devices().size();
        }
        System.out.println(n);
    }
}
