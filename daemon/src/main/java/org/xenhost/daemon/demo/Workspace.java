package org.xenhost.daemon.demo;

import org.xenhost.daemon.JvmShutdown;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The demo's throwaway working directory (mode 0700: it holds a CA key) and everything else the demo must not
 * leave behind: child processes are registered as they start and stopped in reverse order, then the directory is
 * deleted. {@link #close()} runs once, from whichever comes first: the demo's own end (success or failure) or the
 * JVM's shutdown hook on Ctrl-C/SIGTERM. The hook waits for a close already in progress, so the JVM never exits
 * while a child is still being stopped; and then for the demo's own thread to reach {@link #close()} (at most 30 s),
 * deleting the directory once more, since that thread may still write a step's files until it notices.
 */
public final class Workspace implements AutoCloseable {
    private final Path dir;
    private final Deque<AutoCloseable> undo = new ArrayDeque<>();
    private final Thread hook;
    private final Consumer<String> say;
    private boolean closed;
    private volatile boolean interrupted;
    /** Counted down when the demo's own thread has reached {@link #close()}: it writes nothing here after that. */
    private final CountDownLatch ownerDone = new CountDownLatch(1);
    /** How long the hook waits for the demo's thread to reach close() before it deletes the directory regardless. */
    private static final long OWNER_GRACE_SECONDS = 30;

    private Workspace(Path dir, Consumer<String> say) {
        this.dir = dir;
        this.say = say;
        this.hook = new Thread(this::closeOnSignal, "xenhost-demo-cleanup");
    }

    /**
     * Makes a fresh directory under the system's temp directory and arms the shutdown hook.
     *
     * @param say where the hook reports that it is cleaning up after an interruption
     */
    public static Workspace create(Consumer<String> say) throws IOException {
        Workspace w = new Workspace(Files.createTempDirectory("xenhost-demo-"), say);
        try {
            Runtime.getRuntime().addShutdownHook(w.hook);
        } catch (IllegalStateException shuttingDown) {
            // Ctrl-C came first: the JVM takes no hook that would clean up, so nothing may be made
            deleteTree(w.dir);
            throw new IllegalStateException("interrupted before the demo started: nothing was made");
        }
        return w;
    }

    public Path dir() {
        return dir;
    }

    /** Something to undo at the end (e.g. a child daemon); undone in reverse order of registration. */
    public synchronized <T extends AutoCloseable> T register(T resource) {
        if (closed) {
            // Ctrl-C arrived while this was being made: undo it at once rather than leak it
            closeQuietly(resource);
            throw new IllegalStateException("the demo is shutting down");
        }
        undo.push(resource);
        return resource;
    }

    private void closeOnSignal() {
        // The hook runs only when the JVM stops before close() took it back (Ctrl-C, SIGTERM), so this is always an
        // interruption, even if the demo's own thread, failing because of the shutdown, got to close() first.
        interrupted = true;
        say.accept("interrupted: stopping the demo's daemons and removing " + dir);
        cleanUp();
        // the demo's own thread runs on until it fails and reaches close(), and may write into the directory meanwhile
        // (a step's files, creating their directories again): the directory is deleted once more after that
        try {
            ownerDone.await(OWNER_GRACE_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        deleteTree(dir);
    }

    /** Stops what was registered, newest first, and deletes the directory; idempotent. */
    @Override
    public void close() {
        try {
            cleanUp();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running (or about to): it finds the work done and deletes the directory once more
            }
        } finally {
            ownerDone.countDown();
        }
    }

    private synchronized void cleanUp() {
        if (closed) {
            return;
        }
        closed = true;
        while (!undo.isEmpty()) {
            closeQuietly(undo.pop());
        }
        deleteTree(dir);
    }

    /**
     * True if the JVM is stopping on a signal (Ctrl-C, SIGTERM): whatever failed meanwhile is its consequence. Asks
     * the JVM as well as the hook's flag, because the demo's thread may fail on the shutdown (a shutdown hook it
     * tries to add, a daemon already stopped) before the hook thread has run a single line.
     */
    public boolean interrupted() {
        return interrupted || JvmShutdown.inProgress();
    }


    /** True once the directory and everything registered are gone. */
    public synchronized boolean closed() {
        return closed;
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            System.err.println("xenhost demo: cleanup: " + e.getMessage());
        }
    }

    /** Deletes a tree without following links (sysfs copies are full of them). */
    static void deleteTree(Path root) {
        try {
            Files.walkFileTree(root, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    Files.deleteIfExists(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(Path file, IOException exc) throws IOException {
                    if (exc instanceof NoSuchFileException) {
                        return FileVisitResult.CONTINUE;
                    }
                    throw exc;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path d, IOException exc) throws IOException {
                    Files.deleteIfExists(d);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (NoSuchFileException gone) {
            // nothing to delete
        } catch (IOException e) {
            System.err.println("xenhost demo: could not remove " + root + ": " + e.getMessage() + "; remove it by hand");
        }
    }
}
