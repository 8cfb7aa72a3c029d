package org.xenhost.emulator;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenhost.emulator.domain.EmulatedDomain;
import org.xenhost.emulator.kernel.EmulatedKernel;
import org.xenhost.emulator.xenstore.Xenstore;
import org.xenhost.libxl.DomainType;
import org.xenhost.libxl.LibxlDevicePci;
import org.xenhost.libxl.LibxlError;
import org.xenhost.libxl.LibxlException;
import org.xenhost.libxl.RdmPolicy;

/**
 * libxl's PCI passthrough recipes ({@code libxl_pci.c}, Xen 4.17) carried out step by step on the emulated
 * kernel's sysfs tree, the emulated xenstore and the hypervisor's assignment table, with libxl's error codes.
 * The sysfs paths written are the host's ({@code /sys/bus/pci/...}) mapped under the emulated sysfs root.
 *
 * <p>Locking (lock order top to bottom; no global lock):
 * <pre>
 *   device (per BDF)      a whole add/remove of one device, its resets included; different devices in parallel
 *   backend (per domid)   short: the domain's PCI backend entries, guest slot choice, IOMMU assignment, "dying"
 *   kernel / xenstore / assignment table: their own short locks (the kernel's per-device lock for a reset)
 * </pre>
 * Lists take no lock here. A domain being destroyed is marked dying under its backend lock before its devices are
 * listed for removal, so an attach racing with the destroy either lands before the list or is refused.
 */
final class LibxlPciOps {
    private static final Logger LOG = LoggerFactory.getLogger(LibxlPciOps.class);
    private static final String PCIBACK = "sys/bus/pci/drivers/pciback";

    private final EmulatedHypervisor hv;
    private final EmulatedKernel kernel;
    private final Map<String, ReentrantLock> deviceLocks = new ConcurrentHashMap<>();
    private final Map<Integer, ReentrantLock> backendLocks = new ConcurrentHashMap<>();
    private final Map<EmulatedDomain, Boolean> dying = new ConcurrentHashMap<>();

    LibxlPciOps(EmulatedHypervisor hv, EmulatedKernel kernel) {
        this.hv = hv;
        this.kernel = kernel;
    }

    private Xenstore xs() {
        return hv.xenstore();
    }

    @FunctionalInterface
    private interface Locked<T> {
        T run() throws LibxlException;
    }

    private static <T> T holding(ReentrantLock l, String what, Locked<T> body) throws LibxlException {
        try {
            l.lockInterruptibly();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LibxlException(LibxlError.FAIL, "interrupted while waiting to " + what);
        }
        try {
            return body.run();
        } finally {
            l.unlock();
        }
    }

    /** Runs {@code body} holding {@code bdf}'s lock: one operation per device at a time, resets included. */
    private <T> T onDevice(String bdf, String what, Locked<T> body) throws LibxlException {
        return holding(deviceLocks.computeIfAbsent(bdf, b -> new ReentrantLock()), what + " " + bdf, body);
    }

    /** Runs {@code body} holding the short lock of domain {@code domid}'s PCI backend. */
    private <T> T onBackend(int domid, String what, Locked<T> body) throws LibxlException {
        return holding(backendLocks.computeIfAbsent(domid, d -> new ReentrantLock()), what, body);
    }

    private EmulatedKernel kernel(String what) throws LibxlException {
        if (kernel == null) {
            throw new LibxlException(LibxlError.FAIL, what + ": this emulated host was opened without a sysfs tree");
        }
        return kernel;
    }

    // ---- libxl__device_pci_reset (xen-facts 1.1, 3) ------------------------------------------------------

    /**
     * libxl's reset recipe, exposed: pciback's {@code do_flr} for a function pciback holds when the kernel has
     * that file, else {@code 1} to the function's {@code reset}. Holds only this device's lock (here and, for
     * the reset itself, the kernel's), so resets of different devices run in parallel.
     */
    void reset(LibxlDevicePci pci) throws LibxlException {
        String bdf = pci.bdf();
        EmulatedKernel k = kernel("reset " + bdf);
        onDevice(bdf, "reset", () -> {
            lockedReset(k, bdf);
            return null;
        });
    }

    private static void lockedReset(EmulatedKernel k, String bdf) throws LibxlException {
        if (!k.isDevice(bdf)) {
            throw new LibxlException(LibxlError.FAIL, "reset " + bdf + ": there is no /sys/bus/pci/devices/" + bdf
                    + " (no such PCI device on this host)");
        }
        try {
            Path doFlr = k.root().resolve(PCIBACK).resolve("do_flr");
            if (Files.exists(doFlr) && k.boundDriver(bdf).equals(Optional.of(EmulatedKernel.PCIBACK))) {
                k.write(doFlr, bdf);
                return;
            }
            Path reset = k.deviceDir(bdf).resolve("reset");
            if (!Files.exists(reset)) {
                throw new LibxlException(LibxlError.FAIL, "reset " + bdf + ": " + reset + " does not exist: the "
                        + "kernel doesn't support reset from sysfs for this PCI device (it has no reset method)");
            }
            k.write(reset, "1");
        } catch (IOException e) {
            // SysfsWriteException's message names the file, the value and the errno text
            throw new LibxlException(LibxlError.FAIL, "reset " + bdf + ": " + e.getMessage(), e);
        }
    }

    /** libxl resets a function around attach and detach but goes on whatever the reset says. */
    private static void resetIgnoringFailure(EmulatedKernel k, String bdf) {
        try {
            lockedReset(k, bdf);
        } catch (LibxlException e) {
            LOG.warn("{}", e.getMessage());
        }
    }

    // ---- libxl_device_pci_assignable_add (xen-facts 1.2) -------------------------------------------------

    void assignableAdd(LibxlDevicePci pci, boolean rebind) throws LibxlException {
        onDevice(pci.bdf(), "assignable-add", () -> {
            lockedAssignableAdd(pci, rebind);
            return null;
        });
    }

    private void lockedAssignableAdd(LibxlDevicePci pci, boolean rebind) throws LibxlException {
        String bdf = pci.bdf();
        EmulatedKernel k = kernel("assignable-add " + bdf);
        // 1. name
        if (pci.name() != null && (pci.name().length() > 64 || !pci.name().chars().allMatch(c -> c > 0x20 && c < 0x7f))) {
            throw new LibxlException(LibxlError.FAIL, "assignable-add " + bdf + ": name '" + pci.name()
                    + "' must be at most 64 printable characters without spaces");
        }
        String key = PciBackendStore.libxlPci(pci);
        try {
            // 2. the device exists
            if (!k.isDevice(bdf)) {
                throw new LibxlException(LibxlError.FAIL, "Couldn't lstat /sys/bus/pci/devices/" + bdf
                        + ": no such PCI device on this host");
            }
            // 3. pciback loaded; already bound is fine (idempotent)
            requirePciback(k, "assignable-add " + bdf);
            Optional<String> driver = k.boundDriver(bdf); // this thread holds the device: it stays as read
            if (driver.filter(EmulatedKernel.PCIBACK::equals).isPresent()) {
                LOG.warn("{} already assigned to pciback", bdf);
            } else {
                // 4. unbind the dom0 driver
                if (driver.isPresent()) {
                    try {
                        k.write(Path.of("sys/bus/pci/drivers", driver.get(), "unbind"), bdf);
                    } catch (IOException e) {
                        throw new LibxlException(LibxlError.FAIL, "Couldn't unbind " + bdf + " from driver "
                                + driver.get() + ": " + e.getMessage(), e);
                    }
                }
                // 5. remember (or forget) the driver to give it back later
                if (rebind) {
                    if (driver.isPresent()) {
                        xs().write(key + "/driver_path", "/sys/bus/pci/drivers/" + driver.get());
                    } else if (!xs().exists(key + "/driver_path")) {
                        LOG.warn("{} not bound to a driver, will not be rebound", bdf);
                    }
                } else {
                    xs().rm(key + "/driver_path");
                }
                // 6. seize and bind
                try {
                    if (!k.inSlots(bdf)) {
                        k.write(Path.of(PCIBACK, "new_slot"), bdf);
                    }
                    k.write(Path.of(PCIBACK, "bind"), bdf);
                } catch (IOException e) {
                    throw new LibxlException(LibxlError.FAIL, "Couldn't bind device " + bdf + " to pciback!: "
                            + e.getMessage(), e);
                }
            }
            // 7. name
            if (pci.name() != null) {
                xs().write(key + "/name", pci.name());
            } else {
                xs().rm(key + "/name");
            }
            // 8. quarantine
            if (hv.assignDevice(EmulatedHypervisor.DOMID_IO, bdf) < 0) {
                throw new LibxlException(LibxlError.FAIL, "failed to quarantine " + bdf + ": assigned to domain "
                        + hv.assignedTo(bdf).orElse(-1));
            }
        } catch (IOException e) {
            throw new LibxlException(LibxlError.FAIL, "assignable-add " + bdf + ": " + e.getMessage(), e);
        }
    }

    // ---- libxl_device_pci_assignable_remove (1.3) ---------------------------------------------------------

    void assignableRemove(LibxlDevicePci given, boolean rebind) throws LibxlException {
        EmulatedKernel k = kernel("assignable-remove");
        // 1. resolve a name
        LibxlDevicePci pci = resolveName(given);
        onDevice(pci.bdf(), "assignable-remove", () -> {
            lockedAssignableRemove(k, pci, rebind);
            return null;
        });
    }

    private void lockedAssignableRemove(EmulatedKernel k, LibxlDevicePci pci, boolean rebind) throws LibxlException {
        String bdf = pci.bdf();
        String key = PciBackendStore.libxlPci(pci);
        try {
            // 2. out of quarantine
            if (hv.deassignDevice(EmulatedHypervisor.DOMID_IO, bdf) < 0) {
                throw new LibxlException(LibxlError.FAIL, "failed to de-quarantine " + bdf + ": "
                        + hv.assignedTo(bdf).map(d -> "assigned to domain " + d).orElse("not quarantined"));
            }
            // 3. off pciback
            if (k.pcibackLoaded() && k.boundDriver(bdf).filter(EmulatedKernel.PCIBACK::equals).isPresent()) {
                try {
                    k.write(Path.of(PCIBACK, "unbind"), bdf);
                    if (k.inSlots(bdf)) {
                        k.write(Path.of(PCIBACK, "remove_slot"), bdf);
                    }
                } catch (IOException e) {
                    throw new LibxlException(LibxlError.FAIL, "Couldn't unbind " + bdf + " from pciback: "
                            + e.getMessage(), e);
                }
            } else {
                LOG.warn("{} not bound to pciback", bdf);
            }
            // 4. give the original driver back
            Optional<String> driverPath = xs().read(key + "/driver_path");
            if (rebind) {
                if (driverPath.isPresent()) {
                    String rel = driverPath.get();
                    int skip = 0;
                    while (skip < rel.length() && rel.charAt(skip) == '/') {
                        skip++; // relative to the emulated sysfs root (no regex: this runs per device)
                    }
                    rel = rel.substring(skip);
                    try {
                        k.write(Path.of(rel, "bind"), bdf);
                    } catch (IOException e) {
                        // libxl returns a bare -1 here, not one of its codes
                        throw new LibxlException(-1, "Couldn't bind device " + bdf + " to " + driverPath.get()
                                + ": " + e.getMessage());
                    }
                    xs().rm(key + "/driver_path");
                } else {
                    LOG.warn("Couldn't find path for original driver of {}; not rebinding", bdf);
                }
            }
            // 5. name
            xs().rm(key + "/name");
        } catch (IOException e) {
            throw new LibxlException(LibxlError.FAIL, "assignable-remove " + bdf + ": " + e.getMessage(), e);
        }
    }

    // ---- libxl_device_pci_assignable_list (1.4) -----------------------------------------------------------

    List<LibxlDevicePci> assignableList() throws LibxlException {
        EmulatedKernel k = kernel("assignable-list");
        List<LibxlDevicePci> out = new ArrayList<>();
        Path dir = k.root().resolve(PCIBACK);
        if (!Files.isDirectory(dir)) {
            LOG.error("Looks like pciback driver not loaded");
            return out;
        }
        Map<String, String> tree = xs().snapshot();
        try (var entries = Files.list(dir)) {
            for (Path p : (Iterable<Path>) entries.sorted()::iterator) {
                Optional<LibxlDevicePci> pci = parseBdf(p.getFileName().toString());
                if (pci.isEmpty()) {
                    continue;
                }
                String key = PciBackendStore.libxlPci(pci.get());
                if (tree.containsKey(key + "/domid")) {
                    continue;
                }
                out.add(pci.get().withName(tree.get(key + "/name")));
            }
        } catch (IOException e) {
            throw new LibxlException(LibxlError.FAIL, "Couldn't open " + dir + ": " + e.getMessage(), e);
        }
        return out;
    }

    // ---- libxl_device_pci_add (1.5) ---------------------------------------------------------------------

    void pciAdd(EmulatedDomain dom, LibxlDevicePci given, boolean hotplug) throws LibxlException {
        EmulatedKernel k = kernel("pci-attach");
        // 1. resolve a name
        LibxlDevicePci resolved = resolveName(given);
        onDevice(resolved.bdf(), "pci-attach", () -> {
            lockedPciAdd(k, dom, resolved, hotplug);
            return null;
        });
    }

    private void lockedPciAdd(EmulatedKernel k, EmulatedDomain dom, LibxlDevicePci resolved, boolean hotplug)
            throws LibxlException {
        int domid = dom.domid();
        LibxlDevicePci pci = resolved;
        String bdf = pci.bdf();
        String key = PciBackendStore.libxlPci(pci);
        boolean hvm = dom.config().type() == DomainType.HVM;
        if (!dom.config().passthroughEnabled()) {
            // Xen gives a domain an IOMMU context only when it is created with passthrough on (libxl does that by
            // itself when pcidevs is non-empty); a device for any other domain fails in xc_assign_device
            throw new LibxlException(LibxlError.FAIL, "libxl_pci.c: Domain " + domid + ":xc_assign_device failed: "
                    + "Operation not supported (the domain was created without passthrough; set "
                    + "passthrough=\"enabled\" or list a device in its config)");
        }
        Deque<Undo> undo = new ArrayDeque<>();
        try {
            // 2. HVM: can the IOMMU take it?
            if (hvm) {
                if (!Files.isDirectory(k.root().resolve("sys/kernel/iommu_groups"))) {
                    throw new LibxlException(LibxlError.FAIL, "PCI device " + bdf + " cannot be assigned - no IOMMU?");
                }
                Optional<Integer> owner = hv.assignedTo(bdf);
                if (owner.isPresent() && owner.get() != EmulatedHypervisor.DOMID_IO && owner.get() != domid) {
                    throw new LibxlException(LibxlError.FAIL, "PCI device " + bdf
                            + " already assigned to a different guest?");
                }
            }
            // 3. default policy
            if (pci.rdmPolicy() == RdmPolicy.INVALID) {
                pci = new LibxlDevicePci(pci.domain(), pci.bus(), pci.dev(), pci.func(), pci.vdevfn(),
                        pci.vfuncMask(), pci.msitranslate(), pci.powerMgmt(), pci.permissive(), pci.seize(),
                        RdmPolicy.STRICT, pci.name());
            }
            // 4. seize (this thread already holds the device's lock)
            if (pci.seize() && !k.boundDriver(bdf).filter(EmulatedKernel.PCIBACK::equals).isPresent()) {
                lockedAssignableAdd(pci.withName(null), true);
            }
            // 5. assignable?
            final String target = bdf;
            if (assignableList().stream().noneMatch(d -> d.bdf().equals(target))) {
                throw new LibxlException(LibxlError.FAIL, "PCI device " + bdf + " is not assignable");
            }
            // 9 (checked before bookkeeping). multi-function: vslot required, every function on pciback
            if (pci.allFunctions()) {
                if ((pci.vdevfn() >>> 3) == 0) {
                    throw new LibxlException(LibxlError.INVAL, "Must specify a v-slot for multi-function devices");
                }
                for (String other : k.deviceNames()) {
                    if (other.startsWith(bdf.substring(0, bdf.length() - 1))
                            && !k.boundDriver(other).filter(EmulatedKernel.PCIBACK::equals).isPresent()) {
                        throw new LibxlException(LibxlError.FAIL, "PCI device " + other
                                + " (function of " + bdf + ") is not assignable");
                    }
                }
            }
            // 6. in use
            xs().write(key + "/domid", Integer.toString(domid));
            undo.push(() -> xs().rm(key + "/domid"));
            // 7. reset (libxl's one recipe, as pciReset runs it); the result is ignored, as libxl does
            resetIgnoringFailure(k, bdf);
            // 11. permissive, then (10, 11) under the domain's backend lock: guest slot, IOMMU, backend
            if (pci.permissive()) {
                try {
                    k.write(Path.of(PCIBACK, "permissive"), bdf);
                } catch (IOException e) {
                    throw new LibxlException(LibxlError.FAIL, "Setting permissive for device " + bdf + ": "
                            + e.getMessage(), e);
                }
            }
            final LibxlDevicePci chosen = pci;
            onBackend(domid, "record " + bdf + " in domain " + domid + "'s PCI backend", () -> {
                if (dying.containsKey(dom) || hv.domain(domid).orElse(null) != dom) {
                    throw new LibxlException(LibxlError.FAIL, "pci-attach " + bdf + ": domain " + domid
                            + " is being destroyed");
                }
                // 10. device model: the emulated QEMU takes the device; it picks a guest slot when none was given
                LibxlDevicePci added = hvm && chosen.vdevfn() == 0
                        ? chosen.withVdevfn(freeGuestSlot(domid) << 3) : chosen;
                try {
                    if (hv.assignDevice(domid, bdf) < 0) {
                        throw new LibxlException(LibxlError.FAIL, "xc_assign_device failed for " + bdf
                                + ": assigned to domain " + hv.assignedTo(bdf).orElse(-1));
                    }
                    undo.push(() -> hv.deassignDevice(domid, bdf));
                    xs().transaction(tx -> PciBackendStore.add(tx, domid, dom.name(), added, hotplug));
                } catch (IOException e) {
                    throw new LibxlException(LibxlError.FAIL, "pci-attach " + bdf + " to domain " + domid + ": "
                            + e.getMessage(), e);
                }
                return null;
            });
        } catch (IOException e) {
            unwind(undo, bdf);
            throw new LibxlException(LibxlError.FAIL, "pci-attach " + bdf + " to domain " + domid + ": "
                    + e.getMessage(), e);
        } catch (LibxlException | RuntimeException e) {
            unwind(undo, bdf);
            throw e;
        }
    }

    private int freeGuestSlot(int domid) {
        List<LibxlDevicePci> present = PciBackendStore.list(xs().snapshot(), domid);
        for (int slot = 4; slot < 32; slot++) {
            final int s = slot;
            if (present.stream().noneMatch(d -> (d.vdevfn() >>> 3) == s)) {
                return slot;
            }
        }
        return 31;
    }

    // ---- libxl_device_pci_remove / _destroy (1.6) ---------------------------------------------------------

    void pciRemove(EmulatedDomain dom, LibxlDevicePci given, boolean force) throws LibxlException {
        LibxlDevicePci pci = resolveName(given);
        onDevice(pci.bdf(), "pci-detach", () -> {
            lockedPciRemove(dom, pci);
            return null;
        });
    }

    private void lockedPciRemove(EmulatedDomain dom, LibxlDevicePci pci) throws LibxlException {
        int domid = dom.domid();
        String bdf = pci.bdf();
        // 2. attached?
        Optional<LibxlDevicePci> attached = pciList(domid).stream().filter(d -> d.bdf().equals(bdf)).findFirst();
        if (attached.isEmpty()) {
            throw new LibxlException(LibxlError.INVAL, "PCI device " + bdf + " is not attached to domain " + domid);
        }
        // 3. the emulated device model lets go at once. 4. reset the function (only the device's lock is held)
        if ((attached.get().vdevfn() & 7) == 0 && kernel != null) {
            resetIgnoringFailure(kernel, bdf);
        }
        onBackend(domid, "remove " + bdf + " from domain " + domid + "'s PCI backend", () -> {
            try {
                // back to quarantine
                if (hv.deassignDevice(domid, bdf) < 0) {
                    LOG.warn("xc_deassign_device failed for {} (domain {})", bdf, domid);
                }
                // 5. backend, 6. no longer in use
                xs().transaction(tx -> {
                    PciBackendStore.remove(tx, domid, bdf);
                    tx.rm(PciBackendStore.libxlPci(pci) + "/domid");
                });
            } catch (IOException e) {
                throw new LibxlException(LibxlError.FAIL, "pci-detach " + bdf + " from domain " + domid + ": "
                        + e.getMessage(), e);
            }
            return null;
        });
    }

    /**
     * libxl__device_pci_destroy_all: every device of a dying domain, forced. From here on the domain takes no new
     * device; {@link #forget} once it is unregistered.
     */
    void destroyAll(EmulatedDomain dom) {
        try {
            onBackend(dom.domid(), "mark domain " + dom.domid() + " dying", () -> dying.put(dom, Boolean.TRUE));
        } catch (LibxlException e) {
            LOG.warn("marking domain {} dying: {}", dom.domid(), e.getMessage());
            dying.put(dom, Boolean.TRUE);
        }
        for (LibxlDevicePci d : pciList(dom.domid())) {
            try {
                pciRemove(dom, d, true);
            } catch (LibxlException e) {
                LOG.warn("detaching {} from dying domain {}: {}", d.bdf(), dom.domid(), e.getMessage());
            }
        }
        for (String bdf : hv.devicesOf(dom.domid())) {
            try {
                hv.deassignDevice(dom.domid(), bdf);
            } catch (IOException e) {
                LOG.warn("deassigning {} from dying domain {}: {}", bdf, dom.domid(), e.toString());
            }
        }
    }

    /** The destroyed domain is unregistered: nothing more to remember about it. */
    void forget(EmulatedDomain dom) {
        dying.remove(dom);
        backendLocks.remove(dom.domid());
    }

    List<LibxlDevicePci> pciList(int domid) {
        return PciBackendStore.list(xs().snapshot(), domid);
    }

    private LibxlDevicePci resolveName(LibxlDevicePci pci) throws LibxlException {
        if (pci.name() == null) {
            return pci;
        }
        Map<String, String> tree = xs().snapshot();
        for (String dev : xs().directory("/libxl/pci")) {
            if (pci.name().equals(tree.get("/libxl/pci/" + dev + "/name"))) {
                String[] p = dev.split("-");
                return new LibxlDevicePci(Integer.parseInt(p[0], 16), Integer.parseInt(p[1], 16),
                        Integer.parseInt(p[2], 16), Integer.parseInt(p[3], 16), pci.vdevfn(), pci.vfuncMask(),
                        pci.msitranslate(), pci.powerMgmt(), pci.permissive(), pci.seize(), pci.rdmPolicy(), pci.name());
            }
        }
        throw new LibxlException(LibxlError.NOTFOUND, "no PCI device is named '" + pci.name() + "'");
    }

    private static void requirePciback(EmulatedKernel k, String what) throws LibxlException {
        if (!k.pcibackLoaded()) {
            throw new LibxlException(LibxlError.FAIL, what + ": Looks like pciback driver not loaded "
                    + "(modprobe xen-pciback)");
        }
    }

    static Optional<LibxlDevicePci> parseBdf(String s) {
        if (!s.matches("[0-9a-f]{4}:[0-9a-f]{2}:[01][0-9a-f]\\.[0-7]")) {
            return Optional.empty();
        }
        int dev = Integer.parseInt(s.substring(8, 10), 16);
        if (dev > 0x1f) {
            return Optional.empty();
        }
        return Optional.of(LibxlDevicePci.of(Integer.parseInt(s.substring(0, 4), 16),
                Integer.parseInt(s.substring(5, 7), 16), dev, s.charAt(11) - '0'));
    }

    @FunctionalInterface
    private interface Undo {
        void run() throws IOException;
    }

    private static void unwind(Deque<Undo> undo, String bdf) {
        while (!undo.isEmpty()) {
            try {
                undo.pop().run();
            } catch (IOException | RuntimeException e) {
                LOG.warn("undoing a step of pci-attach {}: {}", bdf, e.toString());
            }
        }
    }
}
