package org.xenhost.emulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenhost.emulator.kernel.EmulatedKernel;
import org.xenhost.emulator.kernel.EmulatedKernel.ResetEvent;
import org.xenhost.emulator.kernel.SysfsWriteException;
import org.xenhost.fixtures.Fixtures;
import org.xenhost.libxl.LibxlDevicePci;
import org.xenhost.libxl.LibxlError;
import org.xenhost.libxl.LibxlException;

/**
 * {@code Libxl.pciReset} on the emulated host: libxl's reset recipe (pciback's do_flr when the kernel has it,
 * else the device's sysfs reset file) reaching the emulated kernel, whose reset log is the oracle.
 */
class PciResetTest {
    static final String NIC = "0000:07:00.0";   // r8169, has a reset method
    static final LibxlDevicePci NIC_PCI = LibxlDevicePci.of(0, 7, 0, 0);
    static final String NIC2 = "0000:08:00.0";  // r8169
    static final LibxlDevicePci NIC2_PCI = LibxlDevicePci.of(0, 8, 0, 0);
    static final LibxlDevicePci GPU_PCI = LibxlDevicePci.of(0, 6, 0, 0); // nouveau, no reset method

    @TempDir
    Path tmp;
    EmulatedLibxl host;
    EmulatedKernel kernel;

    @BeforeEach
    void open() throws IOException {
        Path sysfs = Fixtures.copyTree("asus-p6t6", tmp.resolve("sysfs"));
        host = TestHosts.open(tmp.resolve("host"), sysfs);
        kernel = host.kernel();
    }

    @AfterEach
    void close() {
        kernel.setResetHook(null);
        host.close();
    }

    @Test
    void writesTheDeviceResetFileAndTheKernelResetsTheFunction() throws Exception {
        host.pciReset(NIC_PCI);
        assertEquals(List.of(new ResetEvent(NIC, "reset", "ok")), kernel.resetEvents(NIC));
        assertEquals(1, kernel.resetCount(NIC));
        assertEquals(0, kernel.resetCount(NIC2), "no other device is reset");
        assertEquals(List.of(NIC + " reset ok"), Files.readAllLines(kernel.resetLogFile()),
                "the record another process can read");
        assertEquals(tmp.resolve("host").resolve("kernel-resets.log").toAbsolutePath(), kernel.resetLogFile());
    }

    @Test
    void pcibackDoFlrIsUsedForAPcibackDeviceWhenTheKernelHasIt() throws Exception {
        host.assignableAdd(NIC_PCI, true);
        host.pciReset(NIC_PCI);
        kernel.setPcibackDoFlr(true);
        host.pciReset(NIC_PCI);
        host.pciReset(NIC2_PCI); // on r8169: do_flr is pciback's, so the reset file is used
        assertEquals(List.of(new ResetEvent(NIC, "pciback-bind", "ok"), new ResetEvent(NIC, "reset", "ok"),
                new ResetEvent(NIC, "do_flr", "ok")), kernel.resetEvents(NIC));
        assertEquals(List.of(new ResetEvent(NIC2, "reset", "ok")), kernel.resetEvents(NIC2));
        // the kernel's own answer to a do_flr of a device pciback does not hold
        Path doFlr = kernel.root().resolve("sys/bus/pci/drivers/pciback/do_flr");
        SysfsWriteException e = assertThrows(SysfsWriteException.class, () -> kernel.write(doFlr, NIC2));
        assertEquals(SysfsWriteException.Errno.ENODEV, e.errno());
        kernel.setPcibackDoFlr(false);
        assertTrue(Files.notExists(doFlr));
    }

    @Test
    void aFailedResetIsALibxlExceptionNamingTheFileAndErrno() throws Exception {
        kernel.failResets(NIC, SysfsWriteException.Errno.EIO);
        LibxlException e = assertThrows(LibxlException.class, () -> host.pciReset(NIC_PCI));
        assertEquals(LibxlError.FAIL, e.error());
        assertTrue(e.getMessage().contains(NIC + "/reset"), e.getMessage());
        assertTrue(e.getMessage().contains("Input/output error"), e.getMessage());
        assertEquals(List.of(new ResetEvent(NIC, "reset", "EIO")), kernel.resetEvents(NIC));
        assertEquals(0, kernel.resetCount(NIC), "a failed reset is not counted as done");
        kernel.failResets(NIC, null);
        host.pciReset(NIC_PCI);
        assertEquals(1, kernel.resetCount(NIC));
    }

    @Test
    void aDeviceWithoutResetMethodOrUnknownIsRefusedClearly() {
        LibxlException none = assertThrows(LibxlException.class, () -> host.pciReset(GPU_PCI));
        assertTrue(none.getMessage().contains("0000:06:00.0/reset does not exist"), none.getMessage());
        assertTrue(none.getMessage().contains("doesn't support reset from sysfs"), none.getMessage());
        LibxlException unknown = assertThrows(LibxlException.class,
                () -> host.pciReset(LibxlDevicePci.of(0, 0x42, 0, 0)));
        assertTrue(unknown.getMessage().contains("no such PCI device"), unknown.getMessage());
    }

    /**
     * The configured latency is spent inside the reset, holding only that device: observed by the resetting thread
     * sleeping in it (interrupted to end the test), never by a clock.
     */
    @Test
    void theLatencyIsSpentHoldingOnlyThatDevice() throws Exception {
        kernel.setResetLatency(NIC, Duration.ofHours(1));
        CountDownLatch started = new CountDownLatch(1);
        kernel.setResetHook(bdf -> {
            if (bdf.equals(NIC)) {
                started.countDown();
            }
        });
        AtomicReference<Thread> resetting = new AtomicReference<>();
        CompletableFuture<Throwable> slow = CompletableFuture.supplyAsync(() -> {
            resetting.set(Thread.currentThread());
            try {
                host.pciReset(NIC_PCI);
                return null;
            } catch (Throwable t) {
                return t;
            }
        }, r -> new Thread(r, "slow-reset").start());
        assertTrue(started.await(30, TimeUnit.SECONDS), "the reset started");
        while (resetting.get().getState() != Thread.State.TIMED_WAITING) {
            Thread.onSpinWait(); // the reset thread goes on to spend its latency
        }
        host.pciReset(NIC2_PCI); // another device is not held up
        host.assignableAdd(NIC2_PCI, true);
        assertEquals(2, kernel.resetCount(NIC2));
        assertEquals(List.of(), kernel.resetEvents(NIC), "the slow reset has not finished");
        resetting.get().interrupt();
        Throwable t = slow.get(30, TimeUnit.SECONDS);
        assertTrue(t instanceof LibxlException, String.valueOf(t));
        assertTrue(t.getMessage().contains("interrupted during the reset of " + NIC), t.getMessage());
    }
}
