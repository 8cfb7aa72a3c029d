package org.xenhost.driver.xen;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenhost.hostdev.HostdevException;
import org.xenhost.hostdev.HostdevManager;
import org.xenhost.hostdev.StopResult;

import java.util.UUID;

/**
 * Takes back the devices of a domain that is gone from this host (stopped, destroyed, migrated away, or a
 * migration's copy destroyed): managed ones to their dom0 driver, the others to the pool. The one place that asks
 * the journal whether the domain has any and calls the manager's stop.
 */
final class DomainDevices {
    private static final Logger log = LoggerFactory.getLogger(DomainDevices.class);

    private DomainDevices() {
    }

    /**
     * Forward only: the domain is gone either way, so problems are logged (and the journal keeps what a restart
     * must finish), not thrown. Does nothing when the journal gives the domain no device.
     */
    static void release(HostdevManager manager, String uuid, String name) {
        if (manager == null || manager.ownerships(UUID.fromString(uuid)).isEmpty()) {
            return;
        }
        try {
            StopResult s = manager.stopDomainDevices(uuid);
            if (!s.returned().isEmpty()) {
                log.info("domain {}: devices {} given back to their dom0 drivers", name, s.returned());
            }
            if (!s.pooled().isEmpty()) {
                log.info("domain {}: devices {} stay assignable", name, s.pooled());
            }
            s.problems().forEach(p -> log.warn("domain {}: {}", name, p));
        } catch (HostdevException | IllegalArgumentException e) {
            log.warn("domain {}: its devices were not all taken back: {}", name, e.getMessage());
        }
    }
}
