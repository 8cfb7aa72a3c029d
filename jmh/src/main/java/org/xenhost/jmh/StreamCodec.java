package org.xenhost.jmh;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.xenhost.libxl.stream.DomainHeader;
import org.xenhost.libxl.stream.ImageHeader;
import org.xenhost.libxl.stream.LibxcRecord;
import org.xenhost.libxl.stream.LibxlHeader;
import org.xenhost.libxl.stream.LibxlRecord;
import org.xenhost.libxl.stream.PageBatch;
import org.xenhost.libxl.stream.ReaderLimits;
import org.xenhost.libxl.stream.StreamReader;
import org.xenhost.libxl.stream.StreamRecord;
import org.xenhost.libxl.stream.StreamTap;
import org.xenhost.libxl.stream.StreamWriter;

/**
 * The migration stream codec moving a whole guest's memory as PAGE_DATA, one thread:
 * <ul>
 * <li>{@code write}: guest memory (off-heap, as the emulator keeps it) → PageBatch → StreamWriter → a discarding
 * OutputStream; baseline {@code writeBaseline}: the same pages copied into a 4 MiB buffer and handed to the same
 * sink, i.e. the one copy any encoder must make.</li>
 * <li>{@code read}: the encoded stream in memory → StreamReader (all checks on) → pages copied into guest memory;
 * baseline {@code readBaseline}: the same bytes read from the same kind of InputStream into a 4 MiB buffer and
 * copied page by page into guest memory, without parsing.</li>
 * </ul>
 * {@code tap}: the encoded stream shown to a {@link StreamTap} in 64 KiB chunks (it parses headers and pfn lists
 * and skips page contents, so it should run far above the 0.7 GB/s of the TLS link it watches).
 * The score is whole-guest passes per second (× 256 MiB = bytes per second of wall time); the {@code bytes} and
 * {@code cpuNanos} counters give bytes per CPU-second of the benchmark thread. Compare each benchmark with its
 * baseline from the same run: {@code python3 jmh/stream-codec-report.py RESULT.json}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms2g", "-Xmx2g", "-XX:+AlwaysPreTouch", "-XX:MaxDirectMemorySize=2g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class StreamCodec {
    private static final int PAGE = 4096;

    /** Guest size. */
    @Param({"256"})
    public int guestMiB;

    /** IDLE: every page zero (a freshly booted guest); RANDOM: every page random bytes. */
    @Param({"IDLE", "RANDOM"})
    public String content;

    private ByteBuffer guest;
    private ByteBuffer restored;
    private byte[] encoded;
    private int pages;
    private final PageBatch batch = new PageBatch();
    private final byte[] baselineBuffer = new byte[1024 * PAGE];
    private final OutputStream sink = OutputStream.nullOutputStream();

    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    /**
     * Guest bytes moved and this thread's CPU time spent moving them, summed per iteration. On a shared machine
     * wall-clock rates swing with the load; bytes per CPU-second is what one core can do (stream-codec-report.py).
     */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Moved {
        public long bytes;
        public long cpuNanos;
        private long started;

        @Setup(Level.Iteration)
        public void reset() {
            bytes = 0;
            cpuNanos = 0;
        }

        void start() {
            started = THREADS.getCurrentThreadCpuTime();
        }

        void stop(long moved) {
            cpuNanos += THREADS.getCurrentThreadCpuTime() - started;
            bytes += moved;
        }
    }

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        pages = guestMiB * 256;
        guest = ByteBuffer.allocateDirect(pages * PAGE);
        restored = ByteBuffer.allocateDirect(pages * PAGE);
        if (content.equals("RANDOM")) {
            SplittableRandom random = new SplittableRandom(1);
            byte[] page = new byte[PAGE];
            for (int pfn = 0; pfn < pages; pfn++) {
                random.nextBytes(page);
                guest.put(pfn * PAGE, page);
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(pages * PAGE + (1 << 20));
        writeGuest(out);
        encoded = out.toByteArray();
    }

    private void writeGuest(OutputStream out) throws IOException {
        StreamWriter w = StreamWriter.libxl(out);
        w.write(LibxlHeader.CURRENT);
        w.write(new LibxlRecord.LibxcContext());
        w.write(ImageHeader.V3);
        w.write(DomainHeader.hvm417());
        w.write(new LibxcRecord.StaticDataEnd());
        batch.clear();
        for (int pfn = 0; pfn < pages; pfn++) {
            batch.add(pfn, guest, pfn * PAGE);
            if (batch.isFull()) {
                w.write(batch);
                batch.clear();
            }
        }
        if (!batch.isEmpty()) {
            w.write(batch);
        }
        w.write(new LibxcRecord.HvmParams(List.of(new LibxcRecord.HvmParam(1, pages - 1))));
        w.write(new LibxcRecord.End());
        w.write(new LibxlRecord.End());
    }

    @Benchmark
    public void write(Moved moved) throws IOException {
        moved.start();
        writeGuest(sink);
        moved.stop((long) pages * PAGE);
    }

    @Benchmark
    public void writeBaseline(Moved moved) throws IOException {
        moved.start();
        for (int pfn = 0; pfn < pages; pfn += 1024) {
            int n = Math.min(1024, pages - pfn);
            for (int i = 0; i < n; i++) {
                guest.get((pfn + i) * PAGE, baselineBuffer, i * PAGE, PAGE);
            }
            sink.write(baselineBuffer, 0, n * PAGE);
        }
        moved.stop((long) pages * PAGE);
    }

    @Benchmark
    public long read(Moved moved) throws IOException {
        moved.start();
        StreamReader reader = StreamReader.libxl(new ByteArrayInputStream(encoded),
                ReaderLimits.forGuestMemory((long) pages * PAGE));
        long copied = 0;
        for (StreamRecord r; (r = reader.next()) != null; ) {
            if (r instanceof PageBatch b) {
                for (int i = 0; i < b.count(); i++) {
                    if (b.hasData(i)) {
                        b.copyPage(i, restored, (int) (b.pfn(i) * PAGE));
                        copied++;
                    }
                }
            }
        }
        moved.stop(copied * PAGE);
        return copied;
    }

    /** The progress tap on the data path: the encoded stream shown to it in 64 KiB chunks, as a pump moves it. */
    @Benchmark
    public long tap(Moved moved) {
        moved.start();
        StreamTap tap = new StreamTap(StreamTap.Format.LIBXL);
        for (int off = 0; off < encoded.length; off += 65536) {
            tap.accept(encoded, off, Math.min(65536, encoded.length - off));
        }
        moved.stop(encoded.length);
        return tap.snapshot().pagesWithData();
    }

    @Benchmark
    public void readBaseline(Moved moved) throws IOException {
        moved.start();
        InputStream in = new ByteArrayInputStream(encoded);
        int pfn = 0;
        while (pfn < pages) {
            int n = Math.min(1024, pages - pfn);
            in.readNBytes(baselineBuffer, 0, n * PAGE);
            for (int i = 0; i < n; i++) {
                restored.put((pfn + i) * PAGE, baselineBuffer, i * PAGE, PAGE);
            }
            pfn += n;
        }
        moved.stop((long) pages * PAGE);
    }
}
