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
 * FIFO is never opened, whole paths resolved each time, exceptions on the failure path) but with the same results.
 */
final class JavaSysfsIo implements SysfsIo {
    private final ThreadLocal<int[]> lastError = ThreadLocal.withInitial(() -> new int[1]);

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
    public Dir open(String dir) {
        Path p = Path.of(dir);
        try {
            if (!Files.readAttributes(p, BasicFileAttributes.class).isDirectory()) {
                lastError.get()[0] = ENOTDIR;
                return null;
            }
        } catch (IOException e) {
            lastError.get()[0] = errno(e, p);
            return null;
        }
        return new JavaDir(p);
    }

    @Override
    public int lastError() {
        return lastError.get()[0];
    }

    private final class JavaDir implements Dir {
        private final Path dir;

        JavaDir(Path dir) {
            this.dir = dir;
        }

        @Override
        public int read(String name, byte[] buf) {
            return readFile(dir.resolve(name), buf, false);
        }

        @Override
        public int readConfig(String name, byte[] buf) {
            return readFile(dir.resolve(name), buf, true);
        }

        @Override
        public String readlink(String name) {
            return JavaSysfsIo.this.readlink(dir.resolve(name).toString());
        }

        @Override
        public boolean exists(String name) {
            return Files.exists(dir.resolve(name), LinkOption.NOFOLLOW_LINKS);
        }

        @Override
        public void close() {
        }
    }

    private static int readFile(Path p, byte[] buf, boolean config) {
        try {
            BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
            if (a.isDirectory()) {
                return -EISDIR;
            }
            if (!a.isRegularFile()) {
                return 0; // FIFO, socket, device node: opening could block; reads as empty
            }
            try (SeekableByteChannel ch = Files.newByteChannel(p, StandardOpenOption.READ)) {
                if (!config) {
                    return Math.max(ch.read(ByteBuffer.wrap(buf)), 0);
                }
                int n = Math.max(ch.read(ByteBuffer.wrap(buf, 0, ConfigSpace.CONVENTIONAL_SIZE)), 0);
                if (n < ConfigSpace.CONVENTIONAL_SIZE || !ConfigSpace.isPciExpress(buf)) {
                    return n;
                }
                return n + Math.max(ch.read(ByteBuffer.wrap(buf, n, Math.min(buf.length, ConfigSpace.EXTENDED_SIZE) - n)), 0);
            }
        } catch (IOException e) {
            return -errno(e, p);
        }
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
            if (reason.contains("Permission denied")) {
                return EACCES;
            }
        }
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            return ENOENT;
        }
        return EIO;
    }
}
