package org.xenhost.migration;


import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.xenhost.pci.io.AtomicFiles;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
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
            byte[] bytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(e);
            AtomicFiles.write(dir.resolve(e.id() + ".json"), bytes);
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
