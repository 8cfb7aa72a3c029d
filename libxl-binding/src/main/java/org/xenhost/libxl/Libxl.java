package org.xenhost.libxl;

import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.List;
import java.util.Optional;

/**
 * What xenhost needs of libxenlight: one open libxl context. {@code NativeLibxl} drives the real libxl on a
 * Xen dom0; the emulated host implements the same contract (same error codes, same stream bytes), and nothing
 * above this interface knows which one it has.
 *
 * <p>Every operation blocks until libxl has finished (libxl's synchronous mode, {@code ao_how == NULL}); run
 * long ones (suspend, restore, create) on their own thread. Implementations are safe to call from several
 * threads. Failures are {@link LibxlException}s carrying libxl's error code; arguments that can never be valid
 * (negative domid, null) are {@link IllegalArgumentException}s / {@link NullPointerException}s.
 *
 * <p>Closing releases the context; calls after {@link #close()} fail with {@link IllegalStateException}.
 */
public interface Libxl extends AutoCloseable {

    /** The stream format {@code libxl_domain_suspend} writes and {@link #createRestore} expects (libxl stream v2). */
    int STREAM_VERSION = 2;

    // ---- host ------------------------------------------------------------------------------------------

    /** Xen version, memory and CPUs of this host ({@code libxl_get_version_info} + {@code libxl_get_physinfo}). */
    HostInfo hostInfo() throws LibxlException;

    // ---- domains ---------------------------------------------------------------------------------------

    /** Every domain, dom0 included, ordered by domid ({@code libxl_list_domain}). */
    List<DomainInfo> listDomains() throws LibxlException;

    /**
     * One domain ({@code libxl_domain_info}).
     *
     * @throws LibxlException {@link LibxlError#DOMAIN_NOTFOUND} if there is no such domain
     */
    DomainInfo domainInfo(int domid) throws LibxlException;

    /** The domain with this name, if any (libxl's {@code libxl_name_to_domid}). */
    default Optional<DomainInfo> findByName(String name) throws LibxlException {
        for (DomainInfo d : listDomains()) {
            if (name.equals(d.name())) {
                return Optional.of(d);
            }
        }
        return Optional.empty();
    }

    /**
     * Builds and starts a domain from a libxl domain configuration in libxl's JSON form (what
     * {@code libxl_domain_config_to_json} prints; {@code libxl_domain_create_new}). libxl creates the domain
     * paused; unless {@code paused}, it is unpaused before this returns.
     *
     * @return the new domain's id
     * @throws LibxlException {@link LibxlError#INVAL} if the JSON is not a domain configuration; others from libxl
     */
    int createDomain(String domainConfigJson, boolean paused) throws LibxlException;

    /**
     * The running configuration of a domain as libxl JSON ({@code libxl_retrieve_domain_configuration} +
     * {@code libxl_domain_config_to_json}), including devices attached since creation; what a migration
     * sends ahead of the stream.
     */
    String domainConfigJson(int domid) throws LibxlException;

    /** Pauses every vCPU of the domain ({@code libxl_domain_pause}). */
    void pause(int domid) throws LibxlException;

    /** Undoes {@link #pause} ({@code libxl_domain_unpause}). */
    void unpause(int domid) throws LibxlException;

    /**
     * Asks the guest to shut down ({@code libxl_domain_shutdown}): a PV-aware guest powers off by itself and the
     * domain then reports {@link DomainState#SHUTDOWN}; it still exists until {@link #destroy}ed. Returns once the
     * request is delivered, not when the guest has stopped.
     */
    void shutdown(int domid) throws LibxlException;

    /** Destroys the domain at once, detaching its devices by force ({@code libxl_domain_destroy}). */
    void destroy(int domid) throws LibxlException;

    /**
     * Resumes a domain after a suspend that is not going to be followed by a destroy, e.g. a failed migration
     * ({@code libxl_domain_resume(ctx, domid, suspend_cancel=1)}: the guest sees the suspend return as cancelled
     * and keeps its devices).
     */
    void resume(int domid) throws LibxlException;

    /**
     * Renames a domain ({@code libxl_domain_rename}, one xenstore transaction). {@code oldName} guards against a
     * concurrent rename: if it is not null and the domain is not called that, libxl fails with
     * {@link LibxlError#FAIL} ("racing ?"). A name another domain already has fails with {@link LibxlError#INVAL};
     * renaming a domain to its own name succeeds.
     */
    void rename(int domid, String oldName, String newName) throws LibxlException;

    // ---- save / restore --------------------------------------------------------------------------------

    /**
     * Saves the domain's state as a libxl migration stream v2 ({@code libxl_domain_suspend}) into
     * {@code target}: exactly the stream, from its header to its END record; the target is neither closed
     * nor flushed beyond the last write. Returns when the stream is complete; the domain is then suspended
     * (state {@link DomainState#SUSPENDED}): destroy it (migration done) or {@link #resume} it (failure).
     * Writes to {@code target} block as the channel does, which is the backpressure of a migration; to abort a
     * save in progress, close the target from another thread: the next write fails, the stream breaks and this
     * call returns with an error (the domain may be left paused or suspended: resume it).
     *
     * @param live     pre-copy while the guest runs (LIBXL_SUSPEND_LIVE); otherwise pause first, copy once
     * @param debug    add the VERIFY record and re-send memory so the receiver can compare (LIBXL_SUSPEND_DEBUG)
     * @param progress receives libxenguest's progress; {@link ProgressListener#NONE} to ignore it
     * @throws LibxlException e.g. {@link LibxlError#GUEST_TIMEDOUT} if the guest ignored the suspend request;
     *                        an I/O failure of {@code target} is reported as {@link LibxlError#FAIL} with the
     *                        {@link java.io.IOException} as cause
     */
    void suspend(int domid, WritableByteChannel target, boolean live, boolean debug, ProgressListener progress)
            throws LibxlException;

    /** {@link #suspend(int, WritableByteChannel, boolean, boolean, ProgressListener)} without progress reports. */
    default void suspend(int domid, WritableByteChannel target, boolean live, boolean debug) throws LibxlException {
        suspend(domid, target, live, debug, ProgressListener.NONE);
    }

    /**
     * Creates a domain from a configuration (libxl JSON) and a saved stream read from {@code source}
     * ({@code libxl_domain_create_restore}). The source should end where the stream ends: an implementation
     * may read ahead (the native one pumps the source into a kernel pipe), so bytes after the stream's END
     * record are not left in the channel. A source that ends early or is closed from another thread (to abort)
     * makes the restore fail. On failure no domain is left behind.
     *
     * @param streamVersion must be {@link #STREAM_VERSION} (2); libxl's legacy v1 conversion is not supported
     * @param paused        leave the restored domain paused (migration: unpause after the handshake);
     *                      otherwise it is unpaused before this returns
     * @return the new domain's id
     * @throws LibxlException {@link LibxlError#INVAL} for an unsupported stream version or a bad configuration;
     *                        a malformed stream is reported as libxl reports it (usually {@link LibxlError#FAIL})
     */
    int createRestore(String domainConfigJson, ReadableByteChannel source, int streamVersion, boolean paused,
                      ProgressListener progress) throws LibxlException;

    /** {@link #createRestore(String, ReadableByteChannel, int, boolean, ProgressListener)} for stream v2, no progress. */
    default int createRestore(String domainConfigJson, ReadableByteChannel source, boolean paused)
            throws LibxlException {
        return createRestore(domainConfigJson, source, STREAM_VERSION, paused, ProgressListener.NONE);
    }

    // ---- PCI passthrough -------------------------------------------------------------------------------

    /**
     * Makes a host device assignable: unbinds its dom0 driver, binds it to pciback and quarantines it
     * ({@code libxl_device_pci_assignable_add}). Idempotent for a device already on pciback. With
     * {@code rebind}, the original driver is remembered so {@link #assignableRemove} can give it back.
     * A {@code name} in {@code pci} is recorded (≤ 64 printable characters).
     */
    void assignableAdd(LibxlDevicePci pci, boolean rebind) throws LibxlException;

    /**
     * Returns a device from pciback to dom0 ({@code libxl_device_pci_assignable_remove}); with {@code rebind}
     * and a remembered driver, binds it to that driver again. {@code pci} may name the device by
     * {@code name} alone ({@link LibxlError#NOTFOUND} if no device has that name).
     */
    void assignableRemove(LibxlDevicePci pci, boolean rebind) throws LibxlException;

    /**
     * Devices bound to pciback and not in use by a guest ({@code libxl_device_pci_assignable_list}); empty if
     * pciback is not loaded.
     */
    List<LibxlDevicePci> assignableList() throws LibxlException;

    /**
     * Attaches an assignable device to a domain ({@code libxl_device_pci_add}, hot-plug if the domain runs).
     *
     * @throws LibxlException {@link LibxlError#FAIL} if the device is not assignable, {@link LibxlError#INVAL}
     *                        for a multi-function device without a vslot, others from libxl/QEMU
     */
    void pciAdd(int domid, LibxlDevicePci pci) throws LibxlException;

    /**
     * Detaches a device from a domain ({@code libxl_device_pci_remove}, or {@code libxl_device_pci_destroy}
     * when {@code force}: do not wait for the guest/device model to agree). The device stays on pciback.
     *
     * @throws LibxlException {@link LibxlError#INVAL} if the device is not attached to this domain
     */
    void pciRemove(int domid, LibxlDevicePci pci, boolean force) throws LibxlException;

    /** The devices attached to a domain, as its PCI backend in xenstore records them ({@code libxl_device_pci_list}). */
    List<LibxlDevicePci> pciList(int domid) throws LibxlException;

    /**
     * Resets one PCI function now, by libxl's own recipe ({@code libxl__device_pci_reset} in libxl_pci.c, which
     * libxl runs before every attach and after a detach but does not export): for a function bound to pciback,
     * when the kernel's pciback has a {@code do_flr} file (old forks only), write the BDF to
     * {@code /sys/bus/pci/drivers/pciback/do_flr}; otherwise write {@code 1} to
     * {@code /sys/bus/pci/devices/BDF/reset}, which makes the kernel reset the function by the first method it
     * has (device-specific, FLR, PM, bus). Blocks for as long as the reset takes. libxl ignores the result; this
     * reports it. Callers check that nobody uses the device first: the kernel does not.
     *
     * @throws LibxlException {@link LibxlError#FAIL} naming the file and the errno text when the write fails,
     *                        or when the kernel has no reset file for the function (no reset method)
     */
    void pciReset(LibxlDevicePci pci) throws LibxlException;

    // ---- lifetime --------------------------------------------------------------------------------------

    /** Frees the context ({@code libxl_ctx_free}). Idempotent. */
    @Override
    void close();
}
