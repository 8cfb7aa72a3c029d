package org.xenhost.emulator.kernel;

import static org.xenhost.emulator.kernel.SysfsWriteException.Errno.EBUSY;
import static org.xenhost.emulator.kernel.SysfsWriteException.Errno.EINVAL;
import static org.xenhost.emulator.kernel.SysfsWriteException.Errno.ENODEV;
import static org.xenhost.emulator.kernel.SysfsWriteException.Errno.ENOENT;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.xenhost.pci.io.AtomicFiles;

/**
 * The Linux PCI core and xen-pciback as seen through sysfs, over a working copy of a sysfs tree (a directory
 * containing {@code sys/}). A write goes through {@link #write(Path, String)}, which applies the kernel's
 * reaction to the tree: driver links move on bind/unbind, pciback's {@code slots} and {@code permissive} files
 * change, {@code driver_override} is stored as the kernel prints it, a reset takes its (configurable) time. The
 * result is plain files and symlinks, so {@code lspci -k -A linux-sysfs} and any sysfs reader see it.
 *
 * <p>Refusals are {@link SysfsWriteException}s with the kernel's errno; writing an attribute that does not exist
 * (pciback not loaded, no reset method) fails with {@link NoSuchFileException}, as {@code open(2)} would.
 *
 * <p>Which dom0 driver matches which device is not in sysfs (it is in each driver's id table); the model learns
 * it from the tree the first time it sees it (the driver each device is bound to) and keeps it in a state file.
 *
 * <p>Thread-safe, locked as the kernel locks: each device has its own lock ({@code device_lock}), held for the
 * whole reaction to a write that concerns it, reset included, so bind/unbind/reset of one device are atomic and
 * ordered; writes to different devices run in parallel. pciback's shared files ({@code slots},
 * {@code permissive}) are read-modified-written under one short lock that is never held across a reset.
 * Loading or unloading pciback waits for every write in flight (as {@code rmmod} waits for the driver's users).
 * Readers take no lock.
 */
public final class EmulatedKernel {
    public static final String PCIBACK = "pciback";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> PCIBACK_FILES = List.of("bind", "unbind", "new_id", "remove_id", "uevent",
            "new_slot", "remove_slot", "slots", "permissive", "quirks", "irq_handlers");

    private final Path root;
    private final Path pci;
    private final Path drivers;
    private final Path nativeDriversFile;
    private final Map<String, String> nativeDrivers;
    private final Map<String, Duration> resetLatency = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> resets = new ConcurrentHashMap<>();
    private volatile Duration defaultResetLatency = Duration.ZERO;
    private volatile ResetHook resetHook = ResetHook.NONE;
    /** Injected failures of requested resets (sysfs {@code reset}, pciback {@code do_flr}), by BDF. */
    private final Map<String, SysfsWriteException.Errno> resetFailures = new ConcurrentHashMap<>();
    /** Every function reset in order, also appended to {@link #resetLogFile} so another process can read it. */
    private final java.util.Queue<ResetEvent> resetLog = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private final Path resetLogFile;
    /** Whether pciback has the {@code do_flr} file of old forks (mainline has none). */
    private volatile boolean doFlr;
    /** pciback's slot list as last written; null until read from the file (see {@link #lockedSlots}). */
    private volatile Set<SlotId> slotCache;
    private volatile Set<String> permissiveCache;
    private final Map<String, Path> deviceDirs = new ConcurrentHashMap<>();
    private final Map<String, Integer> headerTypes = new ConcurrentHashMap<>();
    /** The slots file, written outside {@link #pcibackLists} for every change published so far. */
    private final org.xenhost.emulator.io.GroupCommit<Set<SlotId>> slotsFile =
            new org.xenhost.emulator.io.GroupCommit<>(null, this::persistSlots, (onDisk, markFailed) -> {
                // the file is the state: after a failed write the list is read from it again
                this.pcibackLists.lock();
                try {
                    markFailed.run();
                    this.slotCache = null;
                } finally {
                    this.pcibackLists.unlock();
                }
            });
    /** device_lock: one per BDF, taken for the whole reaction to a write on that device. */
    private final Map<String, ReentrantLock> deviceLocks = new ConcurrentHashMap<>();
    /** pciback's slot and permissive lists: short read-modify-write sections only, never across a reset. */
    private final ReentrantLock pcibackLists = new ReentrantLock();
    /** Writes share it; loading/unloading pciback takes it exclusively. */
    private final ReentrantReadWriteLock module = new ReentrantReadWriteLock();

    /**
     * Called when a function reset starts, with the device's lock held and no other lock, before the configured
     * latency is spent. Tests use it to hold one device mid-reset and watch the others proceed.
     */
    @FunctionalInterface
    public interface ResetHook {
        ResetHook NONE = bdf -> { };

        void resetting(String bdf) throws InterruptedException;
    }

    private EmulatedKernel(Path root, Path nativeDriversFile, Map<String, String> nativeDrivers) {
        this.root = root;
        this.pci = root.resolve("sys/bus/pci");
        this.drivers = pci.resolve("drivers");
        this.nativeDriversFile = nativeDriversFile;
        this.nativeDrivers = nativeDrivers;
        this.resetLogFile = nativeDriversFile.toAbsolutePath().resolveSibling("kernel-resets.log");
    }

    /**
     * One function reset: which device, what asked for it ({@code reset} = the device's sysfs reset file,
     * {@code do_flr} = pciback's, {@code pciback-bind} / {@code pciback-unbind} = pciback's own) and how it ended
     * ({@code ok}, or the errno name of an injected failure).
     */
    public record ResetEvent(String bdf, String via, String outcome) {
        /** The line in {@code kernel-resets.log}. */
        public String line() {
            return bdf + " " + via + " " + outcome;
        }
    }

    /**
     * Attaches the model to the sysfs tree at {@code sysfsRoot}; {@code stateFile} keeps what the model learnt
     * (device → native driver) across restarts.
     */
    public static EmulatedKernel open(Path sysfsRoot, Path stateFile) throws IOException {
        Path root = sysfsRoot.toAbsolutePath().normalize();
        if (!Files.isDirectory(root.resolve("sys/bus/pci/devices"))) {
            throw new NoSuchFileException(root.resolve("sys/bus/pci/devices").toString(), null,
                    "not a sysfs root: give a directory containing sys/bus/pci/devices (a copy of fixtures/sysfs/<host>)");
        }
        Map<String, String> nativeDrivers = new TreeMap<>();
        if (Files.exists(stateFile)) {
            nativeDrivers.putAll(JSON.readValue(stateFile.toFile(), new TypeReference<Map<String, String>>() { }));
        }
        EmulatedKernel k = new EmulatedKernel(root, stateFile, nativeDrivers);
        boolean learnt = false;
        for (String bdf : k.deviceNames()) {
            Optional<String> drv = k.boundDriver(bdf);
            if (drv.isPresent() && !drv.get().equals(PCIBACK) && !nativeDrivers.containsKey(bdf)) {
                nativeDrivers.put(bdf, drv.get());
                learnt = true;
            }
        }
        if (learnt || !Files.exists(stateFile)) {
            k.saveNativeDrivers();
        }
        return k;
    }

    public Path root() {
        return root;
    }

    /** Time a function reset of {@code bdf} takes (default for all devices: {@link #setDefaultResetLatency}). */
    public void setResetLatency(String bdf, Duration latency) {
        resetLatency.put(bdf, latency);
    }

    /** Time every function reset takes unless set per device; 0 by default, 100 ms is a typical FLR. */
    public void setDefaultResetLatency(Duration latency) {
        defaultResetLatency = latency;
    }

    /** Replaces the reset hook ({@link ResetHook#NONE} to remove it). */
    public void setResetHook(ResetHook hook) {
        resetHook = hook == null ? ResetHook.NONE : hook;
    }

    /**
     * Makes every requested reset of {@code bdf} (sysfs {@code reset}, pciback {@code do_flr}) fail with
     * {@code errno} after its latency, as the PCI core fails a function that does not come back; null clears it.
     * pciback's own resets on bind/unbind are not affected (pciback ignores their result).
     */
    public void failResets(String bdf, SysfsWriteException.Errno errno) {
        if (errno == null) {
            resetFailures.remove(bdf);
        } else {
            resetFailures.put(bdf, errno);
        }
    }

    /** Every function reset of {@code bdf} since this model was opened, oldest first. */
    public List<ResetEvent> resetEvents(String bdf) {
        return resetLog.stream().filter(e -> e.bdf().equals(bdf)).toList();
    }

    /**
     * {@code <state dir>/kernel-resets.log}: one {@link ResetEvent#line()} per reset, appended as it ends, across
     * restarts; the record other processes (a daemon's tests) can read.
     */
    public Path resetLogFile() {
        return resetLogFile;
    }

    /**
     * Gives pciback the {@code do_flr} file that old pciback forks had (write a BDF it holds to reset that
     * function); off by default, as in mainline. Applies now if pciback is loaded, and at every later load.
     */
    public void setPcibackDoFlr(boolean present) throws IOException {
        module.writeLock().lock();
        try {
            doFlr = present;
            Path f = drivers.resolve(PCIBACK).resolve("do_flr");
            if (pcibackLoaded()) {
                if (present) {
                    Files.write(f, new byte[0]);
                } else {
                    Files.deleteIfExists(f);
                }
            }
        } finally {
            module.writeLock().unlock();
        }
    }

    /** Function resets done on {@code bdf} since this model was opened (sysfs {@code reset} and pciback's own). */
    public long resetCount(String bdf) {
        AtomicLong n = resets.get(bdf);
        return n == null ? 0 : n.get();
    }

    // ---- sysfs writes --------------------------------------------------------------------------------

    /**
     * Writes {@code value} to the sysfs attribute {@code file} (absolute, or relative to the root) and applies
     * the kernel's reaction.
     */
    public void write(Path file, String value) throws IOException {
        module.readLock().lock();
        try {
            dispatch(file, value);
        } finally {
            module.readLock().unlock();
        }
    }

    private void dispatch(Path file, String value) throws IOException {
        Path f = file.isAbsolute() ? file.normalize() : root.resolve(file).normalize();
        if (!f.startsWith(root)) {
            throw new IllegalArgumentException(file + " is outside the sysfs root " + root);
        }
        if (!Files.exists(f)) {
            throw new NoSuchFileException(f.toString(), null, "no such sysfs attribute");
        }
        String v = value.endsWith("\n") ? value.substring(0, value.length() - 1) : value;
        String name = f.getFileName().toString();
        Path parent = f.getParent();
        if (f.equals(pci.resolve("drivers_probe"))) {
            underDeviceLock(v, () -> driversProbe(f, v));
        } else if (parent.getParent() != null && parent.getParent().equals(drivers)) {
            String driver = parent.getFileName().toString();
            switch (name) {
                case "bind" -> underDeviceLock(v, () -> bind(f, driver, v));
                case "unbind" -> underDeviceLock(v, () -> unbind(f, driver, v));
                case "new_slot" -> requirePciback(f, driver, v).newSlot(f, v);
                case "remove_slot" -> requirePciback(f, driver, v).removeSlot(f, v);
                case "permissive" -> requirePciback(f, driver, v).permissive(f, v);
                case "do_flr" -> {
                    requirePciback(f, driver, v);
                    underDeviceLock(v, () -> doFlr(f, v));
                }
                default -> throw new SysfsWriteException(f, v, EINVAL, "attribute not modelled by the emulated kernel");
            }
        } else {
            String bdf = deviceOf(f).orElseThrow(() -> new IllegalArgumentException(
                    f + " is not a device or driver attribute the emulated kernel models"));
            switch (name) {
                case "driver_override" -> underDeviceLock(bdf, () -> driverOverride(f, bdf, value));
                case "reset" -> underDeviceLock(bdf, () -> resetAttribute(f, bdf, v));
                default -> throw new SysfsWriteException(f, v, EINVAL, "attribute not modelled by the emulated kernel");
            }
        }
    }

    @FunctionalInterface
    private interface Reaction {
        void run() throws IOException;
    }

    /**
     * Runs {@code reaction} holding the lock of device {@code bdf}. A value that is not a BDF names no device
     * (the reaction refuses it), so no lock is made for it.
     */
    private void underDeviceLock(String bdf, Reaction reaction) throws IOException {
        if (SlotId.parseBdf(bdf).isEmpty()) {
            reaction.run();
            return;
        }
        ReentrantLock l = deviceLocks.computeIfAbsent(bdf, b -> new ReentrantLock());
        try {
            l.lockInterruptibly();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while waiting for device " + bdf);
        }
        try {
            reaction.run();
        } finally {
            l.unlock();
        }
    }

    private EmulatedKernel requirePciback(Path f, String driver, String v) throws SysfsWriteException {
        if (!driver.equals(PCIBACK)) {
            throw new SysfsWriteException(f, v, EINVAL, "attribute not modelled by the emulated kernel");
        }
        return this;
    }

    private void bind(Path f, String driver, String bdf) throws IOException {
        if (!isDevice(bdf)) {
            throw new SysfsWriteException(f, bdf, ENODEV, "no PCI device " + bdf);
        }
        Optional<String> current = boundDriver(bdf);
        if (current.isPresent()) {
            throw new SysfsWriteException(f, bdf, EBUSY, bdf + " is bound to " + current.get());
        }
        String refusal = probeRefusal(driver, bdf);
        if (refusal != null) {
            throw new SysfsWriteException(f, bdf, ENODEV, refusal);
        }
        attach(driver, bdf);
    }

    private void unbind(Path f, String driver, String bdf) throws IOException {
        if (!isDevice(bdf) || !boundDriver(bdf).equals(Optional.of(driver))) {
            throw new SysfsWriteException(f, bdf, ENODEV, bdf + " is not bound to " + driver);
        }
        detach(driver, bdf);
    }

    private void driversProbe(Path f, String bdf) throws IOException {
        if (!isDevice(bdf)) {
            throw new SysfsWriteException(f, bdf, ENODEV, "no PCI device " + bdf);
        }
        if (boundDriver(bdf).isPresent()) {
            return;
        }
        // Drivers in registration order: the native driver was loaded at boot, pciback later by modprobe.
        List<String> candidates = new ArrayList<>();
        String override = driverOverride(bdf);
        if (override != null) {
            candidates.add(override);
        } else {
            Optional.ofNullable(nativeDrivers.get(bdf)).ifPresent(candidates::add);
            candidates.add(PCIBACK);
        }
        for (String driver : candidates) {
            if (Files.isDirectory(drivers.resolve(driver)) && probeRefusal(driver, bdf) == null) {
                attach(driver, bdf);
                return;
            }
        }
    }

    /** Why {@code driver}'s probe would not take {@code bdf}, or null if it would. */
    private String probeRefusal(String driver, String bdf) throws IOException {
        String override = driverOverride(bdf);
        if (override != null && !override.equals(driver)) {
            return "driver_override of " + bdf + " is '" + override + "'";
        }
        if (driver.equals(PCIBACK)) {
            int header = headerType(bdf);
            if (header != 0 && header != 1) {
                return "pciback only takes header types 0 and 1; " + bdf + " has " + header;
            }
            if (!PCIBACK.equals(override) && !seizedBySlot(bdf)) {
                return bdf + " is not in pciback's slots (write it to new_slot first) and its driver_override is not pciback";
            }
            return null;
        }
        String nativeDriver = nativeDrivers.get(bdf);
        if (override == null && nativeDriver != null && !nativeDriver.equals(driver)) {
            return driver + " does not drive " + bdf + " (its driver is " + nativeDriver + ")";
        }
        return null;
    }

    private boolean seizedBySlot(String bdf) throws IOException {
        Set<SlotId> slots = lockedSlots();
        for (Path p = deviceDir(bdf); p.startsWith(root.resolve("sys/devices")); p = p.getParent()) {
            Optional<SlotId> id = SlotId.parseBdf(p.getFileName().toString());
            if (id.isPresent() && slots.contains(id.get())) {
                return true;
            }
        }
        return false;
    }

    private void attach(String driver, String bdf) throws IOException {
        Path dev = deviceDir(bdf);
        Path driverDir = drivers.resolve(driver);
        Files.createSymbolicLink(dev.resolve("driver"), dev.relativize(driverDir));
        Files.createSymbolicLink(driverDir.resolve(bdf), driverDir.relativize(dev));
        ueventDriver(dev, driver);
        if (driver.equals(PCIBACK)) {
            // pcistub_seize: a device taken through driver_override joins the slot list; then pciback resets it.
            SlotId id = SlotId.parseBdf(bdf).orElseThrow();
            if (!lockedSlots().contains(id)) { // usually new_slot put it there already
                long ticket;
                pcibackLists.lock();
                try {
                    Set<SlotId> slots = readSlots();
                    ticket = slots.add(id) ? writeSlots(slots) : 0;
                } finally {
                    pcibackLists.unlock();
                }
                slotsFile.await(ticket);
            }
            functionReset(bdf, "pciback-bind");
        }
    }

    private void detach(String driver, String bdf) throws IOException {
        Path dev = deviceDir(bdf);
        ueventDriver(dev, null);
        Files.deleteIfExists(dev.resolve("driver"));
        Files.deleteIfExists(drivers.resolve(driver).resolve(bdf));
        if (driver.equals(PCIBACK)) {
            // only this device's lock adds it to the list, and it is held: no need to lock when it is absent
            if (permissiveList().contains(bdf)) {
                pcibackLists.lock();
                try {
                    Set<String> permissive = new LinkedHashSet<>(permissiveList());
                    permissive.remove(bdf);
                    writePermissive(permissive);
                } finally {
                    pcibackLists.unlock();
                }
            }
            functionReset(bdf, "pciback-unbind");
        }
    }

    /**
     * Keeps the device's {@code uevent} as the kernel's {@code dev_uevent()} shows it: a {@code DRIVER=} line
     * exactly while a driver is bound (the PCI reader takes the driver from that line and reads the link only when
     * it is absent). Called after the link is made and before it is removed, so that even a crash between the two
     * steps never leaves a {@code DRIVER=} line without its link. A tree without {@code uevent} files keeps none.
     */
    private static void ueventDriver(Path dev, String driver) throws IOException {
        Path uevent = dev.resolve("uevent");
        String old;
        try {
            old = Files.readString(uevent, StandardCharsets.US_ASCII);
        } catch (NoSuchFileException e) {
            return;
        }
        StringBuilder b = new StringBuilder(old.length() + 32);
        if (driver != null) {
            b.append("DRIVER=").append(driver).append('\n'); // dev_uevent() prints it before the bus's variables
        }
        for (String line : old.split("\n")) {
            if (!line.isEmpty() && !line.startsWith("DRIVER=")) {
                b.append(line).append('\n');
            }
        }
        // Whole or not at all for a concurrent reader (rename); no fsync: the links beside it are not synced either.
        Path tmp = dev.resolve(".uevent.tmp");
        Files.writeString(tmp, b, StandardCharsets.US_ASCII);
        Files.move(tmp, uevent, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    private void newSlot(Path f, String spec) throws IOException {
        SlotId id = SlotId.parseSpec(spec).orElseThrow(
                () -> new SysfsWriteException(f, spec, EINVAL, "not a slot (DDDD:BB:SS.F, BB:SS.F, SS.* or *.* forms)"));
        long ticket;
        pcibackLists.lock();
        try {
            ticket = addSlots(id);
        } finally {
            pcibackLists.unlock();
        }
        slotsFile.await(ticket);
    }

    private long addSlots(SlotId id) throws IOException {
        Set<SlotId> slots = readSlots();
        int slotFrom = id.slot() < 0 ? 0 : id.slot();
        int slotTo = id.slot() < 0 ? 31 : id.slot();
        for (int s = slotFrom; s <= slotTo; s++) {
            int funcFrom = id.func() < 0 ? 0 : id.func();
            int funcTo = id.func() < 0 ? 7 : id.func();
            for (int fn = funcFrom; fn <= funcTo; fn++) {
                slots.add(new SlotId(id.domain(), id.bus(), s, fn));
            }
        }
        return writeSlots(slots);
    }

    private void removeSlot(Path f, String spec) throws IOException {
        SlotId id = SlotId.parseSpec(spec).orElseThrow(
                () -> new SysfsWriteException(f, spec, EINVAL, "not a slot (DDDD:BB:SS.F or BB:SS.F)"));
        long ticket;
        pcibackLists.lock();
        try {
            Set<SlotId> slots = readSlots();
            if (!slots.remove(id)) {
                throw new SysfsWriteException(f, spec, ENOENT, id.text() + " is not in pciback's slots");
            }
            ticket = writeSlots(slots);
        } finally {
            pcibackLists.unlock();
        }
        slotsFile.await(ticket);
    }

    private void permissive(Path f, String bdf) throws IOException {
        Optional<SlotId> id = SlotId.parseSpec(bdf);
        String canonical = id.filter(s -> s.slot() >= 0 && s.func() >= 0).map(SlotId::text).orElse(null);
        if (canonical == null) {
            throw new SysfsWriteException(f, bdf, EINVAL, "not a device address");
        }
        underDeviceLock(canonical, () -> addPermissive(f, bdf, canonical));
    }

    private void addPermissive(Path f, String bdf, String canonical) throws IOException {
        if (!boundDriver(canonical).equals(Optional.of(PCIBACK))) {
            throw new SysfsWriteException(f, bdf, ENODEV, canonical + " is not bound to pciback");
        }
        pcibackLists.lock();
        try {
            Set<String> permissive = new LinkedHashSet<>(permissiveList());
            if (permissive.add(canonical)) {
                writePermissive(permissive);
            }
        } finally {
            pcibackLists.unlock();
        }
    }

    private void driverOverride(Path f, String bdf, String raw) throws IOException {
        if (raw.length() >= 4095) {
            throw new SysfsWriteException(f, raw, EINVAL, "driver_override longer than a page");
        }
        int nl = raw.indexOf('\n');
        String v = nl >= 0 ? raw.substring(0, nl) : raw;
        Files.writeString(f, v.isEmpty() ? "(null)\n" : v + "\n");
    }

    private void resetAttribute(Path f, String bdf, String v) throws IOException {
        long n;
        try {
            n = Long.decode(v.trim());
        } catch (NumberFormatException e) {
            throw new SysfsWriteException(f, v, EINVAL, "reset takes 1");
        }
        if (n != 1) {
            throw new SysfsWriteException(f, v, EINVAL, "reset takes 1");
        }
        requestedReset(f, v, bdf, "reset");
    }

    /** Old pciback's {@code do_flr}: resets a function pciback holds. */
    private void doFlr(Path f, String bdf) throws IOException {
        if (!isDevice(bdf) || !boundDriver(bdf).equals(Optional.of(PCIBACK))) {
            throw new SysfsWriteException(f, bdf, ENODEV, "pciback does not hold " + bdf);
        }
        requestedReset(f, bdf, bdf, "do_flr");
    }

    /** A reset someone asked for: it may fail (injected), and the writer learns it. */
    private void requestedReset(Path f, String value, String bdf, String via) throws IOException {
        SysfsWriteException.Errno failure = resetFailures.get(bdf);
        functionReset(bdf, via, failure);
        if (failure != null) {
            throw new SysfsWriteException(f, value, failure, "the function did not come back from its reset");
        }
    }

    private void functionReset(String bdf, String via) throws IOException {
        functionReset(bdf, via, null);
    }

    /** A function-level reset: takes the configured time when the device has a reset method. */
    private void functionReset(String bdf, String via, SysfsWriteException.Errno failure) throws IOException {
        if (!Files.exists(deviceDir(bdf).resolve("reset"))) {
            return;
        }
        // Only this device's lock may be held here: a reset must never stall another device or a reader.
        assert !pcibackLists.isHeldByCurrentThread() : "reset of " + bdf + " inside pciback's list lock";
        Duration latency = resetLatency.getOrDefault(bdf, defaultResetLatency);
        try {
            resetHook.resetting(bdf);
            if (!latency.isZero()) {
                Thread.sleep(latency.toMillis(), latency.toNanosPart() % 1_000_000);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted during the reset of " + bdf);
        }
        if (failure == null) {
            resets.computeIfAbsent(bdf, b -> new AtomicLong()).incrementAndGet();
        }
        ResetEvent e = new ResetEvent(bdf, via, failure == null ? "ok" : failure.name());
        resetLog.add(e);
        // O_APPEND of one short line: concurrent resets of different devices do not interleave within a line
        Files.writeString(resetLogFile, e.line() + "\n", StandardCharsets.US_ASCII,
                java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
    }

    // ---- module load/unload --------------------------------------------------------------------------

    /** {@code modprobe xen-pciback}: the driver directory appears with an empty slot list. */
    public void loadPciback() throws IOException {
        module.writeLock().lock();
        try {
            createPcibackDir();
            slotCache = null;
            permissiveCache = null;
        } finally {
            module.writeLock().unlock();
        }
    }

    private void createPcibackDir() throws IOException {
        Path dir = drivers.resolve(PCIBACK);
        if (Files.isDirectory(dir)) {
            return;
        }
        Files.createDirectories(dir);
        for (String file : PCIBACK_FILES) {
            Files.write(dir.resolve(file), new byte[0]);
        }
        if (doFlr) {
            Files.write(dir.resolve("do_flr"), new byte[0]);
        }
    }

    /** {@code rmmod xen-pciback}: every bound device is released (and reset), the slot list is forgotten. */
    public void unloadPciback() throws IOException {
        module.writeLock().lock();
        try {
            removePcibackDir();
            slotCache = null;
            permissiveCache = null;
        } finally {
            module.writeLock().unlock();
        }
    }

    private void removePcibackDir() throws IOException {
        Path dir = drivers.resolve(PCIBACK);
        if (!Files.isDirectory(dir)) {
            return;
        }
        for (String bdf : deviceNames()) {
            if (boundDriver(bdf).equals(Optional.of(PCIBACK))) {
                detach(PCIBACK, bdf);
            }
        }
        try (var entries = Files.list(dir)) {
            for (Path p : (Iterable<Path>) entries::iterator) {
                Files.delete(p);
            }
        }
        Files.delete(dir);
    }

    public boolean pcibackLoaded() {
        return Files.isDirectory(drivers.resolve(PCIBACK));
    }

    // ---- reading the tree ----------------------------------------------------------------------------

    /** Every PCI device name (BDF) in {@code sys/bus/pci/devices}, sorted. */
    public List<String> deviceNames() throws IOException {
        try (var s = Files.list(pci.resolve("devices"))) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    public boolean isDevice(String bdf) {
        return SlotId.parseBdf(bdf).isPresent() && Files.exists(pci.resolve("devices").resolve(bdf));
    }

    /** The device's directory under {@code sys/devices} (the target of {@code sys/bus/pci/devices/<bdf>}). */
    public Path deviceDir(String bdf) throws IOException {
        Path known = deviceDirs.get(bdf);
        if (known != null) {
            return known;
        }
        Path link = pci.resolve("devices").resolve(bdf);
        if (Files.isSymbolicLink(link)) {
            Path dir = link.getParent().resolve(Files.readSymbolicLink(link)).normalize();
            deviceDirs.put(bdf, dir); // topology: a device's place in sys/devices does not change while it exists
            return dir;
        }
        return link;
    }

    /** The driver the device is bound to (name of the {@code driver} link's target). */
    public Optional<String> boundDriver(String bdf) throws IOException {
        Path link = deviceDir(bdf).resolve("driver");
        // access(2) through the link: false without an exception when unbound (an lstat that fails costs a
        // NoSuchFileException with its stack trace, on every bind); a driver link always leads to its driver
        if (!Files.exists(link)) {
            return Optional.empty();
        }
        try {
            return Optional.of(Files.readSymbolicLink(link).getFileName().toString());
        } catch (NoSuchFileException | java.nio.file.NotLinkException e) {
            return Optional.empty(); // unbound between the two calls (no device lock held by this reader)
        }
    }

    /** The device's driver_override, or null when unset ({@code (null)}). */
    public String driverOverride(String bdf) throws IOException {
        Path f = deviceDir(bdf).resolve("driver_override");
        if (!Files.exists(f)) {
            return null;
        }
        String v = Files.readString(f).strip();
        return v.isEmpty() || v.equals("(null)") ? null : v;
    }

    /** The driver a device had when the model first saw it bound, if any. */
    public Optional<String> nativeDriver(String bdf) {
        return Optional.ofNullable(nativeDrivers.get(bdf));
    }

    private int headerType(String bdf) throws IOException {
        Integer known = headerTypes.get(bdf);
        if (known != null) {
            return known;
        }
        Path config = deviceDir(bdf).resolve("config");
        if (!Files.exists(config)) {
            return 0;
        }
        byte[] b = Files.readAllBytes(config);
        int type = b.length > 0x0e ? b[0x0e] & 0x7f : 0;
        headerTypes.put(bdf, type); // read-only config space in this model: the header type never changes
        return type;
    }

    private Optional<String> deviceOf(Path f) {
        Path devicesLinks = pci.resolve("devices");
        if (f.startsWith(devicesLinks) && f.getNameCount() == devicesLinks.getNameCount() + 2) {
            return Optional.of(f.getParent().getFileName().toString());
        }
        if (f.startsWith(root.resolve("sys/devices"))) {
            String dir = f.getParent().getFileName().toString();
            return SlotId.parseBdf(dir).map(x -> dir);
        }
        return Optional.empty();
    }

    /**
     * The slot list as last written, read without a lock: the {@code slots} file is the state on disk (it survives
     * restarts), and this immutable copy is replaced with each write, so readers never parse the file nor wait for a
     * writer. Loaded from the file on first use after open, load or unload.
     */
    private Set<SlotId> lockedSlots() throws IOException {
        Set<SlotId> cached = slotCache;
        if (cached != null) {
            return cached;
        }
        pcibackLists.lock();
        try {
            if (slotCache == null) {
                Set<SlotId> out = new LinkedHashSet<>();
                for (String line : Files.readAllLines(drivers.resolve(PCIBACK).resolve("slots"))) {
                    SlotId.parseSpec(line).ifPresent(out::add);
                }
                slotCache = java.util.Collections.unmodifiableSet(out);
            }
            return slotCache;
        } finally {
            pcibackLists.unlock();
        }
    }

    /** A modifiable copy of the slot list, for a read-modify-write under {@link #pcibackLists}. */
    private Set<SlotId> readSlots() throws IOException {
        return new LinkedHashSet<>(lockedSlots());
    }

    /**
     * Publishes the new list to readers and queues it for the file; called holding {@link #pcibackLists}. The
     * caller passes the ticket to {@code slotsFile.await} after releasing the lock (the write is shared with other
     * devices' changes and never done under the lock).
     */
    private long writeSlots(Set<SlotId> slots) {
        Set<SlotId> copy = java.util.Collections.unmodifiableSet(new LinkedHashSet<>(slots));
        slotCache = copy;
        return slotsFile.publish(copy);
    }

    private void persistSlots(Set<SlotId> slots) throws IOException {
        List<String> lines = new ArrayList<>();
        for (SlotId s : slots) {
            lines.add(s.text());
        }
        writeLines(drivers.resolve(PCIBACK).resolve("slots"), lines);
    }

    /** pciback's permissive list, like {@link #lockedSlots}: an immutable copy beside the file, read without a lock. */
    private Set<String> permissiveList() throws IOException {
        Set<String> cached = permissiveCache;
        if (cached != null) {
            return cached;
        }
        pcibackLists.lock();
        try {
            if (permissiveCache == null) {
                permissiveCache = java.util.Collections.unmodifiableSet(new LinkedHashSet<>(
                        Files.readAllLines(drivers.resolve(PCIBACK).resolve("permissive")).stream()
                                .filter(s -> !s.isBlank()).toList()));
            }
            return permissiveCache;
        } finally {
            pcibackLists.unlock();
        }
    }

    /** Rare (permissive devices only), so written in place under {@link #pcibackLists}. */
    private void writePermissive(Set<String> permissive) throws IOException {
        writeLines(drivers.resolve(PCIBACK).resolve("permissive"), permissive);
        permissiveCache = java.util.Collections.unmodifiableSet(new LinkedHashSet<>(permissive));
    }

    private static void writeLines(Path file, Iterable<String> lines) throws IOException {
        StringBuilder b = new StringBuilder();
        for (String l : lines) {
            b.append(l).append('\n');
        }
        Files.writeString(file, b.toString(), StandardCharsets.US_ASCII);
    }

    /** True if pciback's slot list names {@code bdf} itself (not through a wildcard or a parent bridge). */
    public boolean inSlots(String bdf) throws IOException {
        Optional<SlotId> id = SlotId.parseBdf(bdf);
        return id.isPresent() && pcibackLoaded() && lockedSlots().contains(id.get());
    }

    /** The BDFs in pciback's slot list ({@code slots}), empty when pciback is not loaded. */
    public List<String> slots() throws IOException {
        if (!pcibackLoaded()) {
            return List.of();
        }
        return lockedSlots().stream().map(SlotId::text).toList();
    }

    private void saveNativeDrivers() throws IOException {
        Files.createDirectories(nativeDriversFile.toAbsolutePath().getParent());
        AtomicFiles.write(nativeDriversFile, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(nativeDrivers));
    }

}
