package org.xenhost.libxl.jna;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;
import org.xenhost.libxl.DomainInfo;
import org.xenhost.libxl.DomainState;
import org.xenhost.libxl.DomainType;
import org.xenhost.libxl.HostInfo;
import org.xenhost.libxl.Libxl;
import org.xenhost.libxl.LibxlDevicePci;
import org.xenhost.libxl.LibxlError;
import org.xenhost.libxl.LibxlException;
import org.xenhost.libxl.ProgressListener;
import org.xenhost.libxl.RdmPolicy;
import org.xenhost.libxl.ShutdownReason;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * {@link Libxl} over the real libxenlight 4.17, through JNA. Every call is libxl's synchronous form
 * ({@code ao_how == NULL}); libxl is thread-safe, so calls from several threads run concurrently, and
 * {@link #close()} waits for running calls to return.
 *
 * <p>Set-up ({@link #open()}), in order, unwound in reverse on failure:
 * <ol>
 *   <li>load libxenlight, libxlutil's dependencies and libxentoollog;</li>
 *   <li>open the log pipe ({@link XenLog}) libxl reports through;</li>
 *   <li>{@code libxl_ctx_alloc} (fails with {@code ERROR_FAIL} when Xen is not running: no libxc handle);</li>
 *   <li>{@code libxl_childproc_setmode(libxl_always_selective_reap)}, so libxl reaps only the children it
 *       forked (save helper, QEMU) and never steals the exit status of a process the JVM started.</li>
 * </ol>
 */
public final class NativeLibxl implements Libxl {
    /**
     * Bytes allocated for an opaque {@code libxl_domain_config}; must be at least its {@code sizeof} (1288 on
     * 4.17.7). The layout test checks the bound against the installed headers.
     */
    public static final int DOMAIN_CONFIG_BYTES = 4096;
    private static final int INVALID_DOMID = 0x7ff4;
    private static final Pointer SYNC = null; // ao_how == NULL: the call blocks until libxl is done

    private final XenlightLibrary xl;
    private final LibC libc;
    private final XenLog log;
    private final Pointer ctx;
    /** libxl keeps a pointer to this: it must live exactly as long as the context. */
    private final ChildprocHooksStruct hooks;
    /**
     * Hook tables of open contexts. libxl keeps their address until {@code libxl_ctx_free}; pinning them here keeps
     * their native memory alive even if a caller drops a NativeLibxl without closing it.
     */
    private static final Set<ChildprocHooksStruct> LIVE_HOOKS = ConcurrentHashMap.newKeySet();
    private final ReentrantReadWriteLock lifetime = new ReentrantReadWriteLock();
    private boolean closed; // guarded by lifetime

    private NativeLibxl(XenlightLibrary xl, XenLog log, Pointer ctx, ChildprocHooksStruct hooks) {
        this.xl = xl;
        this.libc = NativeLibraries.libc();
        this.log = log;
        this.ctx = ctx;
        this.hooks = hooks;
    }

    /**
     * Opens a libxl context on this host.
     *
     * @throws LibxlException {@link LibxlError#FAIL} when libxenlight 4.17 is not installed, or when Xen is not
     *                        running (the message says so and quotes libxl); libxl's code otherwise
     */
    public static NativeLibxl open() throws LibxlException {
        // 1. libraries
        XenlightLibrary xl;
        try {
            xl = NativeLibraries.xenlight();
            NativeLibraries.toollog();
        } catch (LinkageError e) {
            throw new LibxlException(LibxlError.FAIL, "cannot load " + NativeLibraries.XENLIGHT
                    + " (Xen 4.17 tools library): install Debian's libxenmisc4.17 or libxen-dev", e);
        }
        // 2. log
        XenLog log = XenLog.open();
        // 3. context
        PointerByReference pctx = new PointerByReference();
        long mark = log.mark();
        int rc = xl.libxl_ctx_alloc(pctx, XenlightLibrary.LIBXL_VERSION, 0, log.logger());
        if (rc != 0 || pctx.getValue() == null) {
            List<String> said = log.errorsSince(mark);
            log.close();
            throw new LibxlException(rc != 0 ? rc : LibxlError.FAIL.code(), ctxAllocFailure(said));
        }
        Pointer ctx = pctx.getValue();
        // 4. child processes
        ChildprocHooksStruct hooks = new ChildprocHooksStruct();
        hooks.chldowner = ChildprocHooksStruct.SIGCHLD_OWNER_LIBXL_ALWAYS_SELECTIVE_REAP;
        hooks.write();
        LIVE_HOOKS.add(hooks);
        xl.libxl_childproc_setmode(ctx, hooks, null);
        return new NativeLibxl(xl, log, ctx, hooks);
    }

    private static String ctxAllocFailure(List<String> said) {
        boolean privcmd = Files.exists(Path.of("/dev/xen/privcmd")) || Files.exists(Path.of("/proc/xen/privcmd"));
        String quote = said.isEmpty() ? "" : "; libxl said: " + String.join(" | ", said);
        if (!privcmd) {
            return "Xen is not running on this host: libxl_ctx_alloc cannot open the libxc handle"
                    + " (no /dev/xen/privcmd); run xenhost in dom0 of a Xen host, or use the emulated host" + quote;
        }
        return "libxl_ctx_alloc failed although Xen is present: run as root in dom0 with xenstored running" + quote;
    }

    // ---- plumbing ---------------------------------------------------------------------------------------

    @FunctionalInterface
    private interface Call<T> {
        T call() throws LibxlException;
    }

    /** Runs a call while the context is open; close() waits for running calls. */
    private <T> T whileOpen(Call<T> c) throws LibxlException {
        lifetime.readLock().lock();
        try {
            if (closed) {
                throw new IllegalStateException("libxl context is closed");
            }
            return c.call();
        } finally {
            lifetime.readLock().unlock();
        }
    }

    /** Turns a libxl return value into an exception that names the call and quotes libxl's error lines. */
    private void check(int rc, long mark, String what) throws LibxlException {
        check(rc, mark, what, null);
    }

    private void check(int rc, long mark, String what, Throwable cause) throws LibxlException {
        if (rc == 0) {
            return;
        }
        List<String> said = log.errorsSince(mark);
        String msg = what + " failed" + (rc > 0 ? " (returned " + rc + ")" : "")
                + (said.isEmpty() ? "" : "; libxl said: " + String.join(" | ", said));
        throw new LibxlException(rc > 0 ? LibxlError.NONSPECIFIC.code() : rc, msg, cause);
    }

    private static void requireDomid(int domid) {
        if (domid < 0 || domid >= 0x7ff0) {
            throw new IllegalArgumentException("domid " + domid + " is not a domain id (0..32751)");
        }
    }

    // ---- host ------------------------------------------------------------------------------------------

    @Override
    public HostInfo hostInfo() throws LibxlException {
        return whileOpen(() -> {
            long mark = log.mark();
            Pointer vp = xl.libxl_get_version_info(ctx);
            if (vp == null) {
                check(LibxlError.FAIL.code(), mark, "libxl_get_version_info");
            }
            VersionInfoStruct v = new VersionInfoStruct(vp);
            v.read();
            String extra = v.xen_version_extra == null ? "" : v.xen_version_extra.getString(0, "UTF-8");
            PhysinfoStruct p = new PhysinfoStruct();
            xl.libxl_physinfo_init(p);
            try {
                check(xl.libxl_get_physinfo(ctx, p), mark, "libxl_get_physinfo");
                return new HostInfo(v.xen_version_major + "." + v.xen_version_minor + extra, p.total_pages * 4,
                        p.free_pages * 4, p.nr_cpus, p.cap_hvm != 0, p.cap_hvm_directio != 0, dom0BootId());
            } finally {
                xl.libxl_physinfo_dispose(p);
            }
        });
    }

    /** Xen and dom0 boot together, so dom0's boot id names this run of the hypervisor. */
    private static String dom0BootId() {
        try {
            return "xen-dom0-boot:" + java.nio.file.Files.readString(java.nio.file.Path.of("/proc/sys/kernel/random/boot_id")).strip();
        } catch (java.io.IOException e) {
            return null; // unknown: never taken for the same host
        }
    }

    // ---- domains ---------------------------------------------------------------------------------------

    @Override
    public List<DomainInfo> listDomains() throws LibxlException {
        return whileOpen(() -> {
            long mark = log.mark();
            IntByReference n = new IntByReference();
            Pointer list = xl.libxl_list_domain(ctx, n);
            if (list == null) {
                check(LibxlError.FAIL.code(), mark, "libxl_list_domain");
            }
            try {
                int size = new DominfoStruct().size();
                List<DomainInfo> out = new ArrayList<>(n.getValue());
                for (int i = 0; i < n.getValue(); i++) {
                    DominfoStruct s = new DominfoStruct(list.share((long) i * size));
                    s.read();
                    out.add(toDomainInfo(s));
                }
                return out;
            } finally {
                xl.libxl_dominfo_list_free(list, n.getValue());
            }
        });
    }

    @Override
    public DomainInfo domainInfo(int domid) throws LibxlException {
        requireDomid(domid);
        return whileOpen(() -> {
            long mark = log.mark();
            DominfoStruct s = new DominfoStruct();
            xl.libxl_dominfo_init(s);
            try {
                check(xl.libxl_domain_info(ctx, s, domid), mark, "libxl_domain_info for domain " + domid);
                return toDomainInfo(s);
            } finally {
                xl.libxl_dominfo_dispose(s);
            }
        });
    }

    private DomainInfo toDomainInfo(DominfoStruct s) {
        ByteBuffer u = ByteBuffer.wrap(s.uuid);
        ShutdownReason reason = s.shutdown != 0 ? ShutdownReason.ofCode(s.shutdown_reason) : ShutdownReason.UNKNOWN;
        return new DomainInfo(s.domid, new UUID(u.getLong(), u.getLong()), nameOf(s.domid),
                DomainState.of(s.paused != 0, s.shutdown != 0, s.dying != 0, reason), reason,
                s.current_memkb, s.max_memkb, s.vcpu_online, s.cpu_time, DomainType.ofCode(s.domain_type));
    }

    private String nameOf(int domid) {
        Pointer p = xl.libxl_domid_to_name(ctx, domid);
        if (p == null) {
            return null;
        }
        try {
            return p.getString(0, "UTF-8");
        } finally {
            libc.free(p);
        }
    }

    @Override
    public int createDomain(String domainConfigJson, boolean paused) throws LibxlException {
        Objects.requireNonNull(domainConfigJson, "domainConfigJson");
        return whileOpen(() -> {
            long mark = log.mark();
            // 1. the configuration
            try (DomainConfig config = DomainConfig.fromJson(this, domainConfigJson)) {
                // 2. build the domain (libxl leaves it paused)
                IntByReference domid = new IntByReference(INVALID_DOMID);
                check(xl.libxl_domain_create_new(ctx, config.pointer, domid, SYNC, null), mark,
                        "libxl_domain_create_new");
                // 3. let it run
                if (!paused) {
                    unpauseOrDestroy(domid.getValue(), "created");
                }
                return domid.getValue();
            }
        });
    }

    /** Unpauses a domain just built; on failure destroys it (undoing the build) and reports the unpause error. */
    private void unpauseOrDestroy(int domid, String what) throws LibxlException {
        long mark = log.mark();
        int rc = xl.libxl_domain_unpause(ctx, domid, SYNC);
        if (rc != 0) {
            xl.libxl_domain_destroy(ctx, domid, SYNC);
            check(rc, mark, "unpausing the " + what + " domain " + domid + " (it was destroyed)");
        }
    }

    @Override
    public String domainConfigJson(int domid) throws LibxlException {
        requireDomid(domid);
        return whileOpen(() -> {
            long mark = log.mark();
            try (DomainConfig config = DomainConfig.empty(this)) {
                check(xl.libxl_retrieve_domain_configuration(ctx, domid, config.pointer, SYNC), mark,
                        "libxl_retrieve_domain_configuration for domain " + domid);
                Pointer json = xl.libxl_domain_config_to_json(ctx, config.pointer);
                if (json == null) {
                    check(LibxlError.FAIL.code(), mark, "libxl_domain_config_to_json for domain " + domid);
                }
                try {
                    return json.getString(0, "UTF-8");
                } finally {
                    libc.free(json);
                }
            }
        });
    }

    @Override
    public void pause(int domid) throws LibxlException {
        simple(domid, "libxl_domain_pause", () -> xl.libxl_domain_pause(ctx, domid, SYNC));
    }

    @Override
    public void unpause(int domid) throws LibxlException {
        simple(domid, "libxl_domain_unpause", () -> xl.libxl_domain_unpause(ctx, domid, SYNC));
    }

    @Override
    public void shutdown(int domid) throws LibxlException {
        simple(domid, "libxl_domain_shutdown", () -> xl.libxl_domain_shutdown(ctx, domid, SYNC));
    }

    @Override
    public void destroy(int domid) throws LibxlException {
        simple(domid, "libxl_domain_destroy", () -> xl.libxl_domain_destroy(ctx, domid, SYNC));
    }

    @Override
    public void resume(int domid) throws LibxlException {
        simple(domid, "libxl_domain_resume (suspend_cancel)", () -> xl.libxl_domain_resume(ctx, domid, 1, SYNC));
    }

    @Override
    public void rename(int domid, String oldName, String newName) throws LibxlException {
        Objects.requireNonNull(newName, "newName");
        if (newName.isEmpty()) {
            throw new IllegalArgumentException("a domain name cannot be empty");
        }
        simple(domid, "libxl_domain_rename to '" + newName + "'",
                () -> xl.libxl_domain_rename(ctx, domid, oldName, newName));
    }

    private void simple(int domid, String what, java.util.function.IntSupplier call) throws LibxlException {
        requireDomid(domid);
        whileOpen(() -> {
            long mark = log.mark();
            check(call.getAsInt(), mark, what + " for domain " + domid);
            return null;
        });
    }

    // ---- save / restore --------------------------------------------------------------------------------

    @Override
    public void suspend(int domid, WritableByteChannel target, boolean live, boolean debug,
                        ProgressListener progress) throws LibxlException {
        requireDomid(domid);
        Objects.requireNonNull(target, "target");
        Objects.requireNonNull(progress, "progress");
        int flags = (live ? XenlightLibrary.LIBXL_SUSPEND_LIVE : 0) | (debug ? XenlightLibrary.LIBXL_SUSPEND_DEBUG : 0);
        whileOpen(() -> {
            long mark = log.mark();
            // 1. the pipe and its pump into the target
            StreamPump pump = StreamPump.toChannel(target, "save-" + domid);
            // 2. progress while it runs
            log.addProgressListener(progress);
            int rc;
            IOException io;
            try {
                // 3. libxl writes the stream (through libxl-save-helper) into the pipe
                rc = xl.libxl_domain_suspend(ctx, domid, pump.libxlFd(), flags, SYNC);
            } finally {
                // 2'. 1'. (the pump reads to end-of-file once libxl's end is closed)
                log.removeProgressListener(progress);
                io = pump.finish(0);
            }
            check(rc, mark, "libxl_domain_suspend of domain " + domid, io);
            if (io != null) {
                throw new LibxlException(LibxlError.FAIL, "saving domain " + domid + ": libxl finished but the stream"
                        + " could not be written to its target after " + pump.bytes() + " bytes: " + io.getMessage(),
                        io);
            }
            return null;
        });
    }

    @Override
    public int createRestore(String domainConfigJson, ReadableByteChannel source, int streamVersion, boolean paused,
                             ProgressListener progress) throws LibxlException {
        Objects.requireNonNull(domainConfigJson, "domainConfigJson");
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(progress, "progress");
        if (streamVersion != STREAM_VERSION) {
            throw new LibxlException(LibxlError.INVAL, "stream version " + streamVersion
                    + " is not supported (only libxl migration stream v2)");
        }
        return whileOpen(() -> {
            long mark = log.mark();
            // 1. the configuration, before a byte of the stream is consumed
            try (DomainConfig config = DomainConfig.fromJson(this, domainConfigJson)) {
                // 2. restore parameters: _init sets stream_version=1 (legacy converter), we need 2
                RestoreParamsStruct params = new RestoreParamsStruct();
                xl.libxl_domain_restore_params_init(params);
                params.checkpointed_stream = 0;
                params.stream_version = STREAM_VERSION;
                IntByReference domid = new IntByReference(INVALID_DOMID);
                int rc;
                IOException io;
                // 3. the pipe fed from the source
                StreamPump pump = StreamPump.fromChannel(source, "restore");
                log.addProgressListener(progress);
                try {
                    // 4. libxl builds the domain from the stream (paused)
                    rc = xl.libxl_domain_create_restore(ctx, config.pointer, domid, pump.libxlFd(), -1, params,
                            SYNC, null);
                } finally {
                    log.removeProgressListener(progress);
                    io = pump.finish(1000);
                    xl.libxl_domain_restore_params_dispose(params);
                }
                if (rc != 0) {
                    // libxl destroys what it half-built; make sure, without trusting domid reuse
                    int id = domid.getValue();
                    if (id >= 0 && id < 0x7ff0 && domainExists(id)) {
                        xl.libxl_domain_destroy(ctx, id, SYNC);
                    }
                    check(rc, mark, "libxl_domain_create_restore (after " + pump.bytes() + " stream bytes)", io);
                }
                // 5. let it run
                if (!paused) {
                    unpauseOrDestroy(domid.getValue(), "restored");
                }
                return domid.getValue();
            }
        });
    }

    private boolean domainExists(int domid) {
        DominfoStruct s = new DominfoStruct();
        xl.libxl_dominfo_init(s);
        try {
            return xl.libxl_domain_info(ctx, s, domid) == 0;
        } finally {
            xl.libxl_dominfo_dispose(s);
        }
    }

    // ---- PCI -------------------------------------------------------------------------------------------

    @Override
    public void assignableAdd(LibxlDevicePci pci, boolean rebind) throws LibxlException {
        withPci(pci, "libxl_device_pci_assignable_add of " + describe(pci),
                s -> xl.libxl_device_pci_assignable_add(ctx, s, rebind ? 1 : 0));
    }

    @Override
    public void assignableRemove(LibxlDevicePci pci, boolean rebind) throws LibxlException {
        withPci(pci, "libxl_device_pci_assignable_remove of " + describe(pci),
                s -> xl.libxl_device_pci_assignable_remove(ctx, s, rebind ? 1 : 0));
    }

    @Override
    public List<LibxlDevicePci> assignableList() throws LibxlException {
        return whileOpen(() -> {
            IntByReference n = new IntByReference();
            Pointer list = xl.libxl_device_pci_assignable_list(ctx, n);
            // NULL with num 0 is libxl's answer when pciback is not loaded: nothing is assignable
            List<LibxlDevicePci> out = readPciArray(list, n.getValue());
            if (list != null) {
                xl.libxl_device_pci_assignable_list_free(list, n.getValue());
            }
            return out;
        });
    }

    @Override
    public void pciAdd(int domid, LibxlDevicePci pci) throws LibxlException {
        requireDomid(domid);
        withPci(pci, "libxl_device_pci_add of " + describe(pci) + " to domain " + domid,
                s -> xl.libxl_device_pci_add(ctx, domid, s, SYNC));
    }

    @Override
    public void pciRemove(int domid, LibxlDevicePci pci, boolean force) throws LibxlException {
        requireDomid(domid);
        withPci(pci, (force ? "libxl_device_pci_destroy of " : "libxl_device_pci_remove of ") + describe(pci)
                        + " from domain " + domid,
                s -> force ? xl.libxl_device_pci_destroy(ctx, domid, s, SYNC)
                        : xl.libxl_device_pci_remove(ctx, domid, s, SYNC));
    }

    /** Not a libxl call: libxl's internal reset recipe by sysfs writes (see {@link SysfsPciReset}). */
    @Override
    public void pciReset(LibxlDevicePci pci) throws LibxlException {
        Objects.requireNonNull(pci, "pci");
        whileOpen(() -> new SysfsPciReset(Path.of("/")).reset(pci));
    }

    @Override
    public List<LibxlDevicePci> pciList(int domid) throws LibxlException {
        requireDomid(domid);
        return whileOpen(() -> {
            IntByReference n = new IntByReference();
            Pointer list = xl.libxl_device_pci_list(ctx, domid, n);
            List<LibxlDevicePci> out = readPciArray(list, n.getValue());
            if (list != null) {
                xl.libxl_device_pci_list_free(list, n.getValue());
            }
            return out;
        });
    }

    private interface PciCall {
        int call(DevicePciStruct s);
    }

    private void withPci(LibxlDevicePci pci, String what, PciCall call) throws LibxlException {
        Objects.requireNonNull(pci, "pci");
        whileOpen(() -> {
            long mark = log.mark();
            DevicePciStruct s = toStruct(xl, libc, pci);
            try {
                check(call.call(s), mark, what);
            } finally {
                xl.libxl_device_pci_dispose(s); // frees the strdup'ed name
            }
            return null;
        });
    }

    private static String describe(LibxlDevicePci pci) {
        return pci.name() != null && pci.bus() == 0 && pci.dev() == 0 && pci.func() == 0 && pci.domain() == 0
                ? "'" + pci.name() + "'" : pci.bdf();
    }

    /**
     * A {@code libxl_device_pci} initialised by libxl and filled from the record; the name is {@code strdup}ed
     * because {@code _dispose} frees it with {@code free()}. Dispose after use.
     */
    static DevicePciStruct toStruct(XenlightLibrary xl, LibC libc, LibxlDevicePci d) {
        DevicePciStruct s = new DevicePciStruct();
        xl.libxl_device_pci_init(s);
        s.domain = d.domain();
        s.bus = (byte) d.bus();
        s.dev = (byte) d.dev();
        s.func = (byte) d.func();
        s.vdevfn = d.vdevfn();
        s.vfunc_mask = d.vfuncMask();
        s.msitranslate = (byte) (d.msitranslate() ? 1 : 0);
        s.power_mgmt = (byte) (d.powerMgmt() ? 1 : 0);
        s.permissive = (byte) (d.permissive() ? 1 : 0);
        s.seize = (byte) (d.seize() ? 1 : 0);
        s.rdm_policy = d.rdmPolicy().code();
        s.name = d.name() == null ? null : libc.strdup(d.name());
        return s;
    }

    /** The record for a struct libxl filled. */
    public static LibxlDevicePci fromStruct(DevicePciStruct s) {
        return new LibxlDevicePci(s.domain, s.bus & 0xff, s.dev & 0xff, s.func & 0xff, s.vdevfn, s.vfunc_mask,
                s.msitranslate != 0, s.power_mgmt != 0, s.permissive != 0, s.seize != 0,
                RdmPolicy.ofCode(s.rdm_policy), s.name == null ? null : s.name.getString(0, "UTF-8"));
    }

    private static List<LibxlDevicePci> readPciArray(Pointer list, int n) {
        List<LibxlDevicePci> out = new ArrayList<>();
        if (list == null) {
            return out;
        }
        int size = new DevicePciStruct().size();
        for (int i = 0; i < n; i++) {
            DevicePciStruct s = new DevicePciStruct(list.share((long) i * size));
            s.read();
            out.add(fromStruct(s));
        }
        return out;
    }

    // ---- lifetime --------------------------------------------------------------------------------------

    @Override
    public void close() {
        lifetime.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            xl.libxl_ctx_free(ctx);
            LIVE_HOOKS.remove(hooks);
            log.close();
        } finally {
            lifetime.writeLock().unlock();
        }
    }

    /** An opaque {@code libxl_domain_config} in our memory, {@code _init}ed and {@code _dispose}d by libxl. */
    private static final class DomainConfig implements AutoCloseable {
        final Memory pointer;
        private final XenlightLibrary xl;

        private DomainConfig(XenlightLibrary xl) {
            this.xl = xl;
            this.pointer = new Memory(DOMAIN_CONFIG_BYTES);
            pointer.clear();
            xl.libxl_domain_config_init(pointer);
        }

        static DomainConfig empty(NativeLibxl l) {
            return new DomainConfig(l.xl);
        }

        static DomainConfig fromJson(NativeLibxl l, String json) throws LibxlException {
            long mark = l.log.mark();
            DomainConfig c = new DomainConfig(l.xl);
            int rc = l.xl.libxl_domain_config_from_json(l.ctx, c.pointer, json);
            if (rc != 0) {
                c.close();
                l.check(rc, mark, "libxl_domain_config_from_json (the domain configuration JSON was refused)");
            }
            return c;
        }

        @Override
        public void close() {
            xl.libxl_domain_config_dispose(pointer);
            pointer.close();
        }
    }
}
