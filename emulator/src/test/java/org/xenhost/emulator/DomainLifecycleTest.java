package org.xenhost.emulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenhost.emulator.domain.EmulatedDomain;
import org.xenhost.libxl.DomainInfo;
import org.xenhost.libxl.DomainState;
import org.xenhost.libxl.DomainType;
import org.xenhost.libxl.HostInfo;
import org.xenhost.libxl.LibxlError;
import org.xenhost.libxl.LibxlException;

class DomainLifecycleTest {
    @TempDir
    Path tmp;

    @Test
    void domidsComeFromOneAndAreNotReusedWhileAlive() throws Exception {
        try (EmulatedLibxl host = TestHosts.open(tmp.resolve("h"))) {
            HostInfo h0 = host.hostInfo();
            assertEquals("4.17.0", h0.xenVersion());
            int a = host.createDomain(TestHosts.config("a", "pvh", 256, 0, 0), false);
            int b = host.createDomain(TestHosts.config("b", "hvm", 256, 0, 0), false);
            assertEquals(1, a);
            assertEquals(2, b);
            assertEquals(h0.freeMemoryKb() - 512 * 1024, host.hostInfo().freeMemoryKb());
            host.destroy(a);
            int c = host.createDomain(TestHosts.config("c", "pvh", 1, 0, 0), false);
            assertEquals(3, c, "Xen's rover moves on");
            assertEquals(DomainType.HVM, host.domainInfo(b).type());
            assertEquals(DomainType.HVM, host.domainInfo(c).type(), "dominfo reports PVH as HVM, as libxl does");
            assertEquals(LibxlError.DOMAIN_NOTFOUND, assertThrows(LibxlException.class, () -> host.domainInfo(a)).error());
            assertFalse(Files.exists(tmp.resolve("h/domains/1")), "destroy removes the domain's files");
            assertEquals(h0.freeMemoryKb() - 257 * 1024, host.hostInfo().freeMemoryKb());
        }
    }

    @Test
    void badConfigurationsAndNamesAreLibxlErrors() throws Exception {
        try (EmulatedLibxl host = TestHosts.open(tmp.resolve("h"))) {
            host.createDomain(TestHosts.config("taken", "pvh", 1, 0, 0), false);
            LibxlException dup = assertThrows(LibxlException.class,
                    () -> host.createDomain(TestHosts.config("taken", "pvh", 1, 0, 0), false));
            assertEquals(LibxlError.INVAL, dup.error());
            assertTrue(dup.getMessage().contains("already exists"), dup.getMessage());
            LibxlException json = assertThrows(LibxlException.class, () -> host.createDomain("{not json", false));
            assertEquals(LibxlError.INVAL, json.error());
            LibxlException type = assertThrows(LibxlException.class,
                    () -> host.createDomain("{\"name\":\"x\",\"type\":\"arm\",\"memory\":1}", false));
            assertTrue(type.getMessage().contains("arm"), type.getMessage());
            LibxlException mem = assertThrows(LibxlException.class,
                    () -> host.createDomain(TestHosts.config("huge", "pvh", 1 << 20, 0, 0), false));
            assertEquals(LibxlError.NOMEM, mem.error());
            // libxl's own JSON form works too
            int d = host.createDomain("{\"c_info\":{\"type\":\"hvm\",\"name\":\"libxl-json\","
                    + "\"uuid\":\"2d0c1d2e-3c4b-4a6e-9a1b-0c7d8e9f0a1b\"},\"b_info\":{\"max_vcpus\":4,"
                    + "\"max_memkb\":65536}}", true);
            DomainInfo i = host.domainInfo(d);
            assertEquals(4, i.vcpus());
            assertEquals(65536, i.maxMemoryKb());
            assertEquals("2d0c1d2e-3c4b-4a6e-9a1b-0c7d8e9f0a1b", i.uuid().toString());
            host.rename(d, "libxl-json", "renamed");
            assertTrue(host.domainConfigJson(d).contains("\"renamed\""));
            assertEquals(LibxlError.FAIL, assertThrows(LibxlException.class,
                    () -> host.rename(d, "libxl-json", "again")).error(), "stale old name: racing");
            assertEquals(LibxlError.INVAL, assertThrows(LibxlException.class,
                    () -> host.rename(d, "renamed", "taken")).error(), "name of another domain");
            host.rename(d, "renamed", "renamed");
            assertEquals("renamed", host.hypervisor().xenstore().read("/local/domain/" + d + "/name").orElseThrow());
        }
    }

    @Test
    void pausedGuestsDoNotDirtyAndResumeAfterSuspend() throws Exception {
        try (EmulatedLibxl host = TestHosts.open(tmp.resolve("h"))) {
            int d = host.createDomain(TestHosts.config("busy", "pvh", 16, 4_000_000, 0), false);
            EmulatedDomain dom = host.hypervisor().domain(d).orElseThrow();
            TestHosts.sleep(Duration.ofMillis(100));
            host.pause(d);
            long steps = dom.workloadSteps();
            String digest = dom.memory().digest();
            TestHosts.sleep(Duration.ofMillis(200));
            assertEquals(steps, dom.workloadSteps());
            assertEquals(digest, dom.memory().digest(), "a paused guest writes nothing");
            host.unpause(d);
            TestHosts.sleep(Duration.ofMillis(200));
            assertTrue(dom.workloadSteps() > steps);
            host.suspend(d, java.nio.channels.Channels.newChannel(java.io.OutputStream.nullOutputStream()), true, false,
                    p -> { });
            assertEquals(DomainState.SUSPENDED, host.domainInfo(d).state());
            long suspended = dom.workloadSteps();
            TestHosts.sleep(Duration.ofMillis(100));
            assertEquals(suspended, dom.workloadSteps());
            host.resume(d);
            assertEquals(DomainState.RUNNING, host.domainInfo(d).state());
            TestHosts.sleep(Duration.ofMillis(200));
            assertTrue(dom.workloadSteps() > suspended, "suspend_cancel: the guest runs on");
        }
    }

    @Test
    void aSaveBlockedOnAStalledConsumerDoesNotHoldUpOtherDomains() throws Exception {
        try (EmulatedLibxl host = TestHosts.open(tmp.resolve("h"))) {
            int a = host.createDomain(TestHosts.config("stalled", "pvh", 64, 1_000_000, 0), false);
            int b = host.createDomain(TestHosts.config("free", "pvh", 16, 1_000_000, 0), false);
            java.nio.channels.Pipe pipe = java.nio.channels.Pipe.open();
            java.util.concurrent.CompletableFuture<Void> save = java.util.concurrent.CompletableFuture.runAsync(() -> {
                try {
                    host.suspend(a, pipe.sink(), true, false, p -> { });
                } catch (LibxlException e) {
                    throw new java.util.concurrent.CompletionException(e);
                }
            });
            TestHosts.sleep(Duration.ofMillis(300));
            assertFalse(save.isDone(), "nobody reads the pipe: the saver blocks");
            host.pause(b);
            host.unpause(b);
            int c = host.createDomain(TestHosts.config("new", "pvh", 1, 0, 0), false);
            host.destroy(c);
            assertEquals(DomainState.RUNNING, host.domainInfo(b).state());
            // drain the pipe: the save completes
            java.util.concurrent.CompletableFuture<Long> reader = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try (var in = java.nio.channels.Channels.newInputStream(pipe.source())) {
                    return in.transferTo(java.io.OutputStream.nullOutputStream());
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            save.get(60, java.util.concurrent.TimeUnit.SECONDS);
            pipe.sink().close();
            assertTrue(reader.get(60, java.util.concurrent.TimeUnit.SECONDS) > 1 << 20);
            assertEquals(DomainState.SUSPENDED, host.domainInfo(a).state());
        }
    }

    @Test
    void closingTheChannelAbortsASaveOrARestore() throws Exception {
        try (EmulatedLibxl host = TestHosts.open(tmp.resolve("h"))) {
            int a = host.createDomain(TestHosts.config("abort", "pvh", 64, 1_000_000, 0), false);
            java.nio.channels.Pipe pipe = java.nio.channels.Pipe.open();
            java.util.concurrent.CompletableFuture<LibxlException> save = java.util.concurrent.CompletableFuture.supplyAsync(() ->
                    assertThrows(LibxlException.class, () -> host.suspend(a, pipe.sink(), true, false)));
            TestHosts.sleep(Duration.ofMillis(200));
            pipe.sink().close();
            LibxlException e = save.get(60, java.util.concurrent.TimeUnit.SECONDS);
            assertEquals(LibxlError.FAIL, e.error());
            host.resume(a);
            assertEquals(DomainState.RUNNING, host.domainInfo(a).state());
            long free = host.hostInfo().freeMemoryKb();
            java.nio.channels.Pipe in = java.nio.channels.Pipe.open();
            java.util.concurrent.CompletableFuture<LibxlException> restore = java.util.concurrent.CompletableFuture.supplyAsync(() ->
                    assertThrows(LibxlException.class, () -> host.createRestore(
                            TestHosts.config("incoming", "pvh", 64, 0, 0), in.source(), true)));
            TestHosts.sleep(Duration.ofMillis(200));
            in.source().close();
            assertEquals(LibxlError.FAIL, restore.get(60, java.util.concurrent.TimeUnit.SECONDS).error());
            assertEquals(2, host.listDomains().size(), "no half-restored domain");
            assertEquals(free, host.hostInfo().freeMemoryKb());
        }
    }

    @Test
    void destroyDuringASaveEndsTheSaveAndRemovesTheDomain() throws Exception {
        try (EmulatedLibxl host = TestHosts.open(tmp.resolve("h"))) {
            int a = host.createDomain(TestHosts.config("doomed", "pvh", 64, 4_000_000, 0), false);
            long free = host.hostInfo().freeMemoryKb();
            java.nio.channels.Pipe pipe = java.nio.channels.Pipe.open();
            java.util.concurrent.CompletableFuture<LibxlException> save = java.util.concurrent.CompletableFuture.supplyAsync(() ->
                    assertThrows(LibxlException.class, () -> host.suspend(a, pipe.sink(), true, false)));
            TestHosts.sleep(Duration.ofMillis(200));
            java.util.concurrent.CompletableFuture<Void> destroy = java.util.concurrent.CompletableFuture.runAsync(() -> {
                try {
                    host.destroy(a);
                } catch (LibxlException e) {
                    throw new java.util.concurrent.CompletionException(e);
                }
            });
            // drain the pipe: the saver's next batch finds the memory released
            java.util.concurrent.CompletableFuture<Long> drain = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try (var in = java.nio.channels.Channels.newInputStream(pipe.source())) {
                    return in.transferTo(java.io.OutputStream.nullOutputStream());
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            assertEquals(LibxlError.DOMAIN_DESTROYED, save.get(60, java.util.concurrent.TimeUnit.SECONDS).error());
            pipe.sink().close();
            drain.get(60, java.util.concurrent.TimeUnit.SECONDS);
            destroy.get(60, java.util.concurrent.TimeUnit.SECONDS);
            assertEquals(1, host.listDomains().size());
            assertFalse(Files.exists(tmp.resolve("h/domains/" + a)));
            assertEquals(free + 64 * 1024, host.hostInfo().freeMemoryKb());
        }
    }

    @Test
    void sixteenGibGuestThatTouched64MibCostsAbout64Mib() throws Exception {
        try (EmulatedLibxl host = TestHosts.open(tmp.resolve("h"))) {
            int d = host.createDomain(TestHosts.config("big", "pvh", 16 * 1024, 400_000_000, 64 << 20), false);
            EmulatedDomain dom = host.hypervisor().domain(d).orElseThrow();
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (dom.memory().populatedPages() < 15_000 && System.nanoTime() < deadline) {
                TestHosts.sleep(Duration.ofMillis(50));
            }
            host.pause(d);
            long populated = dom.memory().populatedPages();
            assertTrue(populated <= (64 << 20) / 4096 + 256, "only the working set and boot image: " + populated);
            Path memory = tmp.resolve("h/domains/" + d + "/memory");
            assertEquals(16L << 30, Files.size(memory), "the memory file has the guest's size");
            Process du = new ProcessBuilder("du", "-k", memory.toString()).start();
            String out = new String(du.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            du.waitFor();
            long allocatedKb = Long.parseLong(out.split("\\s+")[0]);
            assertTrue(allocatedKb <= 70 * 1024, "sparse: " + allocatedKb + " KiB allocated for " + populated + " pages");
            assertTrue(allocatedKb >= populated * 4 / 2, "the touched pages are really stored: " + allocatedKb + " KiB");
        }
    }
}
