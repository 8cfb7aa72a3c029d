package org.xenhost.daemon.demo;

import java.util.List;

/**
 * What {@code xenhost demo} did, as {@code --json} prints it (one document) and the text summary shows it. Times
 * are milliseconds, sizes bytes.
 *
 * @param workDir     the throwaway working directory (gone when this is printed, see {@code cleanup})
 * @param hosts       the two daemons
 * @param guest       the guest and its device
 * @param started     the guest's first start, on the source
 * @param saveRestore the save to a file on the source and the restore from it
 * @param migration   the live migration to the destination
 * @param devicesBefore the guest's device and the destination's counterpart before the migration (nodedev-list)
 * @param replug      how the passed-through device followed the guest (the migration's replug report)
 * @param devices     where each device ended (nodedev-list of both hosts after the migration)
 * @param totalMs     the whole demo, cleanup included
 * @param cleanup     what the demo checked after cleaning up
 */
public record DemoSummary(String workDir, List<Host> hosts, Guest guest, Started started, SaveRestore saveRestore,
                          List<Device> devicesBefore, Migration migration, Replug replug, List<Device> devices, long totalMs,
                          Cleanup cleanup) {

    /** This summary completed with the demo's total time and its cleanup check. */
    public DemoSummary finished(long total, Cleanup done) {
        return new DemoSummary(workDir, hosts, guest, started, saveRestore, devicesBefore, migration, replug, devices, total, done);
    }

    /** One xenhostd child process. */
    public record Host(String name, long pid, String adminSocket, String migrationEndpoint, long readyMs) {
    }

    /** The demo guest as defined. */
    public record Guest(String name, String uuid, long memoryMiB, int vcpus, long dirtyRateBytesPerSecond,
                        String device, String vendorDevice) {
    }

    /** The guest running on the source after {@code define} + {@code create}. */
    public record Started(String host, int domid, String state, List<String> devices, long ms) {
    }

    /**
     * {@code save} then {@code restore} on the source.
     *
     * @param bytes       size of the save file (xl header + libxl stream v2)
     * @param pages       guest pages with contents in it
     * @param domidAfter  the restored domain's new domid
     * @param stateAfter  its state after the restore
     * @param deviceWhileSaved the guest's managed device between save and restore (nodedev-list): back with dom0
     */
    public record SaveRestore(String host, String file, long bytes, long pages, long saveMs, long restoreMs,
                              int domidBefore, int domidAfter, String stateAfter, Device deviceWhileSaved) {
    }

    /**
     * The live migration as the source's migrate job reported it at the end.
     *
     * @param passes                  pre-copy passes (iterations) over memory, the final one included
     * @param memoryBytes             the guest's memory size
     * @param sourceStateAfter        the guest on the source afterwards; null = gone
     * @param destinationStateAfter   the guest on the destination afterwards
     */
    public record Migration(String from, String to, String outcome, long bytes, long pages, int passes, long totalMs,
                            long downtimeMs, long memoryBytes, String sourceStateAfter, String destinationStateAfter,
                            int destinationDomid) {
    }

    /**
     * The device's move with the guest, as the migration reported it ({@code --hostdev-policy=replug}: the
     * destination mapped it in prepare, the source detached it before the stream, the destination attached its
     * match before unpausing).
     *
     * @param replugged   the migration's report: source BDF → destination BDF
     * @param via         how the device moved: {@code hostdev-policy=replug}
     */
    public record Replug(String guest, String detachedHost, String detachedBdf, String attachedHost, String attachedBdf,
                         String vendorDevice, java.util.Map<String, String> replugged, String via) {
    }

    /**
     * A passed-through device as the host's daemon lists it ({@code nodedev-list}).
     *
     * @param driver    the dom0 driver it is bound to (pciback = assignable or given to a guest)
     * @param placement {@code host}, {@code assignable} or {@code attached}
     * @param owner     the domain that has it, or null
     * @param managed   attached as managed (goes back to its dom0 driver when it leaves the domain)
     */
    public record Device(String host, String bdf, String vendorDevice, String driver, String placement, String owner,
                         boolean managed) {
    }

    /** The demo's own check that nothing outlives it. */
    public record Cleanup(boolean daemonsStopped, boolean workDirRemoved) {
    }
}
