package org.xenhost.emulator.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenhost.emulator.xenstore.Xenstore;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A failed group write takes back, in memory, every change it would have carried. */
class GroupCommitTest {
    @TempDir
    Path dir;

    @Test
    void aFailedXenstoreWriteLeavesNothingInMemoryAndTheNextOneWorks() throws Exception {
        Path file = dir.resolve("xenstore.json");
        Xenstore xs = Xenstore.open(file);
        xs.write("/a", "1");
        // a directory where the temporary file goes: the write really fails (EISDIR), even for root
        Path tmp = Files.createDirectory(dir.resolve(".xenstore.json.tmp"));
        IOException e = assertThrows(IOException.class, () -> xs.write("/libxl/pci/0000-03-00-0/driver_path", "x"));
        assertFalse(xs.exists("/libxl/pci/0000-03-00-0/driver_path"), "the failed change stayed in memory");
        assertFalse(xs.exists("/libxl"), "its parent stayed in memory");
        assertEquals("1", xs.read("/a").orElseThrow());
        assertTrue(e.getMessage().contains(".xenstore.json.tmp"), e.getMessage());

        Files.delete(tmp);
        xs.write("/c", "3");
        Xenstore reopened = Xenstore.open(file);
        assertEquals("1", reopened.read("/a").orElseThrow());
        assertEquals("3", reopened.read("/c").orElseThrow());
        assertFalse(reopened.exists("/libxl"));
    }

    @Test
    void everyChangeBuiltOnAFailedOneFailsWithItAndTheStateGoesBackToTheFile() throws Exception {
        CountDownLatch writing = new CountDownLatch(1);
        CountDownLatch fail = new CountDownLatch(1);
        List<List<String>> onDisk = new ArrayList<>();
        List<String> memory = new ArrayList<>();
        Object stateLock = new Object();
        GroupCommit<List<String>> gc = new GroupCommit<>(List.of(), snapshot -> {
            if (snapshot.contains("b")) {
                writing.countDown();
                try {
                    fail.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                }
                throw new IOException("No space left on device");
            }
            onDisk.add(snapshot);
        }, (durable, markFailed) -> {
            synchronized (stateLock) {
                markFailed.run();
                memory.clear();
                memory.addAll(durable);
            }
        });

        CompletableFuture<Void> first = CompletableFuture.runAsync(() -> change(gc, stateLock, memory, "b"));
        assertTrue(writing.await(10, TimeUnit.SECONDS));
        // published while the write of "b" is under way, on top of it: must fail with it
        long ticketC;
        synchronized (stateLock) {
            memory.add("c");
            ticketC = gc.publish(List.copyOf(memory));
        }
        CompletableFuture<Void> second = CompletableFuture.runAsync(() -> {
            try {
                gc.await(ticketC);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        fail.countDown();

        ExecutionException e1 = assertThrows(ExecutionException.class, () -> first.get(10, TimeUnit.SECONDS));
        assertTrue(e1.getCause().getMessage().contains("No space left on device"), e1.getCause().getMessage());
        ExecutionException e2 = assertThrows(ExecutionException.class, () -> second.get(10, TimeUnit.SECONDS));
        assertInstanceOf(java.io.UncheckedIOException.class, e2.getCause());
        assertTrue(e2.getCause().getMessage().contains("No space left on device"), e2.getCause().getMessage());
        synchronized (stateLock) {
            assertEquals(List.of(), memory, "failed changes stayed in memory");
        }

        change(gc, stateLock, memory, "d");
        assertEquals(List.of(List.of("d")), onDisk);
    }

    private static void change(GroupCommit<List<String>> gc, Object stateLock, List<String> memory, String item) {
        long ticket;
        synchronized (stateLock) {
            memory.add(item);
            ticket = gc.publish(List.copyOf(memory));
        }
        try {
            gc.await(ticket);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
