package org.xenhost.emulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenhost.libxl.LibxlException;
import org.xenhost.libxl.ProgressListener;
import org.xenhost.libxl.stream.LibxlRecord;
import org.xenhost.libxl.stream.ReaderLimits;
import org.xenhost.libxl.stream.StreamReader;
import org.xenhost.libxl.stream.StreamRecord;

/**
 * createRestore on hostile input: truncated at every record boundary, random bytes, absurd lengths, wrong magic or
 * version, pfns beyond the guest, bad padding. Each is a clean LibxlException, and no domain, file or memory
 * reservation is left behind.
 */
class HostileStreamTest {
    @TempDir
    static Path tmp;
    static EmulatedLibxl host;
    static byte[] valid;
    static String config;
    static List<Long> boundaries = new ArrayList<>();
    static long emulatorContextEnd;
    static long freeKb;

    @BeforeAll
    static void saveOne() throws Exception {
        host = TestHosts.open(tmp.resolve("host"));
        config = TestHosts.config("victim", "hvm", 4, 0, 0);
        int domid = host.createDomain(config, false);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        host.suspend(domid, Channels.newChannel(out), true, true, ProgressListener.NONE);
        host.destroy(domid);
        valid = out.toByteArray();
        StreamReader r = StreamReader.libxl(Channels.newChannel(new java.io.ByteArrayInputStream(valid)),
                ReaderLimits.forGuestMemory(4 << 20));
        for (StreamRecord rec; (rec = r.next()) != null; ) {
            boundaries.add(r.offset());
            if (rec instanceof LibxlRecord.EmulatorContext) {
                emulatorContextEnd = r.offset();
            }
        }
        freeKb = host.hostInfo().freeMemoryKb();
        // the unmodified stream restores: the failures below are due to the damage alone
        int ok = host.createRestore(config, Channels.newChannel(new java.io.ByteArrayInputStream(valid)), true);
        host.destroy(ok);
    }

    @AfterAll
    static void close() {
        host.close();
    }

    @AfterEach
    void nothingLeftBehind() throws IOException {
        assertEquals(1, host.listDomains().size(), "only dom0 remains");
        assertTrue(host.hypervisor().domains().isEmpty(), "no provisional domain remains");
        try (var s = Files.list(tmp.resolve("host/domains"))) {
            assertEquals(0, s.count(), "no domain directory (memory file) remains");
        }
        assertEquals(freeKb, host.hostInfo().freeMemoryKb(), "the memory reservation was returned");
    }

    private static LibxlException rejects(byte[] stream, String cfg) {
        return assertThrows(LibxlException.class, () -> host.createRestore(cfg,
                Channels.newChannel(new java.io.ByteArrayInputStream(stream)), true));
    }

    @Test
    void truncatedAtEveryRecordBoundaryAndInsideRecords() {
        List<Long> cuts = new ArrayList<>(boundaries.subList(0, boundaries.size() - 1));
        cuts.addAll(List.of(0L, 1L, 15L, 17L, 100L, (long) valid.length - 1));
        for (long cut : cuts) {
            LibxlException e = rejects(Arrays.copyOf(valid, (int) cut), config);
            assertTrue(e.getMessage().contains("restoring domain"), cut + ": " + e.getMessage());
            assertTrue(host.hypervisor().domains().isEmpty(), "after a cut at " + cut);
        }
    }

    @Test
    void randomBytes() {
        Random rnd = new Random(7);
        for (int i = 0; i < 20; i++) {
            byte[] junk = new byte[1 + rnd.nextInt(1 << 16)];
            rnd.nextBytes(junk);
            rejects(junk, config);
        }
        // a valid libxl header followed by junk
        byte[] headed = Arrays.copyOf(valid, 4096);
        new Random(8).nextBytes(ByteBuffer.wrap(headed, 24, 4096 - 24).array());
        System.arraycopy(valid, 0, headed, 0, 16);
        rejects(headed, config);
    }

    @Test
    void lengthFieldOfTwoToThe32MinusOne() {
        // first libxc record after the headers (libxl header 16 + LIBXC_CONTEXT 8 + image 24 + domain 16)
        byte[] s = valid.clone();
        ByteBuffer.wrap(s).order(ByteOrder.LITTLE_ENDIAN).putInt(64 + 4, 0xffffffff);
        LibxlException e = rejects(s, config);
        assertTrue(e.getMessage().contains("64"), "names the offset: " + e.getMessage());
    }

    @Test
    void wrongMagicAndVersions() {
        byte[] magic = valid.clone();
        magic[0] ^= 0x20;
        rejects(magic, config);
        byte[] libxlVersion = valid.clone();
        libxlVersion[11] = 3;
        rejects(libxlVersion, config);
        byte[] imageVersion = valid.clone();
        imageVersion[24 + 15] = 4;
        rejects(imageVersion, config);
    }

    @Test
    void pfnBeyondTheGuest() {
        // the same stream into a 1 MiB guest: pfns 0x100.. do not exist there
        LibxlException e = rejects(valid, TestHosts.config("small", "hvm", 1, 0, 0));
        assertTrue(e.getMessage().toLowerCase().contains("pfn"), e.getMessage());
    }

    @Test
    void wrongGuestType() {
        LibxlException e = rejects(valid, TestHosts.config("pv", "pv", 4, 0, 0));
        assertTrue(e.getMessage().contains("X86_HVM"), e.getMessage());
    }

    @Test
    void nonZeroPadding() {
        // EMULATOR_CONTEXT's body (8 + 33 bytes) is followed by 7 bytes of zero padding
        byte[] s = valid.clone();
        s[(int) emulatorContextEnd - 1] = 1;
        rejects(s, config);
    }
}
