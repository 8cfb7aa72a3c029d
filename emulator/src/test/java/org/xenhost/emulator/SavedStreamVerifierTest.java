package org.xenhost.emulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.xenhost.emulator.save.Saver;
import org.xenhost.libxl.DomainState;
import org.xenhost.libxl.ProgressListener;
import org.xenhost.libxl.stream.XlSaveHeader;

/**
 * Streams written by the emulated host pass Xen's own verifier, {@code verify-stream-v2} from xen-utils-4.17:
 * raw libxl streams ({@code -f libxl}) and xl save files ({@code -f xl}), across guest size (1, 64, 1024 MiB),
 * live/non-live, idle/dirtying, debug or not, guest type. The 1024 MiB cases are sparse (the verifier is Python
 * and reads every page).
 */
class SavedStreamVerifierTest {
    @TempDir
    static Path tmp;
    static EmulatedLibxl host;
    static int counter;

    @BeforeAll
    static void open() throws IOException {
        StreamVerifier.script();
        host = TestHosts.open(tmp.resolve("host"));
    }

    @AfterAll
    static void close() {
        host.close();
    }

    @ParameterizedTest(name = "{0} MiB {1} live={2} dirty={3}B/s ws={4} debug={5} as -f {6}")
    @CsvSource({
            // MiB, type, live, rate, working set, debug, verifier format
            "1,    pvh, false, 0,         0,        false, libxl",
            "1,    pvh, true,  4000000,   0,        true,  xl",
            "64,   hvm, true,  40000000,  8388608,  false, libxl",
            "64,   pvh, false, 40000000,  8388608,  true,  xl",
            "64,   pv,  true,  0,         0,        true,  libxl",
            "1024, pvh, true,  0,         0,        false, xl",
            "1024, hvm, false, 20000000,  4194304,  false, libxl",
            "1024, pvh, true,  20000000,  4194304,  true,  libxl",
    })
    void emulatorStreamsPassXensVerifier(int mib, String type, boolean live, long rate, long workingSet,
                                         boolean debug, String format) throws Exception {
        String name = "verify-" + (++counter);
        String config = TestHosts.config(name, type, mib, rate, workingSet);
        int domid = host.createDomain(config, false);
        if (rate > 0) {
            TestHosts.sleep(Duration.ofMillis(300));
        }
        Path file = tmp.resolve(name + (format.equals("xl") ? ".save" : ".libxl"));
        Saver.SaveReport report;
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            if (format.equals("xl")) {
                OutputStream os = Channels.newOutputStream(out);
                XlSaveHeader.forConfig(host.domainConfigJson(domid)).write(os);
            }
            report = host.suspendReporting(domid, out, live, debug, ProgressListener.NONE);
        }
        assertEquals(DomainState.SUSPENDED, host.domainInfo(domid).state(), "a saved domain is left suspended");
        assertEquals(live && debug, report.verify(), "libxenguest adds VERIFY to live debug saves only");
        if (live) {
            assertTrue(report.liveRounds().size() <= 1 + 5, "at most 5 iterations after the first pass: " + report);
        }
        long start = System.nanoTime();
        StreamVerifier.assertValid(file, format);
        System.out.printf("verify-stream-v2 -f %s: %d MiB %s live=%s debug=%s: %d bytes, %d pages, %d ms%n", format,
                mib, type, live, debug, Files.size(file), report.pagesSent(), (System.nanoTime() - start) / 1_000_000);
        host.destroy(domid);
        Files.delete(file);
    }
}
