package org.xenhost.driver.state;


import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;

import org.xenhost.pci.io.AtomicFiles;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Domain state on disk: {@code <state>/domains/<uuid>/config} (the xl.cfg as given) and
 * {@code <state>/domains/<uuid>/state.json} ({@link DomainRecord}), each replaced atomically. A record that
 * cannot be read is reported, not fatal: one damaged file must not hide every other domain.
 */
public final class DomainStore {
    private static final Pattern UUID = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

    private final Path domainsDir;
    private final ObjectMapper json = new ObjectMapper()
            .registerModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    /** What {@link #loadAll} found: the readable records and a message per unreadable one. */
    public record Loaded(List<LoadedDomain> domains, List<String> problems) {
    }

    public record LoadedDomain(DomainRecord record, String config) {
    }

    public DomainStore(Path stateDir) {
        this.domainsDir = stateDir.resolve("domains");
    }

    public void save(DomainRecord record) throws IOException {
        Path dir = dirOf(record.uuid());
        AtomicFiles.write(dir.resolve("state.json"), json.writeValueAsBytes(record));
    }

    public void saveConfig(String uuid, String xlCfgText) throws IOException {
        AtomicFiles.write(dirOf(uuid).resolve("config"), xlCfgText.getBytes(StandardCharsets.UTF_8));
    }

    public Optional<String> config(String uuid) throws IOException {
        try {
            return Optional.of(Files.readString(dirOf(uuid).resolve("config")));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    /** Removes a domain's directory (undefine of a stopped domain, or a transient domain that ended). */
    public void delete(String uuid) throws IOException {
        Path dir = dirOf(uuid);
        if (!Files.exists(dir)) {
            return;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path f : files) {
                Files.delete(f);
            }
        }
        Files.delete(dir);
        AtomicFiles.syncDirectory(domainsDir);
    }

    public Loaded loadAll() {
        List<LoadedDomain> out = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        if (!Files.isDirectory(domainsDir)) {
            return new Loaded(out, problems);
        }
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(domainsDir)) {
            for (Path dir : dirs) {
                String name = dir.getFileName().toString();
                if (name.startsWith(".") || !UUID.matcher(name).matches()) {
                    continue;
                }
                try {
                    DomainRecord r = json.readValue(dir.resolve("state.json").toFile(), DomainRecord.class);
                    if (!r.uuid().equals(name)) {
                        problems.add(dir + ": state.json names uuid " + r.uuid() + "; left alone");
                        continue;
                    }
                    out.add(new LoadedDomain(r, config(name).orElse(null)));
                } catch (IOException | RuntimeException e) {
                    problems.add(dir.resolve("state.json") + ": unreadable (" + e.getMessage() + "); left alone");
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + domainsDir, e);
        }
        out.sort(Comparator.comparing(d -> d.record().name()));
        return new Loaded(out, problems);
    }

    private Path dirOf(String uuid) {
        if (!UUID.matcher(uuid).matches()) {
            throw new IllegalArgumentException("not a lower-case uuid: \"" + uuid + "\"");
        }
        return domainsDir.resolve(uuid);
    }
}
