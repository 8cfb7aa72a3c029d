package org.xenhost.emulator;

import java.time.Duration;

/**
 * The emulated machine: memory, CPUs and the time a device function reset takes. Fixed when the emulated host
 * is first created in a directory (kept in {@code host.json}); later opens use the stored values for memory and
 * CPUs.
 *
 * @param totalMemoryBytes host memory (Xen's {@code total_pages}); guests' memory is taken from it
 * @param dom0MemoryBytes  memory held by dom0 (never free for guests)
 * @param nrCpus           physical CPUs reported
 * @param resetLatency     time a PCI function reset takes (0 by default; 100 ms is a real FLR)
 */
public record HostSettings(long totalMemoryBytes, long dom0MemoryBytes, int nrCpus, Duration resetLatency) {
    /** 64 GiB host, 2 GiB dom0, 8 CPUs, instant resets. */
    public static final HostSettings DEFAULT = new HostSettings(64L << 30, 2L << 30, 8, Duration.ZERO);

    public HostSettings {
        if (totalMemoryBytes <= 0 || dom0MemoryBytes < 0 || dom0MemoryBytes >= totalMemoryBytes) {
            throw new IllegalArgumentException("host memory must be positive and larger than dom0's: total "
                    + totalMemoryBytes + ", dom0 " + dom0MemoryBytes);
        }
        if (nrCpus < 1) {
            throw new IllegalArgumentException("nrCpus must be at least 1, got " + nrCpus);
        }
        if (resetLatency == null || resetLatency.isNegative()) {
            throw new IllegalArgumentException("resetLatency must be zero or positive, got " + resetLatency);
        }
    }

    public HostSettings withTotalMemory(long bytes) {
        return new HostSettings(bytes, dom0MemoryBytes, nrCpus, resetLatency);
    }

    public HostSettings withResetLatency(Duration latency) {
        return new HostSettings(totalMemoryBytes, dom0MemoryBytes, nrCpus, latency);
    }
}
