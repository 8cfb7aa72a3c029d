package org.xenhost.pci;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import static org.xenhost.pci.SysfsText.basename;
import static org.xenhost.pci.SysfsText.decimal;
import static org.xenhost.pci.SysfsText.hex;
import static org.xenhost.pci.SysfsText.parent;
import static org.xenhost.pci.SysfsText.printable;
import static org.xenhost.pci.SysfsText.resolve;
import static org.xenhost.pci.SysfsText.words;

/**
 * Reads the host's PCI functions from a sysfs root: {@code <root>/sys/bus/pci/devices/*} and the kernel objects
 * they link to ({@code sys/devices/pci…}, {@code sys/kernel/iommu_groups}, {@code sys/bus/pci/drivers}).
 * The root is {@code /} on a real host and a fixture directory in tests; nothing outside it is read.
 *
 * <p>Sysfs is live: a function can vanish between listing and reading (hot-unplug, VFs disabled), and a fixture
 * can hold anything. Such trouble becomes a warning on the function concerned; a scan never throws for content.
 *
 * <p>Cost per function is kept to system calls that cannot be avoided: the device directory is opened once and
 * each attribute is read by name with one {@code read}; optional attributes are simply tried (a missing file is a
 * return code, not an exception); the bridge chain comes from the bus link's text, not from a realpath; during a
 * {@link #scan()} IOMMU group peers come from the functions' own {@code iommu_group} links, not from listing groups,
 * and the groups that exist come from one listing of {@code sys/kernel/iommu_groups}. Vendor, device, class and
 * subsystem IDs come from the function's {@code uevent} (one read: the kernel prints the same {@code pci_dev} fields
 * there as in the separate attribute files, fixups included); the attribute files are read when {@code uevent} is
 * missing or malformed. What config space proves absent is not asked for: no {@code sriov_totalvfs} for a function
 * without an SR-IOV capability, no {@code reset} lookup when {@code reset_method} lists a method (the kernel shows
 * both or neither). A scan of many functions is spread over a few threads.
 *
 * <p>Instances are immutable and thread-safe; each scan carries its own buffers.
 */
public final class SysfsPciReader {
    private final Path root;
    private final String devicesDir;
    private final String sysDevicesPrefix;
    private final String iommuGroupsDir;
    private final SysfsIo io;
    private final ScanHook hook;
    private final int threads;

    /** Functions a worker takes at a time; scans below two blocks stay on the calling thread. */
    private static final int BLOCK = 64;
    /** Sysfs reads are kernel work: threads beyond the CPUs (or a handful) only queue up on the same locks. */
    private static final int MAX_THREADS = Math.min(4, Runtime.getRuntime().availableProcessors());
    private static volatile ExecutorService pool;

    /**
     * Test seam: runs between the steps of a scan, so a test can remove or alter a device deterministically at
     * the moment a real hot-unplug would race with the reader. {@link #afterOpen} runs on whichever thread reads
     * the function (a scan of many functions uses several).
     */
    interface ScanHook {
        ScanHook NONE = new ScanHook() {
        };

        /** After {@code sys/bus/pci/devices} has been listed, before any device is read. */
        default void afterEnumeration(List<String> names) {
        }

        /** After the device directory has been opened, before its attributes are read. */
        default void afterOpen(PciAddress address, String deviceDir) {
        }
    }

    /**
     * A reader over {@code root}.
     *
     * @throws IllegalArgumentException if {@code root} has no {@code sys/bus/pci/devices} directory
     */
    public SysfsPciReader(Path root) {
        this(root, SysfsIo.best(), ScanHook.NONE, 0);
    }

    /**
     * A reader over {@code root} whose {@link #scan()} uses at most {@code threads} threads (the calling thread
     * included); 0 chooses from the CPU count (at most 4), 1 reads on the calling thread only.
     *
     * @throws IllegalArgumentException if {@code root} has no {@code sys/bus/pci/devices} directory, or
     *                                  {@code threads} is negative
     */
    public SysfsPciReader(Path root, int threads) {
        this(root, SysfsIo.best(), ScanHook.NONE, threads);
    }

    /** Reader over the host's own sysfs ({@code /}). */
    public static SysfsPciReader ofHost() {
        return new SysfsPciReader(Path.of("/"));
    }

    SysfsPciReader(Path root, SysfsIo io, ScanHook hook) {
        this(root, io, hook, 0);
    }

    SysfsPciReader(Path root, SysfsIo io, ScanHook hook, int threads) {
        if (threads < 0) {
            throw new IllegalArgumentException("threads must be 0 (automatic) or a positive count, not " + threads);
        }
        Path abs = root.toAbsolutePath().normalize();
        Path devices = abs.resolve("sys/bus/pci/devices");
        if (!Files.isDirectory(devices)) {
            throw new IllegalArgumentException("'" + root + "' is not a sysfs root: expected a directory containing "
                    + "sys/bus/pci/devices (such as / or fixtures/sysfs/<host>), but " + devices + " is not a directory");
        }
        String prefix = abs.toString().equals("/") ? "" : abs.toString();
        this.root = abs;
        this.devicesDir = prefix + "/sys/bus/pci/devices";
        this.sysDevicesPrefix = prefix + "/sys/devices/";
        this.iommuGroupsDir = prefix + "/sys/kernel/iommu_groups";
        this.io = io;
        this.hook = hook;
        this.threads = threads == 0 ? MAX_THREADS : threads;
    }

    /** The sysfs root this reader reads below. */
    public Path root() {
        return root;
    }

    /** Reads every function, in address order. */
    public PciInventory scan() {
        String[] names = io.list(devicesDir);
        if (names == null) {
            return new PciInventory(List.of(), List.of("cannot list " + devicesDir + ": " + SysfsIo.describe(io.lastError())));
        }
        hook.afterEnumeration(List.of(names));
        // A large scan lists sys/kernel/iommu_groups on a helper thread while this one sorts the entries out.
        Scan scan = new Scan(workers(names.length) > 1);
        List<String> warnings = new ArrayList<>();
        List<PciAddress> addresses = new ArrayList<>(names.length);
        for (String name : names) {
            PciAddress a = PciAddress.parseOrNull(name);
            // The kernel always names entries DDDD:BB:DD.F; a short form would be a different file for the same device.
            if (a == null || !a.toString().equals(name)) {
                warnings.add("ignored " + devicesDir + "/" + name + ": not a PCI address (expected DDDD:BB:DD.F)");
            } else {
                addresses.add(a);
            }
        }
        Collections.sort(addresses);
        String[] dirs = new String[addresses.size()];
        PciDevice[] read = readAll(scan, addresses, dirs);
        Map<Integer, List<PciAddress>> groups = new HashMap<>();
        Map<PciAddress, PciAddress> claims = physfnClaims(read);
        for (PciDevice d : read) {
            if (d.iommuGroup() != null) {
                groups.computeIfAbsent(d.iommuGroup(), g -> new ArrayList<>(2)).add(d.address());
            }
        }
        PciDevice[] devices = read.clone();
        inParallel(read.length, () -> io.open(sysDevicesPrefix), (base, i) -> {
            PciDevice d = read[i];
            // Peers from the functions' own links: the same membership the group directories list, without listing them.
            List<PciAddress> peers = d.iommuGroupPeers();
            if (d.iommuGroup() != null) {
                List<PciAddress> members = groups.get(d.iommuGroup());
                if (members.size() > 1) {
                    peers = new ArrayList<>(members);
                    peers.remove(d.address());
                }
            }
            PciAddress physfn = claims.get(d.address());
            List<String> more = List.of();
            if (physfn == null && dirs[i] != null) {
                List<String> w = new ArrayList<>(1);
                physfn = physfnLink(base, dirs[i], w);
                more = w;
            }
            if (peers != d.iommuGroupPeers() || physfn != null || !more.isEmpty()) {
                devices[i] = completed(d, peers, physfn, more);
            }
        });
        return new PciInventory(Arrays.asList(devices), warnings);
    }

    /**
     * The PF of each VF, from the PFs' {@code virtfnN} links: the kernel makes a PF's {@code virtfnN} link and the
     * VF's {@code physfn} link back to that PF together ({@code pci_iov_add_virtfn}) and removes them together, so a
     * VF that a PF lists needs no {@code readlink} of its own. A function listed by no PF (or by two, or by itself:
     * not a kernel's tree) is left out; its own link decides ({@link #physfnLink}).
     */
    private static Map<PciAddress, PciAddress> physfnClaims(PciDevice[] read) {
        Map<PciAddress, PciAddress> claims = new HashMap<>();
        Set<PciAddress> twice = new HashSet<>();
        for (PciDevice pf : read) {
            for (PciAddress vf : pf.virtfns()) {
                if (vf.equals(pf.address()) || claims.putIfAbsent(vf, pf.address()) != null) {
                    twice.add(vf);
                }
            }
        }
        claims.keySet().removeAll(twice);
        return claims;
    }

    /**
     * The function's own {@code physfn} link, read through its directory (by its path below {@code base}, the opened
     * sys/devices, where it lies there); warnings go to {@code warnings}.
     */
    private PciAddress physfnLink(SysfsIo.Dir base, String dir, List<String> warnings) {
        String t = base != null && dir.startsWith(sysDevicesPrefix)
                ? base.readlink(dir.substring(sysDevicesPrefix.length()) + "/physfn") : io.readlink(dir + "/physfn");
        if (t == null) {
            int e = io.lastError();
            if (e != SysfsIo.ENOENT) {
                warnings.add("cannot read link physfn: " + SysfsIo.describe(e));
            }
            return null;
        }
        PciAddress a = PciAddress.parseOrNull(basename(t));
        if (a == null) {
            warnings.add("physfn link points to '" + t + "', which does not name a PCI function");
        }
        return a;
    }

    private static PciDevice completed(PciDevice d, List<PciAddress> peers, PciAddress physfn, List<String> warnings) {
        List<String> w = d.warnings();
        if (!warnings.isEmpty()) {
            w = new ArrayList<>(d.warnings());
            w.addAll(warnings);
        }
        return new PciDevice(d.address(), d.vendor(), d.device(), d.pciClass(), d.subsystemVendor(),
                d.subsystemDevice(), d.revision(), d.driver(), d.driverOverride(), d.iommuGroup(), peers, d.numaNode(),
                d.parentBridges(), d.sriovTotalVfs(), d.sriovNumVfs(), d.virtfns(), physfn, d.resetMethods(),
                d.resettable(), d.config(), w);
    }

    /** Reads every address, in parallel when there are enough of them; result in the same order. */
    private PciDevice[] readAll(Scan scan, List<PciAddress> addresses, String[] dirs) {
        int n = addresses.size();
        PciDevice[] out = new PciDevice[n];
        if (workers(n) <= 1) {
            try (Reads reads = new Reads(scan, n)) {
                reads.read(addresses, 0, n, out, dirs);
            }
            return out;
        }
        AtomicInteger next = new AtomicInteger();
        runWorkers(workers(n), () -> {
            try (Reads reads = new Reads(scan, n)) {
                for (int start; (start = next.getAndAdd(BLOCK)) < n; ) {
                    reads.read(addresses, start, Math.min(n, start + BLOCK), out, dirs);
                }
            }
        });
        return out;
    }

    /** Threads worth using for n functions (1: the calling thread alone). */
    private int workers(int n) {
        return Math.max(1, Math.min(threads, n / BLOCK));
    }

    /** Work on index i with a per-thread resource (opened by open, closed after; null when it cannot be opened). */
    private interface IndexWork {
        void accept(SysfsIo.Dir resource, int i);
    }

    /** Runs work for 0..n-1, spread over the scan's threads when n is large; each thread opens its own resource. */
    private void inParallel(int n, java.util.function.Supplier<SysfsIo.Dir> open, IndexWork work) {
        AtomicInteger next = new AtomicInteger();
        Runnable worker = () -> {
            SysfsIo.Dir r = open.get();
            try {
                for (int start; (start = next.getAndAdd(BLOCK)) < n; ) {
                    for (int i = start, end = Math.min(n, start + BLOCK); i < end; i++) {
                        work.accept(r, i);
                    }
                }
            } finally {
                if (r != null) {
                    r.close();
                }
            }
        };
        if (workers(n) <= 1) {
            worker.run();
        } else {
            runWorkers(workers(n), worker);
        }
    }

    /** Runs worker on the calling thread and workers - 1 pool threads; returns when all are done. */
    private void runWorkers(int workers, Runnable worker) {
        List<Future<?>> helpers = new ArrayList<>(workers - 1);
        for (int i = 1; i < workers; i++) {
            helpers.add(pool().submit(worker));
        }
        worker.run(); // the calling thread is one of the workers
        for (Future<?> f : helpers) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while scanning " + devicesDir, e);
            } catch (ExecutionException e) {
                // Reading never throws for content; this is a bug: rethrow it as it is.
                if (e.getCause() instanceof RuntimeException r) {
                    throw r;
                }
                if (e.getCause() instanceof Error err) {
                    throw err;
                }
                throw new IllegalStateException(e.getCause());
            }
        }
    }

    /** Attributes every function's read starts with, so a batch can read them for many functions at once. */
    private static final String[] EVERY_FUNCTION = {"config", "uevent", "revision", "numa_node", "driver_override",
        "reset_method"};

    /** One thread's reading: its buffer and, where the file system interface has one, its batch. */
    private final class Reads implements AutoCloseable {
        private final Scan scan;
        private final byte[] buf = new byte[BUFFER];
        private final SysfsIo.Batch batch;
        /** sys/bus/pci/devices, opened once: each bus entry is then a one-name lookup, not the whole path again. */
        private final SysfsIo.Dir devices;
        /** sys/devices, opened once when batching: device directories are opened by their path below it. */
        private final SysfsIo.Dir sysDevices;

        Reads(Scan scan, int functions) {
            this.scan = scan;
            this.batch = io.batch(EVERY_FUNCTION, functions);
            this.devices = io.open(devicesDir);
            this.sysDevices = batch == null ? null : io.open(sysDevicesPrefix);
        }

        /**
         * Reads addresses [from, to) into out at the same indexes; dirsOut gets the directory of each function that
         * was read to the end (still there), for the scan's physfn pass.
         */
        void read(List<PciAddress> addresses, int from, int to, PciDevice[] out, String[] dirsOut) {
            if (batch == null) {
                for (int i = from; i < to; i++) {
                    DeviceRead r = new DeviceRead(scan, addresses.get(i), buf, devices);
                    out[i] = r.read();
                    dirsOut[i] = r.readDir();
                }
                return;
            }
            int step = batch.capacity();
            DeviceRead[] group = new DeviceRead[step];
            String[] paths = new String[step];
            SysfsIo.Dir[] handles = new SysfsIo.Dir[step];
            int[] errors = new int[step];
            int[] located = new int[step];
            List<SysfsIo.Dir> dirs = new ArrayList<>(step);
            for (int start = from; start < to; start += step) {
                int end = Math.min(to, start + step);
                dirs.clear();
                // 1. find every directory of the group (bus entry links), 2. open them together (one by one if the
                // batch cannot), the hook running as it would before the first read, 3. read their common
                // attributes in one batch, 4. finish each function as usual.
                int count = 0;
                for (int i = start; i < end; i++) {
                    DeviceRead r = new DeviceRead(scan, addresses.get(i), buf, devices);
                    group[i - start] = r;
                    if (r.locate()) {
                        located[count++] = i - start;
                    }
                }
                // Directories below sys/devices (all but a bus entry that is not a link) are opened together.
                int below = 0;
                for (int k = 0; k < count; k++) {
                    String d = group[located[k]].dir;
                    if (d.startsWith(sysDevicesPrefix)) {
                        paths[below++] = d.substring(sysDevicesPrefix.length());
                    }
                }
                boolean together = sysDevices != null && batch.openAll(sysDevices, paths, below, handles, errors);
                for (int k = 0, b = 0; k < count; k++) {
                    DeviceRead r = group[located[k]];
                    boolean open = together && r.dir.startsWith(sysDevicesPrefix)
                            ? r.adopt(handles[b], errors[b++]) : r.openDirectory();
                    if (open) {
                        r.afterOpen();
                        dirs.add(r.handle);
                    }
                }
                Arrays.fill(handles, null);
                Arrays.fill(paths, null);
                batch.prefetch(dirs);
                for (int i = start; i < end; i++) {
                    DeviceRead r = group[i - start];
                    out[i] = r.finish();
                    dirsOut[i] = r.readDir();
                    group[i - start] = null;
                }
            }
        }

        @Override
        public void close() {
            if (devices != null) {
                devices.close();
            }
            if (sysDevices != null) {
                sysDevices.close();
            }
            if (batch != null) {
                batch.close();
            }
        }
    }

    /** Daemon threads shared by all readers, created on the first parallel scan. */
    private static ExecutorService pool() {
        ExecutorService p = pool;
        if (p == null) {
            synchronized (SysfsPciReader.class) {
                p = pool;
                if (p == null) {
                    AtomicInteger count = new AtomicInteger();
                    p = Executors.newFixedThreadPool(Math.max(1, MAX_THREADS - 1), r -> {
                        Thread t = new Thread(r, "xenhost-sysfs-scan-" + count.incrementAndGet());
                        t.setDaemon(true);
                        return t;
                    });
                    pool = p;
                }
            }
        }
        return p;
    }

    /** Reads one function, or empty when sysfs has no entry for it. */
    public Optional<PciDevice> read(PciAddress address) {
        String name = address.toString();
        if (io.readlink(devicesDir + "/" + name) == null && io.lastError() == SysfsIo.ENOENT) {
            return Optional.empty();
        }
        return Optional.of(new Scan().read(address, new byte[BUFFER]));
    }

    /** Bytes of the largest file read: a whole extended config space. */
    private static final int BUFFER = ConfigSpace.EXTENDED_SIZE;

    /** What one scan learns about the host once; shared by its workers (read-only after construction). */
    private final class Scan {
        /** One function read alone ({@link #read(PciAddress)}): list its group, read its own physfn link. */
        private final boolean listGroups;
        /** The group numbers under sys/kernel/iommu_groups, null when it cannot be listed (scan mode only). */
        private final Future<Set<Integer>> groups;
        private final boolean iommuDirPresent; // one function read alone: whether sys/kernel/iommu_groups exists

        /** For one function read alone. */
        Scan() {
            listGroups = true;
            iommuDirPresent = new File(iommuGroupsDir).isDirectory();
            groups = null;
        }

        /** For a scan; the group listing runs on a pool thread when {@code aside}. */
        Scan(boolean aside) {
            listGroups = false;
            iommuDirPresent = false;
            groups = aside ? pool().submit(this::listGroups) : java.util.concurrent.CompletableFuture.completedFuture(listGroups());
        }

        /**
         * One listing instead of a stat per group; a link into a group that is not listed dangles (lspci, which
         * resolves the link, then shows no group either).
         */
        private Set<Integer> listGroups() {
            String[] names = io.list(iommuGroupsDir);
            if (names == null) {
                return null;
            }
            Set<Integer> found = new HashSet<>(names.length * 2);
            for (String n : names) {
                Integer g = decimal(n);
                if (g != null && g >= 0 && n.equals(Integer.toString(g))) {
                    found.add(g);
                }
            }
            return found;
        }

        private Set<Integer> groups() {
            try {
                return groups.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while listing " + iommuGroupsDir, e);
            } catch (ExecutionException e) {
                if (e.getCause() instanceof Error err) {
                    throw err;
                }
                throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
            }
        }

        PciDevice read(PciAddress address, byte[] buf) {
            return new DeviceRead(this, address, buf, null).read();
        }

        boolean groupExists(int group) {
            Set<Integer> g = groups();
            return g != null && g.contains(group);
        }

        boolean iommuPresent() {
            return listGroups ? iommuDirPresent : groups() != null;
        }
    }

    /** Reads one function; collects warnings and stops early when the function vanishes. */
    private final class DeviceRead {
        private final Scan scan;
        private final PciAddress address;
        private final String name;
        private final byte[] buf;
        private final SysfsIo.Dir devices; // the opened sys/bus/pci/devices, or null: look the entry up by path
        private final List<String> warnings = new ArrayList<>(2);
        private String dir;
        private SysfsIo.Dir handle;
        private boolean gone;
        private boolean linkAbsent; // the last linkTarget() found no such link
        private boolean lastAbsent; // the last lookup in the directory found nothing: maybe the device went

        private byte[] configBytes;
        private Integer vendor;
        private Integer device;
        private Integer pciClass;
        private Integer subsystemVendor;
        private Integer subsystemDevice;
        private Integer revision;
        private String driver;
        private String ueventDriver; // DRIVER= of a well-formed uevent
        private String driverOverride;
        private Integer iommuGroup;
        private List<PciAddress> peers = List.of();
        private Integer numaNode;
        private List<PciAddress> parents = List.of();
        private Integer totalVfs;
        private Integer numVfs;
        private List<PciAddress> virtfns = List.of();
        private PciAddress physfn;
        private List<String> resetMethods = List.of();
        private boolean resettable;
        private ConfigSpace config;

        DeviceRead(Scan scan, PciAddress address, byte[] buf, SysfsIo.Dir devices) {
            this.devices = devices;
            this.scan = scan;
            this.address = address;
            this.name = address.toString();
            this.buf = buf;
        }

        private boolean opened;

        PciDevice read() {
            open();
            return finish();
        }

        /**
         * Steps 1 and 2 of a read: find the device's own directory under sys/devices (gives the bridge chain) and
         * open it. False when the device is gone or cannot be opened (warned); {@link #finish} then reads nothing.
         */
        boolean open() {
            if (locate() && openDirectory()) {
                afterOpen();
            }
            return opened;
        }

        /** Marks the opened directory as ready to read, after running the test hook. */
        void afterOpen() {
            try {
                hook.afterOpen(address, dir);
            } catch (RuntimeException | Error e) {
                handle.close();
                throw e;
            }
            opened = true;
        }

        /** The directory of a function read to the end and still there, else null. */
        String readDir() {
            return opened && !gone ? dir : null;
        }

        /** Step 3: reads the attributes (skipping the rest once the device vanishes), closes, and builds the result. */
        PciDevice finish() {
            if (opened) {
                try {
                    readConfig();
                    readIdentity();
                    readBinding();
                    readIommu();
                    readSriov();
                    readReset();
                    if (lastAbsent) {
                        // A lookup that finds something proves the directory was there after any earlier miss;
                        // only a miss at the end can still be the device going away.
                        checkGone();
                    }
                } finally {
                    handle.close();
                }
            }
            return new PciDevice(address, vendor, device, pciClass, subsystemVendor, subsystemDevice, revision,
                    driver, driverOverride, iommuGroup, peers, numaNode, parents, totalVfs, numVfs, virtfns, physfn,
                    resetMethods, resettable, config, warnings);
        }

        boolean locate() {
            String target = devices != null ? devices.readlink(name) : io.readlink(devicesDir + "/" + name);
            String link = target != null ? null : devicesDir + "/" + name; // for warnings
            if (target == null) {
                int e = io.lastError();
                if (e == SysfsIo.ENOENT) {
                    vanished(link + " is gone");
                    return false;
                }
                if (e == SysfsIo.EINVAL) {
                    // Not a symlink: readable, but the bridge chain is unknown.
                    warnings.add(link + " is not a symlink into sys/devices; parent bridge chain unknown");
                    dir = link;
                    return true;
                }
                warnings.add("cannot read link " + link + ": " + SysfsIo.describe(e));
                return false;
            }
            String resolved = resolve(devicesDir, target);
            if (!resolved.startsWith(sysDevicesPrefix)) {
                warnings.add(devicesDir + "/" + name + " points to '" + target + "', outside " + sysDevicesPrefix + "; not read");
                return false;
            }
            dir = resolved;
            parents = bridgeChain(resolved.substring(sysDevicesPrefix.length()));
            return true;
        }

        /** Bridges from the path below sys/devices: pciDDDD:BB/<bridge>/.../<this function>. */
        private List<PciAddress> bridgeChain(String below) {
            String[] parts = below.split("/");
            int last = parts.length - 1;
            if (!parts[last].equals(name)) {
                warnings.add(devicesDir + "/" + name + " resolves to " + below + ", whose last component is not " + name);
            }
            if (last == 1) {
                return List.of(); // on a root bus: the common case
            }
            List<PciAddress> chain = new ArrayList<>(last);
            for (int i = 0; i < last; i++) {
                PciAddress a = PciAddress.parseOrNull(parts[i]);
                if (a != null) {
                    chain.add(a);
                } else if (i > 0 || !parts[i].startsWith("pci")) {
                    // Only the host bridge directory (pciDDDD:BB) may come first; anything else is no PCI bridge.
                    warnings.add("unexpected component '" + parts[i] + "' in device path " + below);
                }
            }
            return chain;
        }

        private boolean openDirectory() {
            SysfsIo.Dir h = io.open(dir);
            return adopt(h, h == null ? io.lastError() : 0);
        }

        /** Takes the directory opened for this function, or reports why it could not be ({@code e}: errno). */
        private boolean adopt(SysfsIo.Dir h, int e) {
            handle = h;
            if (handle == null) {
                if (e == SysfsIo.ENOENT) {
                    vanished(dir + " is gone");
                } else {
                    warnings.add("cannot open device directory " + dir + ": " + SysfsIo.describe(e));
                }
                return false;
            }
            return true;
        }

        private void vanished(String detail) {
            if (!gone) {
                gone = true;
                warnings.add("device disappeared while being read (hot-unplug?): " + detail);
            }
        }

        /** After a file was not found: was it the whole device that went? (slow path only) */
        private boolean checkGone() {
            if (!gone && !new File(dir).isDirectory()) {
                vanished(dir + " is gone");
            }
            return gone;
        }

        /**
         * Reads an attribute into {@code buf}; returns its length, or -1 when it does not exist (no warning: the
         * caller knows whether it is optional), or -2 after warning about any other failure.
         */
        private int readFile(String attr, boolean config) {
            if (gone) {
                return -2;
            }
            int n = config ? handle.readConfig(attr, buf) : handle.read(attr, buf);
            lastAbsent = -n == SysfsIo.ENOENT || -n == SysfsIo.ENODEV;
            if (n >= 0) {
                return n;
            }
            if (-n == SysfsIo.ENOENT || -n == SysfsIo.ENODEV) {
                return -1; // absent; whether the whole device went is checked by callers of required files and at the end
            }
            warnings.add("cannot read " + attr + ": " + SysfsIo.describe(-n));
            return -2;
        }

        /** Text of an attribute, stripped; null when missing (see {@link #readFile}). */
        private String readText(String attr, boolean optional) {
            int n = readFile(attr, false);
            if (n == -1 && !optional && !checkGone()) {
                warnings.add(attr + ": missing");
            }
            return n < 0 ? null : new String(buf, 0, n, StandardCharsets.US_ASCII).strip();
        }

        private void readConfig() {
            int n = readFile("config", true);
            if (n == -1 && !checkGone()) {
                warnings.add("no config file; capabilities unknown");
            }
            if (n >= 0) {
                configBytes = Arrays.copyOf(buf, Math.min(n, 0x40)); // the header, for attribute fallbacks
                config = ConfigSpace.parse(buf, n);
                for (String p : config.problems()) {
                    warnings.add("config: " + p);
                }
                if (n < ConfigSpace.CONVENTIONAL_SIZE && config.truncated()) {
                    // What an unprivileged reader gets: flr/acs=false would then be a guess, so say so.
                    warnings.add("config: only " + n + " bytes readable (not root?); capabilities, FLR and ACS unknown");
                }
            }
        }

        private void readIdentity() {
            byte[] cfg = configBytes;
            if (!identityFromUevent()) {
                vendor = hexAttr("vendor", 4, cfg, 0x00, 2);
                device = hexAttr("device", 4, cfg, 0x02, 2);
                pciClass = hexAttr("class", 6, cfg, 0x09, 3);
            }
            revision = hexAttr("revision", 2, cfg, 0x08, 1);
            if (subsystemVendor == null) {
                boolean type0 = cfg != null && cfg.length >= 0x30 && (cfg[0x0e] & 0x7f) == 0;
                subsystemVendor = hexAttr("subsystem_vendor", 4, type0 ? cfg : null, 0x2c, 2);
                subsystemDevice = hexAttr("subsystem_device", 4, type0 ? cfg : null, 0x2e, 2);
            }
            String t = readText("numa_node", true);
            if (t != null) {
                Integer v = decimal(t);
                if (v == null) {
                    warnings.add("numa_node: unexpected content '" + printable(t) + "' (expected a decimal number)");
                } else if (v >= 0) {
                    numaNode = v;
                }
            }
        }

        /**
         * Vendor, device, class and subsystem IDs from {@code uevent}: the kernel's {@code pci_uevent()} prints
         * {@code PCI_CLASS=%04X}, {@code PCI_ID=%04X:%04X} and {@code PCI_SUBSYS_ID=%04X:%04X} from the same
         * {@code pci_dev} fields that the {@code vendor}, {@code device}, {@code class} and {@code subsystem_*}
         * files show (and lspci reads), so one read replaces four. False, with nothing set and nothing warned,
         * when the file is missing or not in that form: the attribute files are then read one by one.
         */
        private boolean identityFromUevent() {
            if (gone) {
                return false;
            }
            int n = handle.read("uevent", buf);
            lastAbsent = -n == SysfsIo.ENOENT || -n == SysfsIo.ENODEV;
            if (n <= 0) {
                return false;
            }
            int cls = -1;
            long id = -1;
            long subsys = -1;
            String drv = null;
            int line = 0;
            while (line < n) {
                int end = line;
                while (end < n && buf[end] != '\n') {
                    end++;
                }
                if (cls < 0 && startsWith(line, end, "PCI_CLASS=")) {
                    cls = (int) hexField(line + 10, end, 1, 6);
                } else if (id < 0 && startsWith(line, end, "PCI_ID=")) {
                    id = idPair(line + 7, end);
                } else if (subsys < 0 && startsWith(line, end, "PCI_SUBSYS_ID=")) {
                    subsys = idPair(line + 14, end);
                } else if (drv == null && startsWith(line, end, "DRIVER=")) {
                    drv = driverName(line + 7, end);
                }
                line = end + 1;
            }
            if (cls < 0 || id < 0 || subsys < 0) {
                return false;
            }
            pciClass = cls;
            vendor = (int) (id >>> 16);
            device = (int) (id & 0xffff);
            subsystemVendor = (int) (subsys >>> 16);
            subsystemDevice = (int) (subsys & 0xffff);
            ueventDriver = drv;
            return true;
        }

        /**
         * The name after {@code DRIVER=}, or null when it could not be a directory under {@code bus/pci/drivers}
         * (empty, a slash, a dot name, a control character): the {@code driver} link is then read instead.
         */
        private String driverName(int from, int end) {
            if (end == from || end - from > 255) {
                return null;
            }
            for (int i = from; i < end; i++) {
                if (buf[i] == '/' || (buf[i] & 0xff) < 0x20 || buf[i] == 0x7f) {
                    return null;
                }
            }
            String d = new String(buf, from, end - from, StandardCharsets.UTF_8);
            return d.equals(".") || d.equals("..") ? null : d;
        }

        private boolean startsWith(int from, int end, String key) {
            if (end - from < key.length()) {
                return false;
            }
            for (int i = 0; i < key.length(); i++) {
                if (buf[from + i] != key.charAt(i)) {
                    return false;
                }
            }
            return true;
        }

        /** {@code XXXX:XXXX} (exactly four hex digits each) as one 32-bit value, else -1. */
        private long idPair(int from, int end) {
            if (end - from != 9 || buf[from + 4] != ':') {
                return -1;
            }
            long hi = hexField(from, from + 4, 4, 4);
            long lo = hexField(from + 5, end, 4, 4);
            return hi < 0 || lo < 0 ? -1 : hi << 16 | lo;
        }

        /** Hex digits filling {@code [from, end)}, between {@code min} and {@code max} of them, else -1. */
        private long hexField(int from, int end, int min, int max) {
            int len = end - from;
            if (len < min || len > max) {
                return -1;
            }
            long v = 0;
            for (int i = from; i < end; i++) {
                int d = Character.digit(buf[i], 16);
                if (d < 0) {
                    return -1;
                }
                v = v << 4 | d;
            }
            return v;
        }

        /**
         * Reads a {@code 0x…} attribute; on failure falls back to config space bytes (little endian) when
         * available, saying so. (Not for VFs' vendor/device: their config registers read ffff, which the fallback
         * would then report, flagged by the warning.)
         */
        private Integer hexAttr(String attr, int digits, byte[] cfg, int cfgOffset, int cfgBytes) {
            int n = readFile(attr, false);
            String why;
            if (n == -1 && checkGone()) {
                return null;
            } else if (n == -1) {
                why = "missing";
            } else if (n < 0) {
                why = "unreadable";
            } else {
                String t = new String(buf, 0, n, StandardCharsets.US_ASCII).strip();
                Integer v = hex(t, digits);
                if (v != null) {
                    return v;
                }
                why = "unexpected content '" + printable(t) + "' (expected 0x followed by up to " + digits + " hex digits)";
            }
            if (gone) {
                return null;
            }
            if (cfg != null && cfg.length >= cfgOffset + cfgBytes) {
                int v = 0;
                for (int i = cfgBytes - 1; i >= 0; i--) {
                    v = v << 8 | (cfg[cfgOffset + i] & 0xff);
                }
                warnings.add(attr + ": " + why + "; using the value from config space");
                return v;
            }
            warnings.add(attr + ": " + why);
            return null;
        }

        private void readBinding() {
            // The kernel's dev_uevent() prints DRIVER=<name> exactly while a driver is bound, the name being the one
            // the driver link leads to (bus/pci/drivers/<name>): trust that positive statement and skip the link.
            // Without the line (unbound, or a tree made by hand) the link decides, as before.
            if (ueventDriver != null) {
                driver = ueventDriver;
            } else {
                String t = linkTarget("driver");
                if (t != null && !"drivers".equals(basename(parent(t)))) {
                    warnings.add("driver link points to '" + t + "', not into bus/pci/drivers; driver unknown");
                } else if (t != null) {
                    driver = basename(t);
                }
            }
            String o = readText("driver_override", true);
            if (o != null && !o.isEmpty() && !o.equals("(null)")) {
                driverOverride = o;
            }
        }

        private void readIommu() {
            if (gone) {
                return;
            }
            String t = linkTarget("iommu_group");
            if (t == null) {
                if (gone || !linkAbsent) {
                    return; // vanished, or unreadable (warned)
                }
                if (scan.iommuPresent()) {
                    warnings.add("not in any IOMMU group (no iommu_group link); cannot be passed through");
                } else {
                    warnings.add("host has no IOMMU groups (" + iommuGroupsDir + " is absent: IOMMU off or missing); "
                            + "cannot be passed through");
                }
                return;
            }
            Integer g = decimal(basename(t));
            if (g == null || g < 0 || !"iommu_groups".equals(basename(parent(t)))) {
                warnings.add("iommu_group link points to '" + t + "', not to kernel/iommu_groups/<N>");
                return;
            }
            String groupDir = iommuGroupsDir + "/" + g + "/devices";
            if (!scan.listGroups) {
                if (!scan.groupExists(g)) {
                    // lspci resolves the link and so sees no group either
                    warnings.add("iommu_group names group " + g + ", but " + groupDir + " does not exist");
                    return;
                }
                iommuGroup = g;
                return;
            }
            String[] names = io.list(groupDir);
            if (names == null) {
                warnings.add("iommu_group names group " + g + ", but " + groupDir + " cannot be listed: "
                        + SysfsIo.describe(io.lastError()));
                return; // a group that does not exist: no group, as lspci (which resolves the link) sees it
            }
            iommuGroup = g;
            List<PciAddress> others = new ArrayList<>(names.length);
            boolean self = false;
            for (String n : names) {
                PciAddress a = PciAddress.parseOrNull(n);
                if (a != null && a.equals(address)) {
                    self = true;
                } else if (a != null) {
                    others.add(a);
                }
            }
            if (!self) {
                warnings.add("IOMMU group " + g + " does not list this function among its devices");
            }
            Collections.sort(others);
            peers = others;
        }

        private void readSriov() {
            if (!configRulesOutSriov()) {
                totalVfs = decimalAttr("sriov_totalvfs");
            }
            if (totalVfs != null) {
                numVfs = decimalAttr("sriov_numvfs");
            }
            if (scan.listGroups) {
                // A scan takes physfn from the PFs' virtfn links instead (see SysfsPciReader.physfns).
                String p = linkTarget("physfn");
                if (p != null) {
                    physfn = addressOf("physfn", p);
                }
            }
            if (totalVfs == null && numVfs == null) {
                return;
            }
            // The kernel numbers virtfn links 0..numvfs-1 without gaps; probe until the first missing one.
            List<PciAddress> vfs = new ArrayList<>();
            for (int i = 0; i < 0x10000 && !gone; i++) {
                String t = linkTarget("virtfn" + i);
                if (t == null) {
                    break;
                }
                PciAddress vf = addressOf("virtfn" + i, t);
                if (vf != null) {
                    vfs.add(vf);
                }
            }
            virtfns = vfs;
            if (numVfs != null && numVfs != vfs.size() && !gone) {
                warnings.add("sriov_numvfs is " + numVfs + " but " + vfs.size() + " virtfn links exist");
            }
        }

        /**
         * Whether config space shows there can be no {@code sriov_totalvfs}: the kernel creates it only for a PCI
         * Express function with an SR-IOV extended capability, and the whole config space was read and decoded
         * without trouble, so a missing capability is really missing.
         */
        private boolean configRulesOutSriov() {
            if (config == null || config.truncated() || !config.problems().isEmpty()
                    || config.length() < ConfigSpace.CONVENTIONAL_SIZE) {
                return false;
            }
            return config.pcie() == null || (config.length() >= ConfigSpace.EXTENDED_SIZE && config.srIov() == null);
        }

        private void readReset() {
            if (gone) {
                return;
            }
            String t = readText("reset_method", true);
            if (t != null && !t.isEmpty()) {
                resetMethods = words(t);
                // The kernel shows reset and reset_method together (both exist exactly when a method does).
                resettable = true;
            } else {
                boolean absent = lastAbsent;
                resettable = handle.exists("reset");
                lastAbsent = absent && !resettable;
            }
        }

        /** A non-negative decimal attribute, null when absent or (with a warning) malformed. */
        private Integer decimalAttr(String attr) {
            String t = readText(attr, true);
            if (t == null) {
                return null;
            }
            Integer v = decimal(t);
            if (v == null || v < 0) {
                warnings.add(attr + ": unexpected content '" + printable(t) + "' (expected a decimal number)");
                return null;
            }
            return v;
        }

        /** Target of a link in the device directory; null when absent (silently) or unreadable (with a warning). */
        private String linkTarget(String attr) {
            if (gone) {
                return null;
            }
            String t = handle.readlink(attr);
            linkAbsent = false;
            lastAbsent = false;
            if (t == null) {
                int e = io.lastError();
                if (e == SysfsIo.ENOENT) {
                    linkAbsent = true;
                    lastAbsent = true;
                } else {
                    warnings.add("cannot read link " + attr + ": " + SysfsIo.describe(e));
                }
            }
            return t;
        }

        private PciAddress addressOf(String attr, String target) {
            PciAddress a = PciAddress.parseOrNull(basename(target));
            if (a == null) {
                warnings.add(attr + " link points to '" + target + "', which does not name a PCI function");
            }
            return a;
        }
    }
}
