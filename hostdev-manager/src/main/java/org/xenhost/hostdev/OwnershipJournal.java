package org.xenhost.hostdev;


import org.xenhost.pci.PciAddress;

import org.xenhost.pci.io.AtomicFiles;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The ownership journal in {@code <state>/hostdev/}: {@code journal} (append-only, one fsynced line per change)
 * and {@code snapshot} (every entry, written temp → fsync → rename → fsync directory). The current state is the
 * snapshot with the journal replayed over it; every record is a whole entry, so replaying a record twice changes
 * nothing and a crash between writing the snapshot and truncating the journal is harmless.
 *
 * <p>{@link #put} and {@link #drop} return only after the line is on disk: callers write the record <em>before</em>
 * the sysfs/libxl step it announces. Appending a line is serialised here and takes microseconds; the fsync is a group
 * commit outside that lock: one {@code fdatasync} covers every line appended before it, so concurrent operations on
 * different devices share it instead of queueing one each. Readers ({@link #get}, {@link #entries}) never block and
 * see an entry only once its line is durable. Two tables are kept: what the file says (updated with the append, so
 * that a compaction, which snapshots it and empties the file, never loses a line) and what readers see (updated
 * after the fsync). A failed fsync leaves the readers' table unchanged and makes the journal refuse every later
 * record: after a failed fsync the kernel may have dropped the page, so nothing appended since can be trusted to be
 * on disk; a restart replays the file and reconciles it with sysfs and libxl.
 */
public final class OwnershipJournal implements AutoCloseable {
    /** Journal length (records) after which {@link #put}/{@link #drop} rewrite the snapshot. */
    static final int COMPACT_AFTER = 4096;

    private final Path dir;
    private final Path journalFile;
    private final Path snapshotFile;
    /** What readers see: entries whose records are on disk. */
    private final ConcurrentHashMap<PciAddress, Ownership> entries = new ConcurrentHashMap<>();
    /** What the file says (guarded by {@code this}): ahead of {@link #entries} by the lines not yet synced. */
    private final Map<PciAddress, Ownership> recorded = new java.util.HashMap<>();
    /** Why the journal refuses records after a failed fsync; null while healthy. */
    private volatile String failed;
    private final Sync sync;
    private final boolean writable;

    /** Makes the appended lines durable; {@code FileChannel.force(false)} ({@code fdatasync}) outside tests. */
    @FunctionalInterface
    interface Sync {
        void force(FileChannel channel) throws IOException;
    }
    private final List<String> replayWarnings = new ArrayList<>();
    private FileChannel channel;
    private int records;
    /** Lines appended so far (guarded by {@code this}) and made durable so far (guarded by forceLock). */
    private long appended;
    private final Object forceLock = new Object();
    private long forced;

    /**
     * Opens (creating if needed) the journal under {@code stateDir/hostdev} and replays it.
     *
     * @throws IllegalArgumentException if the state directory cannot be created or written
     */
    public OwnershipJournal(Path stateDir) {
        this(stateDir, true, ch -> ch.force(false));
    }

    /** A writable journal whose fsync is {@code sync} (tests inject a failing one). */
    OwnershipJournal(Path stateDir, Sync sync) {
        this(stateDir, true, sync);
    }

    /**
     * The journal as it is on disk, for queries that must not change anything (no directory is created, no
     * record can be written, a torn tail is left for the writer to cut).
     */
    public static OwnershipJournal readOnly(Path stateDir) {
        return readOnly(stateDir, () -> { });
    }

    /** As {@link #readOnly(Path)}; {@code betweenReads} runs after each snapshot read (tests race a writer there). */
    static OwnershipJournal readOnly(Path stateDir, Runnable betweenReads) {
        OwnershipJournal j = new OwnershipJournal(stateDir, false, ch -> ch.force(false));
        j.loadConsistent(betweenReads);
        return j;
    }

    /** Reads of the two files while a daemon may compact them, before giving up on a consistent pair. */
    static final int READ_ATTEMPTS = 8;

    /**
     * Reads the snapshot and then the journal so that both belong to the same compaction. The writer's compaction
     * renames a new snapshot into place and then empties the journal, so a reader that read the old snapshot and
     * then the emptied (or refilled) journal would miss every record the new snapshot absorbed: a device owned by a
     * guest would look free. A compaction always replaces the snapshot's file (temp file and rename), so the pair
     * is consistent when the snapshot is the same file after the journal was read as before the snapshot was; a
     * new snapshot with the previous journal is consistent too (replaying records the snapshot already holds
     * changes nothing), and is what a reader between the rename and the truncation gets.
     */
    private void loadConsistent(Runnable betweenReads) {
        try {
            for (int attempt = 1; ; attempt++) {
                entries.clear();
                replayWarnings.clear();
                Object before = identity(snapshotFile);
                load(snapshotFile, "snapshot");
                betweenReads.run();
                load(journalFile, "journal");
                if (Objects.equals(before, identity(snapshotFile))) {
                    return;
                }
                if (attempt == READ_ATTEMPTS) {
                    replayWarnings.add("the snapshot was replaced " + READ_ATTEMPTS + " times while it was read "
                            + "(a daemon compacting it); ownership shown may be a moment old");
                    return;
                }
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the host-device journal in " + dir + " ("
                    + e.getMessage() + ")", e);
        }
    }

    /** Which file the path names now (inode and change time), or null when there is none. */
    private static Object identity(Path file) throws IOException {
        try {
            BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            return List.of(String.valueOf(a.fileKey()), a.lastModifiedTime(), a.size());
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    private OwnershipJournal(Path stateDir, boolean writable, Sync sync) {
        this.sync = sync;
        this.dir = stateDir.resolve("hostdev");
        this.journalFile = dir.resolve("journal");
        this.snapshotFile = dir.resolve("snapshot");
        this.writable = writable;
        if (!writable) {
            return; // readOnly() loads, retrying around a writer's compaction
        }
        try {
            Files.createDirectories(dir);
            load(snapshotFile, "snapshot");
            records = load(journalFile, "journal");
            recorded.putAll(entries);
            channel = FileChannel.open(journalFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.APPEND);
            cutTornTail();
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot open the host-device journal in " + dir
                    + " (" + e.getMessage() + "); check that the state directory exists and is writable", e);
        }
    }

    private int load(Path file, String what) throws IOException {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return 0; // no record yet (compaction replaces the snapshot by a rename and truncates the journal)
        }
        if (!writable && !text.isEmpty() && !text.endsWith("\n")) {
            // a writer is appending this line now: it is not durable yet, and it is not torn either
            text = text.substring(0, text.lastIndexOf('\n') + 1);
        }
        List<String> lines = text.lines().toList();
        int n = 0;
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.isEmpty()) {
                continue;
            }
            try {
                JournalCodec.Record r = JournalCodec.decode(line);
                if (r.put() == null) {
                    entries.remove(r.bdf());
                } else {
                    entries.put(r.bdf(), r.put());
                }
                n++;
            } catch (IllegalArgumentException e) {
                // Only the last line can be torn by a crash; a bad line elsewhere is damage worth reporting.
                replayWarnings.add(what + " line " + (i + 1) + " ignored: " + e.getMessage()
                        + (i == lines.size() - 1 ? " (torn by a crash during the write)" : ""));
            }
        }
        return n;
    }

    /**
     * A crash in the middle of an append leaves a last line without its newline; the next record would be glued to
     * it and lost with it. Cut the file back to its last complete line (the torn one was reported by replay).
     */
    private void cutTornTail() throws IOException {
        long size = channel.size();
        if (size == 0) {
            return;
        }
        byte[] all = Files.readAllBytes(journalFile);
        int end = all.length;
        while (end > 0 && all[end - 1] != '\n') {
            end--;
        }
        if (end != size) {
            channel.truncate(end);
            channel.force(true);
        }
    }

    /** Lines that could not be replayed at open, each with its reason. */
    public List<String> replayWarnings() {
        return Collections.unmodifiableList(replayWarnings);
    }

    /** The entry for a device, if xenhost holds it. */
    public Optional<Ownership> get(PciAddress bdf) {
        return Optional.ofNullable(entries.get(bdf));
    }

    /** Every entry, by address. A consistent copy; never waits for a writer. */
    public Map<PciAddress, Ownership> entries() {
        return Collections.unmodifiableMap(new TreeMap<>(entries));
    }

    /** Records an entry durably, then makes it visible. */
    public void put(Ownership o) {
        force(append(JournalCodec.put(o), () -> recorded.put(o.bdf(), o)));
        entries.put(o.bdf(), o);
    }

    /** Puts back what {@link #get} returned before an operation: that entry, or none. An unwind's first undo. */
    public void restore(PciAddress bdf, Optional<Ownership> before) {
        if (before.isPresent()) {
            put(before.get());
        } else {
            drop(bdf);
        }
    }

    /** Records that xenhost no longer holds the device (it is with the host), durably, then makes it visible. */
    public void drop(PciAddress bdf) {
        force(append(JournalCodec.drop(bdf), () -> recorded.remove(bdf)));
        entries.remove(bdf);
    }

    /**
     * Appends a line and applies it to the file's table in one step (so a compaction, which snapshots that table
     * and empties the file, can never lose a line); returns its number for {@link #force}. Callers hold the
     * device's lock, so the records of one device reach the readers' table in the order they were appended.
     */
    private synchronized long append(String line, Runnable apply) {
        if (channel == null) {
            throw new IllegalStateException("host-device journal in " + dir + " is closed or read-only");
        }
        if (failed != null) {
            throw new UncheckedIOException(new IOException(failed));
        }
        try {
            ByteBuffer buf = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
            while (buf.hasRemaining()) {
                channel.write(buf);
            }
            apply.run();
            if (++records >= COMPACT_AFTER) {
                compact();
            }
            return ++appended;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the host-device journal " + journalFile + ": "
                    + e.getMessage() + "; nothing was changed on the host", e);
        }
    }

    /** Returns once line {@code n} is on disk: one fsync for every line appended before it. */
    private void force(long n) {
        synchronized (forceLock) {
            if (forced >= n) {
                return; // another thread's fsync covered it
            }
            long upTo;
            FileChannel ch;
            synchronized (this) {
                upTo = appended;
                ch = channel;
            }
            if (failed != null) {
                throw new UncheckedIOException(new IOException(failed));
            }
            try {
                if (ch == null) {
                    throw new IOException("closed");
                }
                sync.force(ch);
            } catch (IOException e) {
                failed = "the host-device journal " + journalFile + " could not be synced (" + e.getMessage()
                        + "), so records written since its last sync may not be on disk; it takes no more records: "
                        + "restart xenhost, which replays it and reconciles every device with sysfs and libxl";
                throw new UncheckedIOException("cannot sync the host-device journal " + journalFile + ": "
                        + e.getMessage() + "; the operation stops before changing the host", e);
            }
            forced = upTo;
        }
    }

    /**
     * Rewrites the snapshot from the current entries and empties the journal. Called on its own when the journal
     * grows and by the manager after start-up reconciliation.
     */
    public synchronized void compact() throws IOException {
        StringBuilder sb = new StringBuilder();
        for (Ownership o : new TreeMap<>(recorded).values()) {
            sb.append(JournalCodec.put(o)).append('\n');
        }
        // temp file, fsync, rename, fsync the directory: the snapshot is durable before the journal is emptied
        AtomicFiles.write(snapshotFile, sb.toString().getBytes(StandardCharsets.UTF_8));
        channel.truncate(0);
        channel.force(true);
        records = 0;
    }

    /** Number of records in the journal file since the last snapshot. */
    int journalRecords() {
        return records;
    }

    @Override
    public synchronized void close() {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // the records are already forced; nothing is lost
            }
            channel = null;
        }
    }
}
