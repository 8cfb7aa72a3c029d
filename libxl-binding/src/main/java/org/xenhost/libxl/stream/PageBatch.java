package org.xenhost.libxl.stream;

import java.nio.ByteBuffer;

/**
 * One PAGE_DATA record: up to {@link #capacity()} pfn entries (pfn + {@link PageType}) and the 4096-byte contents of
 * those whose type carries data. A batch is a reusable buffer, not a value: the writer side fills it with
 * {@link #add} and hands it to {@link StreamWriter#write(StreamRecord)}, then {@link #clear()}s it; the reader side
 * gets the same instance back from every {@link StreamReader#next()} that reads PAGE_DATA, valid until the next call.
 *
 * <p>Page contents are copied exactly once each way: from guest memory into this batch when writing, from this
 * batch into guest memory ({@link #copyPage}) when reading. Nothing is allocated per page. Not thread-safe.
 *
 * <p>A writer may instead add pages in place ({@link #addInPlace}), as libxenguest writes a batch straight from
 * its mapping of the guest's frames: the batch then keeps where each page is, and the {@link StreamWriter} reads
 * the contents from there while it writes the record (runs of adjacent pages in one write). The caller keeps
 * that memory mapped and unchanged in meaning until the record is written. One batch holds pages either copied
 * or in place, not both.
 */
public final class PageBatch implements LibxcRecord {
    private final int capacity;
    private final long[] entries;
    /** For entry i: index of its page among the data pages, or -1 if its type carries no data. */
    private final int[] dataSlot;
    private final boolean direct;
    private ByteBuffer data;
    private int count;
    private int dataPages;
    /** For data slot s of an in-place batch: the buffer holding the page and its index there; else unused. */
    private ByteBuffer[] placeBuffer;
    private int[] placeIndex;
    private boolean inPlace;
    /** Reader side: the contents went to a {@link PageSink} and are not in this batch. */
    private boolean delivered;

    /** A batch of libxenguest's size, 1024 pfns (4 MiB of page data). */
    public PageBatch() {
        this(Wire.MAX_BATCH_PFNS);
    }

    /** A batch of up to {@code capacity} pfns. */
    public PageBatch(int capacity) {
        this(capacity, false);
    }

    /**
     * A batch of up to {@code capacity} pfns whose copied page contents live in a direct buffer when {@code direct}:
     * a channel reader then fills it and a file channel writes it without the JDK's copy through a temporary
     * direct buffer.
     */
    public PageBatch(int capacity, boolean direct) {
        if (capacity < 1 || capacity > Wire.REC_LENGTH_MAX / (Wire.PAGE_SIZE + 8)) {
            throw new IllegalArgumentException("page batch capacity must be 1.." + Wire.REC_LENGTH_MAX
                    / (Wire.PAGE_SIZE + 8) + " pfns, not " + capacity);
        }
        this.capacity = capacity;
        this.entries = new long[capacity];
        this.dataSlot = new int[capacity];
        this.direct = direct;
        this.data = direct ? ByteBuffer.allocateDirect(0) : ByteBuffer.allocate(0);
    }

    @Override
    public LibxcRecordType type() {
        return LibxcRecordType.PAGE_DATA;
    }

    /** Empties the batch for reuse; the page buffer is kept. */
    public void clear() {
        if (inPlace) {
            java.util.Arrays.fill(placeBuffer, 0, dataPages, null);
            inPlace = false;
        }
        count = 0;
        dataPages = 0;
        delivered = false;
    }

    /**
     * Whether a reader delivered this record's page contents to a {@link PageSink}
     * ({@link StreamReader#next(PageSink)}): the batch then holds the pfn entries only.
     */
    public boolean pagesDelivered() {
        return delivered;
    }

    /** Whether the pages of this batch were added in place ({@link #addInPlace}) rather than copied. */
    public boolean isInPlace() {
        return inPlace;
    }

    public int capacity() {
        return capacity;
    }

    /** Number of pfn entries. */
    public int count() {
        return count;
    }

    public boolean isEmpty() {
        return count == 0;
    }

    public boolean isFull() {
        return count == capacity;
    }

    /** Number of entries that carry page contents (NOTAB and page tables). */
    public int pagesWithData() {
        return dataPages;
    }

    /** Guest pfn of entry {@code i}. */
    public long pfn(int i) {
        return entries[checkIndex(i)] & Wire.PFN_MASK;
    }

    /** Page type of entry {@code i}. */
    public PageType pageType(int i) {
        return PageType.ofNibble(typeNibble(i));
    }

    /** Raw type nibble of entry {@code i} (0..15). */
    public int typeNibble(int i) {
        return (int) (entries[checkIndex(i)] >>> Wire.TYPE_SHIFT);
    }

    /** Whether entry {@code i} has 4096 bytes of contents in this batch. */
    public boolean hasData(int i) {
        return dataSlot[checkIndex(i)] >= 0;
    }

    /** Byte size of the PAGE_DATA record body this batch encodes to. */
    public long bodyLength() {
        return 8L + 8L * count + (long) Wire.PAGE_SIZE * dataPages;
    }

    /** Adds an ordinary (NOTAB) page, copying 4096 bytes from {@code src} at absolute index {@code srcIndex}. */
    public void add(long pfn, ByteBuffer src, int srcIndex) {
        add(pfn, PageType.NOTAB, src, srcIndex);
    }

    /**
     * Adds a page of a type that carries data, copying 4096 bytes from {@code src} at absolute index
     * {@code srcIndex} (src's position and limit are not used or changed).
     */
    public void add(long pfn, PageType type, ByteBuffer src, int srcIndex) {
        int slot = appendWithData(pfn, type, false);
        data.put(slot * Wire.PAGE_SIZE, src, srcIndex, Wire.PAGE_SIZE);
    }

    /** Adds a page of a type that carries data, copying 4096 bytes from {@code src} at {@code offset}. */
    public void add(long pfn, PageType type, byte[] src, int offset) {
        int slot = appendWithData(pfn, type, false);
        data.put(slot * Wire.PAGE_SIZE, src, offset, Wire.PAGE_SIZE);
    }

    /**
     * Adds a page of a type that carries data without copying it: its 4096 bytes are read from {@code src} at
     * absolute index {@code srcIndex} when the batch is written, so they must stay readable there until then.
     */
    public void addInPlace(long pfn, PageType type, ByteBuffer src, int srcIndex) {
        if (srcIndex < 0 || srcIndex > src.capacity() - Wire.PAGE_SIZE) {
            throw new IndexOutOfBoundsException("page at index " + srcIndex + " does not fit a buffer of "
                    + src.capacity() + " bytes");
        }
        int slot = appendWithData(pfn, type, true);
        placeBuffer[slot] = src;
        placeIndex[slot] = srcIndex;
    }

    /** Adds a pfn whose type carries no contents (XTAB, XALLOC, BROKEN). */
    public void addWithoutData(long pfn, PageType type) {
        if (type.hasData()) {
            throw new IllegalArgumentException("page type " + type + " carries data; use add(...)");
        }
        checkRoom(pfn);
        dataSlot[count] = -1;
        entries[count++] = ((long) type.nibble() << Wire.TYPE_SHIFT) | pfn;
    }

    private int appendWithData(long pfn, PageType type, boolean place) {
        if (!type.hasData()) {
            throw new IllegalArgumentException("page type " + type + " carries no data; use addWithoutData");
        }
        checkRoom(pfn);
        if (dataPages > 0 && place != inPlace) {
            throw new IllegalStateException("a page batch holds pages either copied or in place, not both");
        }
        inPlace = place;
        if (place) {
            if (placeBuffer == null) {
                placeBuffer = new ByteBuffer[capacity];
                placeIndex = new int[capacity];
            }
        } else {
            ensureDataPages(dataPages + 1);
        }
        dataSlot[count] = dataPages;
        entries[count++] = ((long) type.nibble() << Wire.TYPE_SHIFT) | pfn;
        return dataPages++;
    }

    private void checkRoom(long pfn) {
        if (count == capacity) {
            throw new IllegalStateException("page batch is full (" + capacity + " pfns); write and clear it first");
        }
        if (pfn < 0 || pfn >= Wire.PFN_LIMIT) {
            throw new IllegalArgumentException("pfn 0x" + Long.toHexString(pfn) + " does not fit in 52 bits");
        }
    }

    /** Copies the contents of entry {@code i} into {@code dst} at absolute index {@code dstIndex}. */
    public void copyPage(int i, ByteBuffer dst, int dstIndex) {
        dst.put(dstIndex, holder(i), indexInHolder(i), Wire.PAGE_SIZE);
    }

    /** Copies the contents of entry {@code i} into {@code dst} at {@code offset}. */
    public void copyPage(int i, byte[] dst, int offset) {
        holder(i).get(indexInHolder(i), dst, offset, Wire.PAGE_SIZE);
    }

    /**
     * Whether entry {@code i}'s contents equal the 4096 bytes of {@code other} at absolute index {@code index}: what
     * a restorer checks for every page sent after VERIFY.
     */
    public boolean samePage(int i, ByteBuffer other, int index) {
        return holder(i).slice(indexInHolder(i), Wire.PAGE_SIZE).mismatch(other.slice(index, Wire.PAGE_SIZE)) < 0;
    }

    private ByteBuffer holder(int i) {
        requireContents();
        return inPlace ? placeBuffer[slotOf(i)] : data;
    }

    private int indexInHolder(int i) {
        return inPlace ? placeIndex[slotOf(i)] : dataOffset(i);
    }

    private int slotOf(int i) {
        int slot = dataSlot[checkIndex(i)];
        if (slot < 0) {
            throw new IllegalArgumentException("pfn entry " + i + " (type " + pageType(i) + ") has no page data");
        }
        return slot;
    }

    /** Offset of entry {@code i}'s contents within {@link #pageData()}. */
    public int dataOffset(int i) {
        requireCopied();
        int slot = dataSlot[checkIndex(i)];
        if (slot < 0) {
            throw new IllegalArgumentException("pfn entry " + i + " (type " + pageType(i) + ") has no page data");
        }
        return slot * Wire.PAGE_SIZE;
    }

    /** Read-only view of the page contents, data pages back to back in entry order. */
    public ByteBuffer pageData() {
        requireCopied();
        return data.asReadOnlyBuffer().position(0).limit(dataPages * Wire.PAGE_SIZE);
    }

    private void requireContents() {
        if (delivered) {
            throw new IllegalStateException("this batch's page contents went straight to a page sink");
        }
    }

    private void requireCopied() {
        requireContents();
        if (inPlace) {
            throw new IllegalStateException("this batch holds its pages in place, not in its own buffer");
        }
    }

    private int checkIndex(int i) {
        if (i < 0 || i >= count) {
            throw new IndexOutOfBoundsException("pfn entry " + i + " of a batch of " + count);
        }
        return i;
    }

    private void ensureDataPages(int pages) {
        int needed = pages * Wire.PAGE_SIZE;
        if (data.capacity() < needed) {
            int grown = Math.max(needed, Math.min(data.capacity() * 2, capacity * Wire.PAGE_SIZE));
            ByteBuffer bigger = direct ? ByteBuffer.allocateDirect(grown) : ByteBuffer.allocate(grown);
            bigger.put(0, data, 0, dataPages * Wire.PAGE_SIZE);
            data = bigger;
        }
    }

    // ---- for the codec: raw access without per-entry checks ----

    long[] rawEntries() {
        return entries;
    }

    ByteBuffer rawData() {
        return data;
    }

    ByteBuffer[] rawPlaceBuffers() {
        return placeBuffer;
    }

    int[] rawPlaceIndexes() {
        return placeIndex;
    }

    /**
     * Installs {@code n} raw entries already validated by the reader and makes room for their page contents;
     * returns the number of data pages the caller must now read into {@link #rawData()}.
     */
    int acceptRawEntries(int n, boolean toSink) {
        int pages = 0;
        for (int i = 0; i < n; i++) {
            dataSlot[i] = PageType.nibbleHasData((int) (entries[i] >>> Wire.TYPE_SHIFT)) ? pages++ : -1;
        }
        if (inPlace) {
            clear();
        }
        count = n;
        dataPages = 0;
        if (!toSink) {
            ensureDataPages(pages);
        }
        dataPages = pages;
        delivered = toSink;
        return pages;
    }

    @Override
    public String toString() {
        return "PageBatch[" + count + " pfns, " + dataPages + " with data]";
    }
}
