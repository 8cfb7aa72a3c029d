package org.xenhost.emulator.domain;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.xenhost.emulator.memory.GuestMemory;

/**
 * The emulated guest's vCPUs: a thread that dirties memory at a set rate with a deterministic pattern. Step
 * {@code n} writes one 64-byte line in page {@code pfn(seed, n)}; the step counter lives in a memory-mapped
 * {@code vcpu-context} file, so a restarted emulator continues the same sequence where the guest stopped.
 *
 * <p>It runs only while the domain is running: {@link #halt()} returns after the in-flight step finished, so
 * nothing is written after a pause (which the final pass of a save relies on).
 */
final class Workload implements AutoCloseable {
    private static final int LINE = 64;
    /** At most this many pages per lock hold, so savers and pauses are not held up by a fast guest. */
    private static final int CHUNK = 256;
    /** Boot image written at create: the first MiB of the guest (or all of a smaller one). */
    static final long BOOT_IMAGE_BYTES = 1 << 20;

    private final GuestMemory memory;
    private final long seed;
    private final long workingPages;
    private final double pagesPerSecond;
    private final FileChannel contextFile;
    private final MappedByteBuffer context;
    private final String name;
    private volatile boolean running;
    private volatile boolean closed;
    private Thread thread;

    Workload(String name, GuestMemory memory, Path contextPath, long seed, long workingSetBytes, long bytesPerSecond)
            throws IOException {
        this.name = name;
        this.memory = memory;
        this.seed = seed;
        this.workingPages = Math.max(1, Math.min(memory.pages(), workingSetBytes >>> GuestMemory.PAGE_SHIFT));
        this.pagesPerSecond = bytesPerSecond / (double) GuestMemory.PAGE_SIZE;
        this.contextFile = FileChannel.open(contextPath, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        if (contextFile.size() < 4096) {
            contextFile.write(ByteBuffer.wrap(new byte[1]), 4095);
        }
        this.context = contextFile.map(FileChannel.MapMode.READ_WRITE, 0, 4096);
        context.order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Steps done since the guest was created (persisted). */
    long steps() {
        return context.getLong(0);
    }

    void setSteps(long step) {
        context.putLong(0, step);
    }

    /** Writes the deterministic boot image (a fresh guest's kernel and initial data). */
    void writeBootImage() {
        long bytes = Math.min(BOOT_IMAGE_BYTES, memory.bytes());
        byte[] page = new byte[GuestMemory.PAGE_SIZE];
        ByteBuffer view = ByteBuffer.wrap(page).order(ByteOrder.LITTLE_ENDIAN);
        memory.lock().lock();
        try (GuestMemory.Pin pin = memory.pin()) {
            for (long pfn = 0; pfn < bytes >>> GuestMemory.PAGE_SHIFT; pfn++) {
                for (int i = 0; i < page.length; i += 8) {
                    view.putLong(i, mix(seed ^ (pfn << 12 | i) ^ 0x5eedL));
                }
                memory.writePage(pfn, page, 0);
            }
        } finally {
            memory.lock().unlock();
        }
    }

    /** Starts (or resumes) dirtying. */
    synchronized void start() {
        if (closed || running) {
            return;
        }
        running = true;
        if (pagesPerSecond <= 0) {
            return;
        }
        thread = new Thread(this::run, "guest-vcpu-" + name);
        thread.setDaemon(true);
        thread.start();
    }

    /** Stops dirtying; returns once no write is in flight. */
    synchronized void halt() {
        running = false;
        Thread t = thread;
        thread = null;
        if (t != null) {
            t.interrupt();
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    boolean running() {
        return running;
    }

    private void run() {
        byte[] line = new byte[LINE];
        ByteBuffer view = ByteBuffer.wrap(line).order(ByteOrder.LITTLE_ENDIAN);
        long last = System.nanoTime();
        double credit = 0;
        try (GuestMemory.Pin pin = memory.pin()) {
            while (running && !memory.closing()) {
                long now = System.nanoTime();
                credit += (now - last) / 1e9 * pagesPerSecond;
                last = now;
                // A guest stalled by the host (GC, slow disk) does not catch up in one burst.
                credit = Math.min(credit, Math.max(CHUNK, pagesPerSecond / 10));
                while (credit >= 1 && running) {
                    int n = (int) Math.min(CHUNK, credit);
                    memory.lock().lock();
                    try {
                        if (!running) {
                            break;
                        }
                        long step = context.getLong(0);
                        for (int i = 0; i < n; i++, step++) {
                            long h = mix(seed + step * 0x9E3779B97F4A7C15L);
                            long pfn = Long.remainderUnsigned(h, workingPages);
                            int offset = (int) ((h >>> 52) & 63) * LINE;
                            for (int j = 0; j < LINE; j += 8) {
                                view.putLong(j, mix(h + j));
                            }
                            memory.write(pfn, offset, line, 0, LINE);
                        }
                        context.putLong(0, step);
                    } finally {
                        memory.lock().unlock();
                    }
                    credit -= n;
                }
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    return;
                }
            }
        } catch (IllegalStateException e) {
            // memory released under us: the domain is being destroyed
        }
    }

    /** SplitMix64 finaliser: a cheap, well-mixed deterministic function of the step. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    @Override
    public void close() throws IOException {
        halt();
        closed = true;
        context.force();
        contextFile.close();
    }
}
