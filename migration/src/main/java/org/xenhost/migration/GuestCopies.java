package org.xenhost.migration;

import org.xenhost.libxl.DomainInfo;
import org.xenhost.libxl.DomainState;
import org.xenhost.libxl.Libxl;
import org.xenhost.libxl.LibxlException;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The few things a migration does to a copy of the guest on this host, each safe to repeat (recovery may run
 * it again after a crash half-way). A copy is found by uuid and the domid this side journaled, so a rename in
 * between does not lose it; the domid matters when both toolstacks drive one Xen (a same-host migration, as xl's
 * localhost tests): then the source's and the destination's copies share the uuid, and one side must never act on
 * the other's. Before a domid is known, only a copy named as this side names its copies qualifies.
 */
final class GuestCopies {
    private final Libxl libxl;
    private final MigrationHost host;

    GuestCopies(Libxl libxl, MigrationHost host) {
        this.libxl = libxl;
        this.host = host;
    }

    /**
     * This side's copy: the domain with {@code uuid} and {@code domid}, or, while the domid is unknown (null), the
     * first domain with {@code uuid} under one of {@code names} (in that order of preference).
     */
    Optional<DomainInfo> find(String uuid, Integer domid, String... names) throws LibxlException {
        List<DomainInfo> sameUuid = new ArrayList<>();
        for (DomainInfo d : libxl.listDomains()) {
            if (d.domid() != 0 && d.uuid().toString().equalsIgnoreCase(uuid)) {
                if (domid != null && d.domid() == domid) {
                    return Optional.of(d);
                }
                sameUuid.add(d);
            }
        }
        if (domid != null) {
            return Optional.empty();
        }
        for (String name : names) {
            for (DomainInfo d : sameUuid) {
                if (name.equals(d.name())) {
                    return Optional.of(d);
                }
            }
        }
        return Optional.empty();
    }

    /** The source's copy: the guest itself or, after the hand-over, NAME--migratedaway. */
    private Optional<DomainInfo> sourceCopy(MigrationCookie c, Integer domid) throws LibxlException {
        return find(c.uuid(), domid, c.migratedAwayName(), c.name());
    }

    /** The destination's copy: NAME--incoming until the commit renames it. */
    Optional<DomainInfo> incomingCopy(MigrationCookie c, Integer domid) throws LibxlException {
        return domid != null ? find(c.uuid(), domid) : find(c.uuid(), null, c.incomingName());
    }

    /** Source: give the guest its name back and let it run (libxl_domain_resume with suspend_cancel). */
    private int reviveSource(MigrationCookie c, Integer domid, String name) throws LibxlException {
        DomainInfo d = sourceCopy(c, domid).orElseThrow(() -> new LibxlException(org.xenhost.libxl.LibxlError.DOMAIN_NOTFOUND,
                "the source copy of " + name + " (" + c.uuid() + ") is gone"));
        if (!name.equals(d.name())) {
            libxl.rename(d.domid(), d.name(), name);
        }
        if (d.state() == DomainState.SUSPENDED || d.state() == DomainState.PAUSED) {
            libxl.resume(d.domid());
        }
        return d.domid();
    }

    /** Source: the destination runs the guest; the suspended copy here goes, its detached devices per policy. */
    void destroySource(MigrationCookie c, Integer domid) throws LibxlException {
        Optional<DomainInfo> d = sourceCopy(c, domid);
        if (d.isPresent()) {
            libxl.destroy(d.get().domid());
        }
        if (!c.hostdevs().isEmpty()) {
            host.releaseOutgoing(c);
        }
    }

    /** Source: the guest stays: it runs again under its name, with the devices it had before the migration. */
    int reviveSource(MigrationCookie c, Integer sourceDomid) throws LibxlException {
        int domid = reviveSource(c, sourceDomid, c.name());
        if (!c.hostdevs().isEmpty()) {
            host.replugOutgoing(c, domid);
        }
        return domid;
    }

    /**
     * Destination: drop the received copy while it has not run: the paused incoming one, or one a failed commit
     * already renamed to the guest's name but could not unpause (the source resumes the guest, so it must go).
     */
    void destroyIncoming(MigrationCookie c, Integer domid) throws LibxlException {
        Optional<DomainInfo> d = incomingCopy(c, domid);
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
    int commitIncoming(MigrationCookie c, Integer domid) throws LibxlException {
        DomainInfo d = incomingCopy(c, domid).orElseThrow(() -> new LibxlException(org.xenhost.libxl.LibxlError.DOMAIN_NOTFOUND,
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
