package org.xenhost.pci.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

class AtomicFilesTest {
    @TempDir
    Path dir;

    @Test
    void replacesTheFileAndLeavesNoTemporaryBehind() throws Exception {
        Path f = dir.resolve("state/one.json");
        AtomicFiles.write(f, "old".getBytes(StandardCharsets.UTF_8));
        AtomicFiles.write(f, "new".getBytes(StandardCharsets.UTF_8));
        assertEquals("new", Files.readString(f));
        assertFalse(Files.exists(dir.resolve("state/.one.json.tmp")));
    }

    @Test
    void aWriteThatFailsBeforeTheRenameLeavesTheOldContent() throws Exception {
        Path f = dir.resolve("one.json");
        AtomicFiles.write(f, "old".getBytes(StandardCharsets.UTF_8));
        // a directory where the temporary file goes: the write fails for real (EISDIR), even for root
        Files.createDirectory(dir.resolve(".one.json.tmp"));
        assertThrows(IOException.class, () -> AtomicFiles.write(f, "new".getBytes(StandardCharsets.UTF_8)));
        assertEquals("old", Files.readString(f));
    }
}
