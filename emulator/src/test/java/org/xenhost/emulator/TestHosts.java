package org.xenhost.emulator;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

/** Emulated hosts for tests: each in its own directory. */
final class TestHosts {
    private TestHosts() {
    }

    static EmulatedLibxl open(Path dir) throws IOException {
        return EmulatedLibxl.open(dir, null, HostSettings.DEFAULT);
    }

    static EmulatedLibxl open(Path dir, Path sysfs) throws IOException {
        return EmulatedLibxl.open(dir, sysfs, HostSettings.DEFAULT);
    }

    /** A flat domain configuration: memory in MiB, dirty rate in bytes/s, working set in bytes (0 = all). */
    static String config(String name, String type, long memoryMiB, long dirtyRate, long workingSet) {
        return "{\"name\":\"" + name + "\",\"type\":\"" + type + "\",\"memory\":" + memoryMiB + ",\"vcpus\":2"
                + ",\"emulated_dirty_rate\":" + dirtyRate
                + (workingSet > 0 ? ",\"emulated_working_set\":" + workingSet : "")
                + ",\"emulated_seed\":42,\"passthrough\":\"enabled\"}";
    }

    static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
