package org.xenhost.driver.api;

import org.xenhost.migration.MigrationCookie;
import org.xenhost.migration.MigrationOptions;
import org.xenhost.migration.MigrationStats;

import java.util.List;

/**
 * What a management layer calls on one host, like libvirt's virDriver: the same interface is implemented
 * in-process over Xen ({@code XenDriver}) and remotely over the daemon's admin socket, so the CLI and the
 * daemon share it. Domains are named by name, uuid or domid ({@code dom} arguments).
 *
 * <p>Every method may throw {@link DriverException}; its {@link DriverError} says whose fault it was.
 * Long operations (create, save, restore, migrate) run as the domain's modify job: a second modify call
 * on the same domain fails with {@link DriverError#BUSY}; queries ({@code list}, {@code info},
 * {@code jobInfo}) never wait behind a job.
 */
public interface Driver extends AutoCloseable {

    /** Xen version, memory, CPUs and NUMA of this host. */
    HostDescription hostInfo();

    /** Domains known to xenhost or Xen; {@code all} includes defined domains that are shut off. */
    List<DomainSummary> list(boolean all);

    /** Stores a persistent domain from xl.cfg text ({@code source} names the file in errors); not started. */
    DomainSummary define(String xlCfg, String source);

    /** Forgets a defined domain; it must be shut off. */
    void undefine(String dom);

    /** Starts a defined domain. */
    DomainSummary start(String dom);

    /** Starts a transient domain from xl.cfg text (like {@code xl create FILE}). */
    DomainSummary createTransient(String xlCfg, String source);

    /** Stops a domain at once; its managed devices go back to their host drivers. */
    void destroy(String dom);

    /** Asks the guest to shut down; a guest that ignores it is destroyed after {@code timeoutSeconds}. */
    void shutdown(String dom, int timeoutSeconds);

    void pause(String dom);

    void resume(String dom);

    /** One domain in full: summary, configuration, devices, and a job interrupted by a daemon restart. */
    DomainDetails info(String dom);

    /** The domain's configuration as xl.cfg text ({@code json == false}) or libxl JSON. */
    String dumpConfig(String dom, boolean json);

    /**
     * Saves a running domain to {@code file} (an xl save file: xl header, config, libxl stream v2) and stops
     * it, like {@code xl save}. The file is written by the daemon, so the path is on the daemon's host.
     */
    SaveResult save(String dom, String file);

    /** Starts a domain from an xl save file. */
    DomainSummary restore(String file, boolean paused);

    /** Takes a domain made outside xenhost (e.g. by {@code xl create}) under management. */
    DomainSummary adopt(int domid);

    /**
     * Moves a domain to the xenhost daemon listening at {@code destination} (HOST:PORT, its TLS migration port),
     * peer to peer: this daemon runs begin, asks the destination to prepare, performs the stream, and finishes
     * with the commit handshake (the destination unpauses only once this host has given the guest up) and
     * confirm. Blocks until done; {@link #jobInfo} shows progress meanwhile and {@link #abortJob} stops it
     * before the hand-over (the guest then keeps running here).
     *
     * @return the final statistics (total time, downtime)
     */
    MigrationStats migrate(String dom, String destination, MigrationOptions options);

    // ---- node devices (the host's PCI functions) and hotplug ------------------------------------------

    /** Every PCI function of the host: sysfs facts, where xenhost has put it, whether it could be assigned. */
    List<NodeDevice> nodeDeviceList();

    /**
     * Makes a host device assignable ({@code virsh nodedev-detach}, {@code xl pci-assignable-add}): unbinds its
     * dom0 driver (remembered for {@link #nodeDeviceReattach}) and binds it to pciback. Idempotent.
     *
     * @param name  a friendly name for it, or null
     * @param force take it even if it carries the root filesystem or the default route
     */
    NodeDevice nodeDeviceDetach(String bdf, String name, boolean force);

    /**
     * Gives an assignable device back to dom0 ({@code virsh nodedev-reattach}, {@code xl pci-assignable-remove}).
     *
     * @param device a BDF or the friendly name given at detach
     * @param rebind bind it to the dom0 driver it had before (virsh always does); else leave it unbound
     */
    NodeDevice nodeDeviceReattach(String device, boolean rebind);

    /**
     * Resets a function now ({@code virsh nodedev-reset}) by libxl's reset recipe. Refused (INVALID_INPUT, exit 2)
     * for a device a domain has, one still bound to a dom0 driver other than pciback (detach it first) and one
     * without a safe reset; a reset the kernel fails is FAILED (exit 1).
     */
    ResetReport nodeDeviceReset(String bdf);

    /**
     * Hot-plugs a PCI device into a domain and/or adds it to the domain's definition ({@code virsh attach-device
     * [--live] [--config]}). {@code pciSpec} is an xl.cfg PCI spec with every {@code libxl_device_pci} option
     * ({@code 0000:04:00.0@5,permissive=1,rdm_policy=relaxed,seize=1}) plus xenhost's {@code managed=yes} (take
     * the device from its dom0 driver now, give it back when it leaves the domain). A modify job on the domain.
     */
    DeviceChange attachDevice(String dom, String pciSpec, DeviceOptions options);

    /**
     * Hot-unplugs a PCI device from a domain and/or removes it from the definition ({@code virsh detach-device}).
     * A managed device goes back to its dom0 driver; an unmanaged one stays assignable.
     */
    DeviceChange detachDevice(String dom, String bdf, DeviceOptions options);
    // ---- the phases of a migration (libvirt's v3 protocol); migrate() is begin, perform and confirm on the
    //      source, with the destination's prepare and finish run by its listener when perform asks -----------

    /**
     * Begin, on the source: checks that the domain can go with these options (a guest with devices needs
     * {@code --hostdev-policy=replug}) and returns the cookie (name, uuid, needs, devices). No side effect.
     */
    MigrationCookie migrateBegin(String dom, MigrationOptions options);

    /**
     * Prepare, on the destination: would this host take the guest now (stream version, name, memory, CPU features,
     * a device for each passed-through one)? Returns the cookie with this host's device mapping or fails REFUSED
     * with the reason. Called alone it reserves nothing; perform has the listener run it again and reserve.
     */
    MigrationCookie migratePrepare(MigrationCookie cookie);

    /**
     * Perform, on the source, peer to peer with the daemon at {@code destination}: prepare there, detach
     * replugged devices, stream, and the commit handshake up to the destination's finish. Afterwards the guest
     * runs at the destination and the copy here waits, paused, for {@link #migrateConfirm} (which the daemon does
     * by itself if nobody does within a minute). A failure before the hand-over leaves the guest running here.
     */
    MigrationStats migratePerform(String dom, MigrationCookie cookie, String destination);

    /**
     * Finish, on the destination, of a migration whose source went away before saying go or abort: settles the
     * incoming copy by the two journals (asking the source), never running it unless the source handed it over.
     * Returns the destination's phase afterwards ({@code unpaused}, {@code destroyed}, or still {@code received}).
     */
    String migrateFinish(String migrationId);

    /** Confirm, on the source, of a performed migration: the copy here is destroyed, its devices released. */
    MigrationStats migrateConfirm(String migrationId);

    /** The modify job running on the domain, or the last one a daemon restart interrupted. */
    JobInfo jobInfo(String dom);

    /** Asks the domain's running job to stop (e.g. a migration); false if it cannot be aborted. */
    boolean abortJob(String dom);

    @Override
    void close();
}
