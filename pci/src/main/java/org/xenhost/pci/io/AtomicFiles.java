package org.xenhost.pci.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Crash-safe replacement of a small file: after a crash a reader finds the old content or the new, never a mix or
 * an empty file. The order is what makes it so: 1 write a temporary file beside the target ({@code .NAME.tmp}),
 * 2 fsync it (its bytes are on disk before anything names them), 3 rename it over the target, 4 fsync the directory
 * (the rename itself is durable before the caller goes on to the step the file protects).
 *
 * <p>It lives in the lowest module so that every state file of xenhost (the driver's domain records, the ownership
 * journal's snapshot, the migration journal, the emulated hypervisor's state) is written by this one
 * implementation. The transport's PEM files are not: transport knows nothing of Xen and does not depend on pci.
 */
public final class AtomicFiles {
    private AtomicFiles() {
    }

    /** Replaces {@code target} with {@code content}, creating its directory if needed. */
    public static void write(Path target, byte[] content) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = dir.resolve("." + target.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer buf = ByteBuffer.wrap(content);
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            ch.force(true);
        }
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("cannot replace " + target + " atomically (is " + dir
                    + " on a local file system?)", e);
        }
        syncDirectory(dir);
    }

    /** Makes renames and unlinks in {@code dir} durable. */
    public static void syncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
