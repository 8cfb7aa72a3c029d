package org.xenhost.migration;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The migration journal: one JSON file per migration under {@code STATE/migrations/}, replaced atomically
 * (temporary file, fsync, rename, fsync of the directory) so that after a crash a reader finds the previous
 * phase or the next, never a torn file. {@link #write} returns only once the new phase is durable: callers
 * send the message that depends on it afterwards.
 */
public final class MigrationJournal {
    private static final Logger log = LoggerFactory.getLogger(MigrationJournal.class);
    static final ObjectMapper JSON = new ObjectMapper().findAndRegisterModules()
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            // a newer peer or daemon may add fields; the ones we know keep their meaning
            .disable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9-]{1,64}");

    private final Path dir;

    public MigrationJournal(Path stateDir) {
        this.dir = stateDir.resolve("migrations");
    }

    public Path directory() {
        return dir;
    }

    /** Makes {@code e} this migration's durable state on this side. */
    public synchronized void write(JournalEntry e) {
        checkId(e.id());
        try {
            Files.createDirectories(dir);
            Path target = dir.resolve(e.id() + ".json");
            Path tmp = dir.resolve("." + e.id() + ".json.tmp");
            byte[] bytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(e);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer b = ByteBuffer.wrap(bytes);
                while (b.hasRemaining()) {
                    ch.write(b);
                }
                ch.force(true);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException ex) {
                throw new IOException("cannot replace " + target + " atomically (state directory on a local file system?)", ex);
            }
            try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
                d.force(true);
            }
        } catch (IOException ex) {
            // without a durable journal the commit protocol cannot promise anything: the caller must stop
            throw new UncheckedIOException("cannot write the migration journal " + dir.resolve(e.id() + ".json")
                    + ": " + ex.getMessage(), ex);
        }
    }

    public synchronized Optional<JournalEntry> read(String id) {
        if (!ID.matcher(id).matches()) {
            return Optional.empty();
        }
        Path f = dir.resolve(id + ".json");
        if (!Files.exists(f)) {
            return Optional.empty();
        }
        try {
            return Optional.of(JSON.readValue(f.toFile(), JournalEntry.class));
        } catch (IOException ex) {
            log.warn("migration journal {} is unreadable: {}", f, ex.getMessage());
            return Optional.empty();
        }
    }

    /** Every entry, readable or not (unreadable ones are logged and skipped). */
    public synchronized List<JournalEntry> all() {
        List<JournalEntry> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return out;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.json")) {
            for (Path f : ds) {
                String name = f.getFileName().toString();
                read(name.substring(0, name.length() - ".json".length())).ifPresent(out::add);
            }
        } catch (IOException ex) {
            log.warn("cannot list {}: {}", dir, ex.getMessage());
        }
        return out;
    }

    private static void checkId(String id) {
        if (id == null || !ID.matcher(id).matches()) {
            throw new IllegalArgumentException("migration id '" + id + "' must be 1-64 characters of A-Z a-z 0-9 -");
        }
    }
}
