package org.xenhost.emulator.memory;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One guest's physical memory: a sparse file of the guest's size mapped in 1 GiB segments, plus a persistent
 * "populated" bitmap of the pages ever written (the emulated p2m: an unpopulated pfn reads as zeros and is
 * saved as XTAB, like a pfn without a backing frame in Xen). A 16 GiB guest that touched 1 GiB costs about
 * 1 GiB of disk/page cache and 512 KiB of bitmap.
 *
 * <p>Files: {@code memory} (sparse, guest size) and {@code populated} (1 bit per page). Both are MAP_SHARED, so
 * writes survive the death of the JVM (the kernel's page cache owns them).
 *
 * <p>Threading: reads are lock-free (a saver reading a page while the guest writes it is what Xen does; the
 * dirty log makes it re-send). Guest writes, log-dirty swaps and restores take {@link #lock()}. Whoever touches
 * the mapping holds a {@link #pin()}; the order is always pin, then lock.
 */
public final class GuestMemory implements AutoCloseable {
    public static final int PAGE_SIZE = 4096;
    public static final int PAGE_SHIFT = 12;
    private static final long SEGMENT = 1L << 30;
    private static final VarHandle LONGS =
            MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private final Path dir;
    private final long pages;
    private final FileChannel memoryFile;
    private final FileChannel populatedFile;
    private final MappedByteBuffer[] segments;
    private final MappedByteBuffer populated;
    private final ReentrantLock lock = new ReentrantLock();
    private final LogDirty logDirty;
    private final java.util.concurrent.locks.ReentrantReadWriteLock mapping =
            new java.util.concurrent.locks.ReentrantReadWriteLock();
    private volatile long populatedCount;
    private volatile boolean closing;
    private boolean closed;

    private GuestMemory(Path dir, long bytes) throws IOException {
        this.dir = dir;
        this.pages = bytes >>> PAGE_SHIFT;
        this.memoryFile = FileChannel.open(dir.resolve("memory"), StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        try {
            if (memoryFile.size() != bytes) {
                // Extending by writing the last byte's position keeps the file sparse.
                memoryFile.truncate(bytes);
                if (memoryFile.size() < bytes) {
                    memoryFile.write(ByteBuffer.wrap(new byte[1]), bytes - 1);
                }
            }
            int n = (int) ((bytes + SEGMENT - 1) / SEGMENT);
            segments = new MappedByteBuffer[n];
            for (int i = 0; i < n; i++) {
                long off = i * SEGMENT;
                segments[i] = memoryFile.map(FileChannel.MapMode.READ_WRITE, off, Math.min(SEGMENT, bytes - off));
            }
            long bitmapBytes = ((pages + 63) >>> 6) * 8;
            this.populatedFile = FileChannel.open(dir.resolve("populated"), StandardOpenOption.CREATE,
                    StandardOpenOption.READ, StandardOpenOption.WRITE);
            if (populatedFile.size() != bitmapBytes) {
                populatedFile.truncate(bitmapBytes);
                if (populatedFile.size() < bitmapBytes) {
                    populatedFile.write(ByteBuffer.wrap(new byte[1]), bitmapBytes - 1);
                }
            }
            this.populated = populatedFile.map(FileChannel.MapMode.READ_WRITE, 0, bitmapBytes);
            long count = 0;
            for (long i = 0; i < bitmapBytes; i += 8) {
                count += Long.bitCount((long) LONGS.get(populated, (int) i));
            }
            this.populatedCount = count;
            this.logDirty = new LogDirty(pages);
        } catch (IOException | RuntimeException e) {
            memoryFile.close();
            throw e;
        }
    }

    /**
     * Creates or reopens the memory of a guest of {@code bytes} (a multiple of 4 KiB) in {@code dir}.
     */
    public static GuestMemory open(Path dir, long bytes) throws IOException {
        if (bytes <= 0 || (bytes & (PAGE_SIZE - 1)) != 0) {
            throw new IllegalArgumentException("guest memory must be a positive multiple of 4096 bytes, got " + bytes);
        }
        Files.createDirectories(dir);
        return new GuestMemory(dir, bytes);
    }

    public long pages() {
        return pages;
    }

    public long bytes() {
        return pages << PAGE_SHIFT;
    }

    /** Pages that hold data (written at least once by the guest or by a restore). */
    public long populatedPages() {
        return populatedCount;
    }

    public ReentrantLock lock() {
        return lock;
    }

    public boolean isPopulated(long pfn) {
        checkPfn(pfn);
        long word = (long) LONGS.getVolatile(populated, (int) ((pfn >>> 6) << 3));
        return (word & (1L << (pfn & 63))) != 0;
    }

    /** Copies page {@code pfn} into {@code dst} at {@code off} (zeros when unpopulated). */
    public void readPage(long pfn, byte[] dst, int off) {
        checkPfn(pfn);
        long addr = pfn << PAGE_SHIFT;
        segments[(int) (addr / SEGMENT)].get((int) (addr % SEGMENT), dst, off, PAGE_SIZE);
    }

    /** The mapped buffer holding page {@code pfn} (for zero-copy reads; see {@link #indexInSegment}). */
    public ByteBuffer segmentOf(long pfn) {
        checkPfn(pfn);
        return segments[(int) ((pfn << PAGE_SHIFT) / SEGMENT)];
    }

    /** Byte index of page {@code pfn} within {@link #segmentOf}. */
    public int indexInSegment(long pfn) {
        return (int) ((pfn << PAGE_SHIFT) % SEGMENT);
    }

    /** Fills page {@code pfn} in place: {@code filler} gets the mapped segment and the page's index in it. */
    @FunctionalInterface
    public interface PageFiller {
        void fill(ByteBuffer segment, int index);
    }

    /** Writes a whole page in place (zero-copy) and marks it populated and dirty. Caller holds {@link #lock()}. */
    public void writePage(long pfn, PageFiller filler) {
        checkPfn(pfn);
        if (!lock.isHeldByCurrentThread()) {
            throw new IllegalStateException("guest memory written without its lock");
        }
        filler.fill(segmentOf(pfn), indexInSegment(pfn));
        markPopulated(pfn);
        logDirty.mark(pfn);
    }

    /**
     * Writes {@code src.remaining() / 4096} whole pages starting at {@code firstPfn} with one positional file
     * write (much cheaper than first-touch faults on the mapping when filling a fresh guest; the page cache is
     * shared, so the mapping sees the data). Marks them populated and dirty. Caller holds {@link #lock()}.
     */
    public void writePages(long firstPfn, ByteBuffer src) throws IOException {
        int n = src.remaining() / PAGE_SIZE;
        if (n * PAGE_SIZE != src.remaining()) {
            throw new IllegalArgumentException("writePages takes whole pages, got " + src.remaining() + " bytes");
        }
        checkPfn(firstPfn);
        checkPfn(firstPfn + n - 1);
        if (!lock.isHeldByCurrentThread()) {
            throw new IllegalStateException("guest memory written without its lock");
        }
        long pos = firstPfn << PAGE_SHIFT;
        while (src.hasRemaining()) {
            pos += memoryFile.write(src, pos);
        }
        for (long pfn = firstPfn; pfn < firstPfn + n; pfn++) {
            markPopulated(pfn);
            logDirty.mark(pfn);
        }
    }

    /**
     * Writes {@code src}'s remaining bytes at guest physical address {@code address} with one positional file write
     * and returns how many it took (all but rarely); pieces need not be whole pages. It does <em>not</em> mark
     * anything: once the pages written this way are complete the caller calls {@link #markWritten}. For a restore
     * writing pages as they arrive from the stream. Caller holds {@link #pin()} and {@link #lock()}.
     */
    public int writeBytes(long address, ByteBuffer src) throws IOException {
        int len = src.remaining();
        if (address < 0 || len > bytes() - address) {
            throw new IndexOutOfBoundsException(len + " bytes at 0x" + Long.toHexString(address) + " outside guest of "
                    + pages + " pages");
        }
        if (!lock.isHeldByCurrentThread()) {
            throw new IllegalStateException("guest memory written without its lock");
        }
        return memoryFile.write(src, address);
    }

    /** Marks {@code n} pages from {@code firstPfn}, completely written by {@link #writeBytes}, populated and dirty. */
    public void markWritten(long firstPfn, int n) {
        checkPfn(firstPfn);
        checkPfn(firstPfn + n - 1);
        if (!lock.isHeldByCurrentThread()) {
            throw new IllegalStateException("guest memory written without its lock");
        }
        for (long pfn = firstPfn; pfn < firstPfn + n; pfn++) {
            markPopulated(pfn);
            logDirty.mark(pfn);
        }
    }

    /** Writes a whole page and marks it populated and dirty. Caller holds {@link #lock()}. */
    public void writePage(long pfn, byte[] src, int off) {
        write(pfn, 0, src, off, PAGE_SIZE);
    }

    /**
     * Writes {@code len} bytes at {@code offsetInPage} of page {@code pfn}; marks the page populated and, when
     * log-dirty is on, dirty. Caller holds {@link #lock()}.
     */
    public void write(long pfn, int offsetInPage, byte[] src, int off, int len) {
        checkPfn(pfn);
        if (offsetInPage < 0 || len < 0 || offsetInPage + len > PAGE_SIZE) {
            throw new IllegalArgumentException("write crosses the page: offset " + offsetInPage + " length " + len);
        }
        if (!lock.isHeldByCurrentThread()) {
            throw new IllegalStateException("guest memory written without its lock");
        }
        long addr = (pfn << PAGE_SHIFT) + offsetInPage;
        segments[(int) (addr / SEGMENT)].put((int) (addr % SEGMENT), src, off, len);
        markPopulated(pfn);
        logDirty.mark(pfn);
    }

    private void markPopulated(long pfn) {
        int index = (int) ((pfn >>> 6) << 3);
        long bit = 1L << (pfn & 63);
        long old = (long) LONGS.getAndBitwiseOr(populated, index, bit);
        if ((old & bit) == 0) {
            populatedCount++;
        }
    }

    /** Enables log-dirty (XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY). */
    public void enableLogDirty() {
        lock.lock();
        try {
            logDirty.enable();
        } finally {
            lock.unlock();
        }
    }

    public void disableLogDirty() {
        lock.lock();
        try {
            logDirty.disable();
        } finally {
            lock.unlock();
        }
    }

    public boolean logDirtyEnabled() {
        lock.lock();
        try {
            return logDirty.enabled();
        } finally {
            lock.unlock();
        }
    }

    /** SHADOW_OP_CLEAN: the dirty set of the round just ended; valid until the next call. */
    public PageBitmap peekAndCleanDirty() {
        lock.lock();
        try {
            return logDirty.peekAndClean();
        } finally {
            lock.unlock();
        }
    }

    /** Calls {@code each} for every populated pfn in ascending order. */
    public void forEachPopulated(java.util.function.LongConsumer each) {
        int words = (int) ((pages + 63) >>> 6);
        for (int i = 0; i < words; i++) {
            long w = (long) LONGS.getVolatile(populated, i << 3);
            while (w != 0) {
                int bit = Long.numberOfTrailingZeros(w);
                each.accept(((long) i << 6) + bit);
                w &= w - 1;
            }
        }
    }

    /**
     * SHA-256 over (pfn, content) of every page whose content is not all zeros: equal for two memories iff every
     * page reads the same (an unpopulated page reads as zeros).
     */
    public String digest() {
        try (Pin pin = pin()) {
            return digestPinned();
        }
    }

    private String digestPinned() {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        byte[] page = new byte[PAGE_SIZE];
        ByteBuffer pfnBytes = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        forEachPopulated(pfn -> {
            readPage(pfn, page, 0);
            if (!isZero(page)) {
                pfnBytes.clear();
                pfnBytes.putLong(pfn);
                sha.update(pfnBytes.array());
                sha.update(page);
            }
        });
        return HexFormat.of().formatHex(sha.digest());
    }

    static boolean isZero(byte[] page) {
        ByteBuffer b = ByteBuffer.wrap(page);
        for (int i = 0; i < page.length; i += 8) {
            if (b.getLong(i) != 0) {
                return false;
            }
        }
        return true;
    }

    /** Flushes dirty mapped pages to the files (msync); not needed for crash safety of the JVM, only of the OS. */
    public void force() {
        for (MappedByteBuffer s : segments) {
            s.force();
        }
        populated.force();
    }

    private void checkPfn(long pfn) {
        if (pfn < 0 || pfn >= pages) {
            throw new IndexOutOfBoundsException("pfn " + Long.toHexString(pfn) + " outside guest of " + pages + " pages");
        }
    }

    /**
     * Keeps the mapping alive while a saver, restorer or workload reads or writes it: {@link #close()} waits for
     * every pin to be released (unmapping under a reader would crash the JVM). Throws when closing has begun.
     */
    public Pin pin() {
        mapping.readLock().lock();
        if (closing) {
            mapping.readLock().unlock();
            throw new IllegalStateException("guest memory in " + dir + " is being released");
        }
        return mapping.readLock()::unlock;
    }

    /** True once {@link #close()} started: long operations holding a pin should stop. */
    public boolean closing() {
        return closing;
    }

    /** A held reference to the mapping. */
    public interface Pin extends AutoCloseable {
        @Override
        void close();
    }

    @Override
    public void close() throws IOException {
        closing = true;
        mapping.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            unmapAll();
        } finally {
            mapping.writeLock().unlock();
        }
    }

    private void unmapAll() throws IOException {
        for (MappedByteBuffer s : segments) {
            unmap(s);
        }
        unmap(populated);
        memoryFile.close();
        populatedFile.close();
    }

    /** Closes and deletes the memory files (domain destroy). */
    public void closeAndDelete() throws IOException {
        close();
        Files.deleteIfExists(dir.resolve("memory"));
        Files.deleteIfExists(dir.resolve("populated"));
    }

    // Java 17 has no public unmap; without it a destroyed 16 GiB guest would keep its mapping until GC.
    private static final Object UNSAFE;
    private static final Method INVOKE_CLEANER;

    static {
        Object unsafe = null;
        Method cleaner = null;
        try {
            Class<?> c = Class.forName("sun.misc.Unsafe");
            Field f = c.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            unsafe = f.get(null);
            cleaner = c.getMethod("invokeCleaner", ByteBuffer.class);
        } catch (ReflectiveOperationException | RuntimeException e) {
            unsafe = null;
            cleaner = null;
        }
        UNSAFE = unsafe;
        INVOKE_CLEANER = cleaner;
    }

    private static void unmap(MappedByteBuffer b) {
        if (INVOKE_CLEANER == null) {
            return;
        }
        try {
            INVOKE_CLEANER.invoke(UNSAFE, b);
        } catch (ReflectiveOperationException e) {
            // Left to the GC: the mapping is released when the buffer becomes unreachable.
        }
    }
}
