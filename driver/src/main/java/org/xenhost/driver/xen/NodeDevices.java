package org.xenhost.driver.xen;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenhost.driver.api.DriverError;
import org.xenhost.driver.api.DriverException;
import org.xenhost.driver.api.NodeDevice;
import org.xenhost.driver.api.ResetReport;
import org.xenhost.hostdev.DeviceState;
import org.xenhost.hostdev.DeviceVerdict;
import org.xenhost.hostdev.HostdevManager;
import org.xenhost.hostdev.Ownership;
import org.xenhost.hostdev.ResetPlan;
import org.xenhost.pci.PciAddress;
import org.xenhost.pci.PciClassNames;
import org.xenhost.pci.PciDevice;
import org.xenhost.pci.SysfsPciReader;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The host's PCI functions as node devices ({@code virsh nodedev-*}): listing, detach to pciback, reattach to
 * dom0 and the reset report, all through the {@link HostdevManager}. Device operations lock only their device
 * (the manager's per-device locks); nothing here holds a lock of its own.
 */
final class NodeDevices {
    private static final Logger log = LoggerFactory.getLogger(NodeDevices.class);

    private final HostdevManager manager;
    private final SysfsPciReader reader;

    NodeDevices(HostdevManager manager, Path sysfsRoot) {
        this.manager = manager;
        this.reader = new SysfsPciReader(sysfsRoot);
    }

    HostdevManager manager() {
        return manager;
    }

    /** Every function; a query: no lock, no libxl call. */
    List<NodeDevice> list() {
        Map<PciAddress, DeviceVerdict> verdicts = manager.verdicts();
        Map<PciAddress, Ownership> journal = manager.ownerships();
        List<NodeDevice> out = new ArrayList<>();
        for (PciDevice d : reader.scan().devices()) {
            out.add(describe(d, verdicts.get(d.address()), journal.get(d.address())));
        }
        return out;
    }

    NodeDevice detach(String bdf, String name, boolean force) {
        PciAddress a = address(bdf);
        Ownership o = DeviceErrors.call(() -> manager.assignableAdd(a, name, force));
        log.info("node device {} detached from dom0 (was {}): assignable{}", a,
                o.originalDriver() == null ? "on no driver" : "on " + o.originalDriver(),
                o.name() == null ? "" : " as '" + o.name() + "'");
        return one(a);
    }

    NodeDevice reattach(String device, boolean rebind) {
        if (device == null || device.isBlank()) {
            throw new DriverException(DriverError.INVALID_INPUT, "a device is required: a BDF (DDDD:BB:DD.F) or its friendly name");
        }
        PciAddress a = DeviceErrors.call(() -> manager.assignableRemove(device, rebind));
        NodeDevice now = one(a);
        log.info("node device {} reattached to dom0 ({})", a, now.driver() == null ? "bound to no driver" : "driver " + now.driver());
        return now;
    }

    /**
     * Performs the reset, under the device's lock; the manager refuses a device in use, one on a dom0 driver and one
     * without a safe reset (DeviceRefusedException: exit 2) and reports a failed reset (exit 1).
     */
    ResetReport reset(String bdf) {
        PciAddress a = address(bdf);
        ResetPlan p = DeviceErrors.call(() -> manager.reset(a));
        log.info("node device {} reset: {} (performed)", a, p.method());
        return new ResetReport(a.toString(), p.method().name(), p.reason(),
                "xenhost, now, by libxl's reset recipe (pciback do_flr if the kernel has it, else the device's "
                        + "sysfs reset file)", true);
    }

    private NodeDevice one(PciAddress a) {
        PciDevice d = reader.read(a).orElseThrow(() -> new DriverException(DriverError.FAILED, a + " vanished from sysfs"));
        return describe(d, manager.verdicts().get(a), manager.ownership(a).orElse(null));
    }

    private static PciAddress address(String bdf) {
        try {
            return PciAddress.parse(bdf);
        } catch (IllegalArgumentException e) {
            throw new DriverException(DriverError.INVALID_INPUT, e.getMessage());
        } catch (NullPointerException e) {
            throw new DriverException(DriverError.INVALID_INPUT, "a device address (DDDD:BB:DD.F) is required");
        }
    }

    private static NodeDevice describe(PciDevice d, DeviceVerdict v, Ownership o) {
        String placement;
        if (o != null && o.state() == DeviceState.ATTACHED) {
            placement = "attached";
        } else if (o != null && !o.free()) {
            placement = "moving"; // mid-hand-over (pool add/remove, a start or replug taking it): offered to nobody
        } else if ("pciback".equals(d.driver())) {
            placement = "assignable";
        } else {
            placement = "host";
        }
        return new NodeDevice(d.address().toString(),
                d.pciClass() == null ? null : String.format(Locale.ROOT, "%06x", d.pciClass()),
                d.pciClass() == null ? "unknown" : PciClassNames.of(d.pciClass()),
                hex(d.vendor()), hex(d.device()), d.driver(), d.iommuGroup(), placement,
                v != null ? v.owner() : o != null && o.owner() != null ? o.owner().name() : null,
                o == null ? null : o.name(), o == null ? null : o.originalDriver(),
                o != null && o.state() == DeviceState.ATTACHED && o.managed(),
                v != null && v.assignable(), v == null ? "vanished while listed" : v.reason());
    }

    private static String hex(Integer id) {
        return id == null ? null : String.format(Locale.ROOT, "%04x", id);
    }
}
