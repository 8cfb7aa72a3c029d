package org.xenhost.migration;

import org.xenhost.libxl.DomainInfo;
import org.xenhost.libxl.DomainState;
import org.xenhost.libxl.Libxl;
import org.xenhost.libxl.LibxlException;

import java.util.Optional;

/**
 * The few things a migration does to a copy of the guest on this host, each safe to repeat (recovery may run
 * it again after a crash half-way). Copies are found by uuid, so a rename in between does not lose them.
 */
final class GuestCopies {
    private final Libxl libxl;
    private final MigrationHost host;

    GuestCopies(Libxl libxl, MigrationHost host) {
        this.libxl = libxl;
        this.host = host;
    }

    Optional<DomainInfo> find(String uuid) throws LibxlException {
        for (DomainInfo d : libxl.listDomains()) {
            if (d.domid() != 0 && d.uuid().toString().equalsIgnoreCase(uuid)) {
                return Optional.of(d);
            }
        }
        return Optional.empty();
    }

    /** Source: give the guest its name back and let it run (libxl_domain_resume with suspend_cancel). */
    int reviveSource(String uuid, String name) throws LibxlException {
        DomainInfo d = find(uuid).orElseThrow(() -> new LibxlException(org.xenhost.libxl.LibxlError.DOMAIN_NOTFOUND,
                "the source copy of " + name + " (" + uuid + ") is gone"));
        if (!name.equals(d.name())) {
            libxl.rename(d.domid(), d.name(), name);
        }
        if (d.state() == DomainState.SUSPENDED || d.state() == DomainState.PAUSED) {
            libxl.resume(d.domid());
        }
        return d.domid();
    }

    /** Source: the destination runs the guest; the suspended copy here goes, its detached devices per policy. */
    void destroySource(MigrationCookie c) throws LibxlException {
        Optional<DomainInfo> d = find(c.uuid());
        if (d.isPresent()) {
            libxl.destroy(d.get().domid());
        }
        if (!c.hostdevs().isEmpty()) {
            host.releaseOutgoing(c);
        }
    }

    /** Source: the guest stays: it runs again under its name, with the devices it had before the migration. */
    int reviveSource(MigrationCookie c) throws LibxlException {
        int domid = reviveSource(c.uuid(), c.name());
        if (!c.hostdevs().isEmpty()) {
            host.replugOutgoing(c, domid);
        }
        return domid;
    }

    /**
     * Destination: drop the received copy while it has not run: the paused incoming one, or one a failed commit
     * already renamed to the guest's name but could not unpause (the source resumes the guest, so it must go).
     */
    void destroyIncoming(MigrationCookie c) throws LibxlException {
        Optional<DomainInfo> d = find(c.uuid());
        boolean incoming = d.isPresent() && c.incomingName().equals(d.get().name());
        boolean stuckInCommit = d.isPresent() && c.destinationName().equals(d.get().name())
                && d.get().state() == DomainState.PAUSED;
        if (incoming || stuckInCommit) {
            libxl.destroy(d.get().domid());
        }
        if (!c.replug().isEmpty()) {
            host.unplugIncoming(c); // devices a failed commit attached go back to the pool
        }
    }

    /** Destination: the copy becomes the guest: its own name, running unless asked to stay paused. */
    int commitIncoming(MigrationCookie c) throws LibxlException {
        DomainInfo d = find(c.uuid()).orElseThrow(() -> new LibxlException(org.xenhost.libxl.LibxlError.DOMAIN_NOTFOUND,
                "the received copy of " + c.name() + " (" + c.uuid() + ") is gone"));
        if (c.incomingName().equals(d.name())) {
            libxl.rename(d.domid(), c.incomingName(), c.destinationName());
        }
        if (!c.replug().isEmpty()) {
            // the mapped devices, while the guest is still paused (it resumes with them present)
            try {
                host.plugIncoming(c, d.domid());
            } catch (RuntimeException e) {
                // back to the incoming name, so the failure path recognises and destroys the copy
                libxl.rename(d.domid(), c.destinationName(), c.incomingName());
                throw e;
            }
        }
        if (!c.options().paused() && d.state() == DomainState.PAUSED) {
            libxl.unpause(d.domid());
        }
        return d.domid();
    }
}
