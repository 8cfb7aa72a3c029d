package org.xenhost.pci;

import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.NotLinkException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Portable {@link SysfsIo} on java.nio, used when JNA cannot load libc. Slower (a stat before each open, so that a
 * FIFO is never opened, and exceptions on the failure path) but with the same results.
 */
final class JavaSysfsIo implements SysfsIo {
    private final ThreadLocal<int[]> lastError = ThreadLocal.withInitial(() -> new int[1]);

    @Override
    public int read(String path, byte[] buf) {
        Path p = Path.of(path);
        try {
            BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
            if (a.isDirectory()) {
                return -EISDIR;
            }
            if (!a.isRegularFile()) {
                return 0; // FIFO, socket, device node: opening could block; reads as empty
            }
            try (SeekableByteChannel ch = Files.newByteChannel(p, StandardOpenOption.READ)) {
                int n = ch.read(ByteBuffer.wrap(buf));
                return Math.max(n, 0);
            }
        } catch (IOException e) {
            return -errno(e, p);
        }
    }

    @Override
    public int readConfig(String path, byte[] buf) {
        Path p = Path.of(path);
        try {
            BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
            if (a.isDirectory()) {
                return -EISDIR;
            }
            if (!a.isRegularFile()) {
                return 0;
            }
            try (SeekableByteChannel ch = Files.newByteChannel(p, StandardOpenOption.READ)) {
                ByteBuffer bb = ByteBuffer.wrap(buf, 0, ConfigSpace.CONVENTIONAL_SIZE);
                int n = Math.max(ch.read(bb), 0);
                if (n < ConfigSpace.CONVENTIONAL_SIZE || !ConfigSpace.isPciExpress(buf)) {
                    return n;
                }
                int m = ch.read(ByteBuffer.wrap(buf, n, buf.length - n));
                return n + Math.max(m, 0);
            }
        } catch (IOException e) {
            return -errno(e, p);
        }
    }

    @Override
    public String readlink(String path) {
        try {
            return Files.readSymbolicLink(Path.of(path)).toString();
        } catch (IOException e) {
            lastError.get()[0] = errno(e, Path.of(path));
            return null;
        } catch (UnsupportedOperationException e) {
            lastError.get()[0] = EINVAL;
            return null;
        }
    }

    @Override
    public String[] list(String dir) {
        String[] names = new File(dir).list();
        if (names == null) {
            lastError.get()[0] = whyNotListable(dir);
        }
        return names;
    }

    @Override
    public int lastError() {
        return lastError.get()[0];
    }

    /** Slow path after File.list() returned null: find out why. */
    static int whyNotListable(String dir) {
        Path p = Path.of(dir);
        try (var s = Files.newDirectoryStream(p)) {
            return EIO; // listable now: it changed under us
        } catch (IOException e) {
            return errno(e, p);
        }
    }

    static int errno(IOException e, Path p) {
        if (e instanceof NoSuchFileException) {
            return ENOENT;
        }
        if (e instanceof NotDirectoryException) {
            return ENOTDIR;
        }
        if (e instanceof NotLinkException) {
            return EINVAL;
        }
        String reason = e instanceof FileSystemException fse ? fse.getReason() : e.getMessage();
        if (reason != null) {
            if (reason.contains("symbolic links")) {
                return ELOOP;
            }
            if (reason.contains("Is a directory")) {
                return EISDIR;
            }
            if (reason.contains("No such device")) {
                return ENODEV;
            }
            if (reason.contains("Not a directory")) {
                return ENOTDIR;
            }
        }
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            return ENOENT;
        }
        return EIO;
    }
}
