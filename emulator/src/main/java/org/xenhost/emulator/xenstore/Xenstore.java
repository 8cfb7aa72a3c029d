package org.xenhost.emulator.xenstore;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.xenhost.pci.io.AtomicFiles;
import org.xenhost.emulator.io.GroupCommit;

/**
 * The emulated xenstore: a tree of string values keyed by absolute paths ({@code /libxl/pci/0000-03-00-0/domid}),
 * persisted to one JSON file after every transaction (write-temp, fsync, rename), so it outlives the process
 * as xenstored outlives the toolstack. Writing a key creates its parents with empty values, as xenstored does;
 * removing a key removes its subtree.
 *
 * <p>Thread-safe. The tree is copy-on-write: readers take no lock and see the last committed tree. A transaction
 * is applied all-or-nothing under one short lock (xenstored is single-threaded too), then made durable by a group
 * commit: one writer persists the newest tree for every transaction applied so far, so concurrent transactions
 * share a file write instead of queueing one write each. A transaction returns only once a file write that
 * includes it is on disk. If that write fails, the tree goes back to the last one on disk and every transaction
 * applied since then fails with the error (each was built on the ones before it): a caller that gets the error
 * knows its change is gone, from memory as from the file.
 */
public final class Xenstore {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path file;
    /** The committed tree; never modified once published (a transaction publishes a new one). */
    private volatile TreeMap<String, String> tree;
    private final GroupCommit<TreeMap<String, String>> durable;

    private Xenstore(Path file, TreeMap<String, String> tree) {
        this.file = file;
        this.tree = tree;
        // one line, not pretty-printed: it is rewritten on every change, so its cost is paid per device operation
        this.durable = new GroupCommit<>(tree, t -> AtomicFiles.write(file, JSON.writeValueAsBytes(t)),
                (onDisk, markFailed) -> {
                    synchronized (this) {
                        markFailed.run();
                        this.tree = onDisk;
                    }
                });
    }

    /** Opens (or creates empty) the store kept in {@code file}. */
    public static Xenstore open(Path file) throws IOException {
        TreeMap<String, String> tree = new TreeMap<>();
        if (Files.exists(file)) {
            tree.putAll(JSON.readValue(file.toFile(), new TypeReference<Map<String, String>>() { }));
        }
        return new Xenstore(file, tree);
    }

    /** Reads one key. */
    public Optional<String> read(String path) {
        return Optional.ofNullable(tree.get(normalise(path)));
    }

    /** True if the key exists (with any value). */
    public boolean exists(String path) {
        return tree.containsKey(normalise(path));
    }

    /** The names of the direct children of {@code path}, sorted. */
    public List<String> directory(String path) {
        String p = normalise(path);
        TreeMap<String, String> tree = this.tree;
        String prefix = p.equals("/") ? "/" : p + "/";
        List<String> out = new ArrayList<>();
        for (String k : tree.tailMap(prefix, true).keySet()) {
            if (!k.startsWith(prefix)) {
                break;
            }
            String rest = k.substring(prefix.length());
            if (!rest.isEmpty() && rest.indexOf('/') < 0) {
                out.add(rest);
            }
        }
        return out;
    }

    public void write(String path, String value) throws IOException {
        transaction(tx -> tx.write(path, value));
    }

    public void rm(String path) throws IOException {
        String p = normalise(path);
        TreeMap<String, String> now = tree;
        if (!now.containsKey(p) && now.subMap(p + "/", true, p + "/" + Character.MAX_VALUE, true).isEmpty()) {
            return; // nothing to remove: no transaction, no lock (it orders before any later write of the key)
        }
        transaction(tx -> tx.rm(path));
    }

    /** Applies every change of {@code body} at once and persists them; nothing changes if the body throws. */
    public void transaction(TransactionBody body) throws IOException {
        long ticket;
        synchronized (this) {
            TreeMap<String, String> copy = new TreeMap<>(tree);
            Tx tx = new Tx(copy);
            body.apply(tx);
            if (!tx.changed) {
                return;
            }
            tree = copy;
            ticket = durable.publish(copy);
        }
        durable.await(ticket);
    }

    /** The changes of one transaction. */
    @FunctionalInterface
    public interface TransactionBody {
        void apply(Tx tx) throws IOException;
    }

    /** A transaction's view: reads see its own writes. */
    public static final class Tx {
        private final TreeMap<String, String> tree;
        private boolean changed;

        Tx(TreeMap<String, String> tree) {
            this.tree = tree;
        }

        public Optional<String> read(String path) {
            return Optional.ofNullable(tree.get(normalise(path)));
        }

        public void write(String path, String value) {
            String p = normalise(path);
            if (value.indexOf('\0') >= 0) {
                throw new IllegalArgumentException("xenstore value for " + p + " contains NUL");
            }
            for (int i = p.indexOf('/', 1); i > 0; i = p.indexOf('/', i + 1)) {
                tree.putIfAbsent(p.substring(0, i), "");
            }
            tree.put(p, value);
            changed = true;
        }

        public void rm(String path) {
            String p = normalise(path);
            changed |= tree.remove(p) != null;
            String prefix = p + "/";
            var sub = tree.subMap(prefix, true, prefix + Character.MAX_VALUE, true);
            changed |= !sub.isEmpty();
            sub.clear();
        }
    }

    static String normalise(String path) {
        if (path == null || !path.startsWith("/") || path.contains("//") || path.length() > 3072) {
            throw new IllegalArgumentException("xenstore path must be absolute and well formed, got '" + path + "'");
        }
        if (path.length() > 1 && path.endsWith("/")) {
            return path.substring(0, path.length() - 1);
        }
        return path;
    }

    /** A copy of the whole tree (tests, diagnostics). */
    public Map<String, String> snapshot() {
        return new TreeMap<>(tree);
    }
}
