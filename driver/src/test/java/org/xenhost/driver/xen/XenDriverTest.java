package org.xenhost.driver.xen;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenhost.driver.api.DomainSummary;
import org.xenhost.driver.api.DriverError;
import org.xenhost.driver.api.DriverException;
import org.xenhost.driver.job.DomainJobs;
import org.xenhost.driver.job.Job;
import org.xenhost.driver.job.JobKind;
import org.xenhost.emulator.EmulatedLibxl;
import org.xenhost.emulator.HostSettings;
import org.xenhost.libxl.DomainState;
import org.xenhost.libxl.stream.XlSaveHeader;
import org.xenhost.pci.HostFacts;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** XenDriver's domain lifecycle, on the emulated Xen host (the same code drives the real one). */
class XenDriverTest {
    static final HostFacts FACTS = new HostFacts("test-host", "Debian", 8L << 30, 4L << 30, "GenuineIntel", "cpu",
            2, 2, List.of("sse2", "vmx"), List.of());

    @TempDir
    Path tmp;
    private EmulatedLibxl libxl;
    private DomainJobs jobs;
    private XenDriver driver;

    @BeforeEach
    void open() throws Exception {
        libxl = EmulatedLibxl.open(tmp.resolve("xen"), null, HostSettings.DEFAULT.withTotalMemory(8L << 30));
        jobs = new DomainJobs(Duration.ofMillis(200), Clock.systemUTC());
        driver = new XenDriver(libxl, tmp.resolve("state"), jobs, () -> FACTS);
    }

    @AfterEach
    void close() {
        driver.close();
        libxl.close();
    }

    private static String cfg(String name, int memory) {
        return "name = \"" + name + "\"\ntype = \"pvh\"\nmemory = " + memory + "\nvcpus = 2\n";
    }

    @Test
    void defineStartPauseResumeDestroyUndefine() throws Exception {
        DomainSummary d = driver.define(cfg("vm1", 64), "vm1.cfg");
        assertEquals("shut-off", d.state());
        assertTrue(driver.list(false).stream().noneMatch(s -> s.name().equals("vm1")), "list without --all hides shut-off domains");

        DomainSummary running = driver.start("vm1");
        assertEquals("running", running.state());
        int domid = running.domid();
        assertEquals(DomainState.RUNNING, libxl.domainInfo(domid).state());

        driver.pause("vm1");
        assertEquals(DomainState.PAUSED, libxl.domainInfo(domid).state());
        assertEquals("paused", driver.info("vm1").summary().state());
        DriverException twice = assertThrows(DriverException.class, () -> driver.pause("vm1"));
        assertEquals(DriverError.REFUSED, twice.error());
        driver.resume(String.valueOf(domid)); // by domid
        assertEquals(DomainState.RUNNING, libxl.domainInfo(domid).state());

        DriverException undef = assertThrows(DriverException.class, () -> driver.start("vm1"));
        assertTrue(undef.getMessage().contains("already running"), undef.getMessage());

        driver.shutdown("vm1", 30);
        assertTrue(libxl.listDomains().stream().noneMatch(x -> x.domid() == domid), "shut down and cleaned up");
        assertEquals("shut-off", driver.info("vm1").summary().state());
        int again = driver.start("vm1").domid();
        driver.pause("vm1");
        assertEquals(DriverError.REFUSED, assertThrows(DriverException.class, () -> driver.shutdown("vm1", 1)).error());
        driver.destroy("vm1");
        assertTrue(libxl.listDomains().stream().noneMatch(x -> x.domid() == again));
        assertEquals("shut-off", driver.info("vm1").summary().state());
        driver.undefine("vm1");
        assertEquals(DriverError.NOT_FOUND, assertThrows(DriverException.class, () -> driver.info("vm1")).error());
    }

    /**
     * A guest destroyed behind xenhostd's back (xl destroy; on real Xen also a crashed guest another tool cleaned up)
     * is settled while the daemon runs, as at a restart: a transient one is forgotten, so its name can be used again
     * (real-Xen CI once saw "a domain named 'rxguest' already exists" for a guest xl had destroyed long before); a
     * persistent one is shut off and starts again.
     */
    @Test
    void aGuestDestroyedBehindTheDaemonsBackIsSettledWhileItRuns() throws Exception {
        int temp = driver.createTransient(cfg("temp", 32), "temp.cfg").domid();
        driver.define(cfg("kept", 32), "kept.cfg");
        int kept = driver.start("kept").domid();
        libxl.destroy(temp);
        libxl.destroy(kept);

        List<DomainSummary> all = driver.list(true);
        assertTrue(all.stream().noneMatch(s -> s.name().equals("temp")), "the transient guest is forgotten: " + all);
        assertEquals("shut-off", all.stream().filter(s -> s.name().equals("kept")).findFirst().orElseThrow().state(), all.toString());
        assertEquals("running", driver.createTransient(cfg("temp", 32), "temp.cfg").state(), "its name is free again");
        assertEquals("running", driver.start("kept").state());
    }

    @Test
    void theNameOfAGuestDestroyedBehindTheDaemonsBackIsFreeWithoutAListFirst() throws Exception {
        int temp = driver.createTransient(cfg("again", 32), "again.cfg").domid();
        libxl.destroy(temp);
        assertEquals("running", driver.createTransient(cfg("again", 32), "again.cfg").state());
    }

    @Test
    void stateSurvivesADriverRestartAndGoneDomainsAreShutOff() throws Exception {
        driver.define(cfg("keep", 32), "keep.cfg");
        int domid = driver.start("keep").domid();
        driver.define(cfg("lost", 32), "lost.cfg");
        int lostDomid = driver.start("lost").domid();
        driver.createTransient(cfg("temp", 32), "temp.cfg");

        libxl.destroy(lostDomid); // behind the daemon's back, e.g. while it was down
        XenDriver again = new XenDriver(libxl, tmp.resolve("state"), jobs, () -> FACTS);
        assertEquals("running", again.info("keep").summary().state());
        assertEquals(domid, again.info("keep").summary().domid());
        assertEquals("shut-off", again.info("lost").summary().state());
        assertEquals("running", again.info("temp").summary().state());
        assertFalse(again.info("temp").summary().persistent());
    }

    @Test
    void interruptedSaveIsReportedAndTheGuestResumed() throws Exception {
        driver.define(cfg("vm", 32), "vm.cfg");
        int domid = driver.start("vm").domid();
        // a daemon that died mid-save: the record says "save", Xen has the guest suspended
        try (Job j = jobs.begin(driver.info("vm").summary().uuid(), "vm", JobKind.SAVE)) {
            Path file = tmp.resolve("half.save");
            try (var ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.CREATE_NEW,
                    java.nio.file.StandardOpenOption.WRITE)) {
                libxl.suspend(domid, ch, false, false, p -> { });
            }
            var store = new org.xenhost.driver.state.DomainStore(tmp.resolve("state"));
            var rec = store.loadAll().domains().get(0).record();
            store.save(rec.withJob(new org.xenhost.driver.state.DomainRecord.InterruptedJob("save", "saving", j.started())));
        }
        assertEquals(DomainState.SUSPENDED, libxl.domainInfo(domid).state());

        XenDriver again = new XenDriver(libxl, tmp.resolve("state"), new DomainJobs(), () -> FACTS);
        assertEquals(DomainState.RUNNING, libxl.domainInfo(domid).state(), "the guest got its CPUs back");
        assertEquals("interrupted", again.jobInfo("vm").state());
        assertTrue(again.info("vm").interruptedJob().startsWith("save (phase saving) interrupted"), again.info("vm").interruptedJob());
    }

    @Test
    void interruptedStartIsUndoneAndReported() throws Exception {
        driver.define(cfg("vm", 32), "vm.cfg");
        // a daemon that died between creating the domain paused and unpausing it (devices perhaps half given)
        int domid = libxl.createDomain(driver.dumpConfig("vm", true), true);
        var store = new org.xenhost.driver.state.DomainStore(tmp.resolve("state"));
        var rec = store.loadAll().domains().get(0).record();
        store.save(rec.withJob(new org.xenhost.driver.state.DomainRecord.InterruptedJob("start", "assigning PCI devices",
                java.time.Instant.now())));
        assertEquals(DomainState.PAUSED, libxl.domainInfo(domid).state());

        XenDriver again = new XenDriver(libxl, tmp.resolve("state"), new DomainJobs(), () -> FACTS);
        assertTrue(libxl.listDomains().stream().noneMatch(d -> d.domid() == domid), "the half-started domain is destroyed");
        assertEquals("shut-off", again.info("vm").summary().state());
        assertTrue(again.info("vm").interruptedJob().startsWith("start (phase assigning PCI devices) interrupted"),
                again.info("vm").interruptedJob());
        assertEquals("running", again.start("vm").state(), "and it starts normally afterwards");
    }

    @Test
    void domain0IsListedAsTheHostAndRefusedAsAGuest() {
        DomainSummary dom0 = driver.list(false).stream().filter(s -> s.domid() != null && s.domid() == 0).findFirst().orElseThrow();
        assertEquals("Domain-0", dom0.name());
        assertEquals("running", dom0.state());
        for (String ref : List.of("0", "Domain-0", "00000000-0000-0000-0000-000000000000")) {
            DriverException e = assertThrows(DriverException.class, () -> driver.destroy(ref));
            assertEquals(DriverError.INVALID_INPUT, e.error());
            assertTrue(e.getMessage().contains("Domain-0 (domid 0), the host itself: it cannot be destroyed"), e.getMessage());
        }
        assertTrue(assertThrows(DriverException.class, () -> driver.pause("0")).getMessage().contains("cannot be paused"));
        assertEquals(0, driver.info("Domain-0").summary().domid());
        DriverException noDevices = assertThrows(DriverException.class, () -> driver.nodeDeviceList());
        assertEquals(DriverError.REFUSED, noDevices.error(), "a host opened without a sysfs tree has no devices to manage");
    }

    @Test
    void saveWritesAnXlSaveFileAndRestoreBringsTheGuestBack() throws Exception {
        driver.define(cfg("vm", 16) + "emulated_dirty_rate = \"1M\"\n", "vm.cfg");
        driver.start("vm");
        Path file = tmp.resolve("vm.save");
        var result = driver.save("vm", file.toString());
        assertEquals(Files.size(file), result.bytes());
        // pages written, as the stream's PAGE_DATA records carry them: 16 MiB = 4096 pages at most, some written
        assertTrue(result.pages() > 0 && result.pages() <= 4096, "pages " + result.pages());
        assertEquals("shut-off", driver.info("vm").summary().state());
        try (InputStream in = Files.newInputStream(file)) {
            XlSaveHeader h = XlSaveHeader.read(in);
            assertTrue(h.streamV2());
            assertTrue(h.config().contains("\"name\":\"vm\""), h.config());
        }
        DriverException off = assertThrows(DriverException.class, () -> driver.save("vm", tmp.resolve("other").toString()));
        assertEquals(DriverError.REFUSED, off.error(), "a shut-off domain cannot be saved");

        DomainSummary back = driver.restore(file.toString(), false);
        assertEquals("running", back.state());
        assertEquals(DomainState.RUNNING, libxl.domainInfo(back.domid()).state());

        DriverException exists = assertThrows(DriverException.class, () -> driver.save("vm", file.toString()));
        assertEquals(DriverError.INVALID_INPUT, exists.error(), "an existing file is never overwritten");
        assertEquals("running", driver.info("vm").summary().state(), "and the guest is untouched");
        assertEquals(DriverError.NOT_FOUND, assertThrows(DriverException.class,
                () -> driver.restore(tmp.resolve("missing.save").toString(), false)).error());
        Files.writeString(tmp.resolve("junk.save"), "not a save file at all, clearly");
        assertEquals(DriverError.INVALID_INPUT, assertThrows(DriverException.class,
                () -> driver.restore(tmp.resolve("junk.save").toString(), false)).error());
    }

    @Test
    void badInputIsRefusedWithTheReason() {
        DriverException e = assertThrows(DriverException.class, () -> driver.define("name = \"x\"\nmemory = \"lots\"\n", "x.cfg"));
        assertEquals(DriverError.INVALID_INPUT, e.error());
        assertTrue(e.getMessage().startsWith("x.cfg:2:"), e.getMessage());

        driver.define(cfg("dup", 32), "a.cfg");
        e = assertThrows(DriverException.class, () -> driver.define(cfg("dup", 32), "b.cfg"));
        assertTrue(e.getMessage().contains("a domain named 'dup' already exists"), e.getMessage());

        driver.define(cfg("huge", 7 * 1024), "huge.cfg");
        e = assertThrows(DriverException.class, () -> driver.start("huge"));
        assertEquals(DriverError.REFUSED, e.error());
        assertTrue(e.getMessage().matches(".*needs 7168 MiB but the host has only \\d+ MiB free.*"), e.getMessage());
        assertEquals("shut-off", driver.info("huge").summary().state(), "nothing half-started");

        assertEquals(DriverError.NOT_FOUND, assertThrows(DriverException.class, () -> driver.destroy("ghost")).error());
    }

    @Test
    void secondModifyJobOnADomainIsBusyWhileQueriesAnswer() throws Exception {
        driver.define(cfg("vm", 32), "vm.cfg");
        driver.start("vm");
        String uuid = driver.info("vm").summary().uuid();
        try (Job held = jobs.begin(uuid, "vm", JobKind.MIGRATE_OUT)) {
            held.phase("perform");
            DriverException busy = assertThrows(DriverException.class, () -> driver.pause("vm"));
            assertEquals(DriverError.BUSY, busy.error());
            assertTrue(busy.getMessage().contains("migrate-out"), busy.getMessage());
            assertEquals("perform", driver.jobInfo("vm").phase());
            assertEquals("migrate-out", driver.list(true).stream().filter(x -> x.name().equals("vm")).findFirst().orElseThrow().job());
        }
    }

    @Test
    void domainsMadeOutsideAreForeignUntilAdopted() throws Exception {
        int domid = libxl.createDomain("{\"c_info\":{\"type\":\"pvh\",\"name\":\"xl-made\",\"uuid\":\"0b0b0b0b-1111-2222-3333-444444444444\"},"
                + "\"b_info\":{\"max_vcpus\":1,\"max_memkb\":65536,\"target_memkb\":65536}}", false);
        DomainSummary foreign = driver.list(true).stream().filter(s -> s.name().equals("xl-made")).findFirst().orElseThrow();
        assertEquals("foreign", foreign.state());
        DriverException e = assertThrows(DriverException.class, () -> driver.pause("xl-made"));
        assertTrue(e.getMessage().contains("xenhost adopt " + domid), e.getMessage());

        DomainSummary adopted = driver.adopt(domid);
        assertEquals("running", adopted.state());
        assertEquals(64, adopted.memoryMiB());
        driver.pause("xl-made");
        assertNotNull(driver.dumpConfig("xl-made", false));
        assertNull(driver.info("xl-made").interruptedJob());
    }
}
