package org.xenhost.driver.state;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DomainStoreTest {
    private static final String U1 = "11111111-2222-3333-4444-555555555555";
    private static final String U2 = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

    @TempDir
    Path state;

    @Test
    void recordsAndConfigsSurviveANewStoreOnTheSameDirectory() throws Exception {
        DomainStore store = new DomainStore(state);
        DomainRecord r = new DomainRecord(U1, "vm1", 7, DomainRecord.RunState.RUNNING, true,
                new DomainRecord.InterruptedJob("save", "streaming", Instant.parse("2026-11-27T10:00:00Z")));
        store.save(r);
        store.saveConfig(U1, "name = \"vm1\"\n");

        DomainStore.Loaded loaded = new DomainStore(state).loadAll();
        assertEquals(List.of(), loaded.problems());
        assertEquals(1, loaded.domains().size());
        assertEquals(r, loaded.domains().get(0).record());
        assertEquals("name = \"vm1\"\n", loaded.domains().get(0).config());
        try (var files = Files.list(state.resolve("domains").resolve(U1))) {
            assertTrue(files.noneMatch(f -> f.getFileName().toString().endsWith(".tmp")), "no temporary file left");
        }
    }

    @Test
    void aRecordWrittenWithTheDroppedDeviceListStillLoads() throws Exception {
        // state.json of earlier versions kept the devices a domain owned; the ownership journal says that now
        Path dir = state.resolve("domains").resolve(U1);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("state.json"), "{\"uuid\":\"" + U1 + "\",\"name\":\"old\",\"domid\":3,"
                + "\"state\":\"RUNNING\",\"persistent\":true,\"ownedDevices\":[\"0000:03:00.0\"],\"job\":null}");
        DomainStore.Loaded loaded = new DomainStore(state).loadAll();
        assertEquals(List.of(), loaded.problems());
        assertEquals(new DomainRecord(U1, "old", 3, DomainRecord.RunState.RUNNING, true, null),
                loaded.domains().get(0).record());
    }

    @Test
    void oneDamagedRecordIsReportedAndDoesNotHideTheOthers() throws Exception {
        DomainStore store = new DomainStore(state);
        store.save(new DomainRecord(U1, "good", null, DomainRecord.RunState.SHUT_OFF, true, null));
        Path bad = state.resolve("domains").resolve(U2);
        Files.createDirectories(bad);
        Files.writeString(bad.resolve("state.json"), "{ truncated");

        DomainStore.Loaded loaded = store.loadAll();
        assertEquals(1, loaded.domains().size());
        assertEquals("good", loaded.domains().get(0).record().name());
        assertEquals(1, loaded.problems().size());
        assertTrue(loaded.problems().get(0).contains(U2), loaded.problems().get(0));
    }

    @Test
    void deleteRemovesTheDomainDirectory() throws Exception {
        DomainStore store = new DomainStore(state);
        store.save(new DomainRecord(U1, "vm", null, DomainRecord.RunState.SHUT_OFF, true, null));
        store.saveConfig(U1, "name = \"vm\"\n");
        store.delete(U1);
        assertFalse(Files.exists(state.resolve("domains").resolve(U1)));
        assertTrue(store.loadAll().domains().isEmpty());
    }

    @Test
    void pathTricksInAUuidAreRefused() {
        DomainStore store = new DomainStore(state);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> store.config("../../etc"));
        assertTrue(e.getMessage().contains("../../etc"));
    }
}
