package org.xenhost.driver.api;

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

    /** The modify job running on the domain, or the last one a daemon restart interrupted. */
    JobInfo jobInfo(String dom);

    /** Asks the domain's running job to stop (e.g. a migration); false if it cannot be aborted. */
    boolean abortJob(String dom);

    @Override
    void close();
}
