package org.xenhost.migration;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenhost.libxl.Libxl;
import org.xenhost.libxl.LibxlException;
import org.xenhost.transport.ControlMessage;
import org.xenhost.transport.OutboundStream;
import org.xenhost.transport.PeerConnection;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One outgoing migration, run on the caller's thread: begin, prepare (remote), perform, then the commit
 * handshake and confirm. Steps are numbered; a failure before the point of no return unwinds to a running
 * source guest, a failure after it is settled by {@link MigrationService}'s recovery from the two journals.
 */
public final class SourceSession {
    private static final Logger log = LoggerFactory.getLogger(SourceSession.class);
    /**
     * How long the destination may take to answer prepare (its checks) and the commit (rename, unpause): generous,
     * because a destination that has just started pays for its first host-facts read and libxl calls here (on real
     * Xen under emulation that took over 30 s); a destination that is gone is noticed sooner, by the connection.
     */
    private static final Duration PREPARE_WAIT = Duration.ofSeconds(120);
    private static final Duration POLL = Duration.ofMillis(200);

    private final MigrationService svc;
    private final OutgoingGuest guest;
    private final String destHost;
    private final int destPort;
    private final MigrationOptions options;
    private final String id;
    private final ProgressTracker progress;
    private final AtomicReference<String> abortReason = new AtomicReference<>();
    private volatile OutboundStream stream;
    private volatile PeerConnection conn;
    private JournalEntry entry;
    /** Set before the devices are detached: a rollback from then on re-attaches them. */
    private boolean unplugged;

    SourceSession(MigrationService svc, String id, OutgoingGuest guest, String destination, MigrationOptions options) {
        this.svc = svc;
        this.id = id;
        this.guest = guest;
        this.options = options;
        if (destination == null) {
            // begin only: the cookie needs no destination
            this.destHost = null;
            this.destPort = 0;
        } else {
            int colon = destination.lastIndexOf(':');
            if (colon <= 0) {
                throw new MigrationException(MigrationException.Kind.INVALID_INPUT, "destination '" + destination
                        + "' must be HOST:PORT of the destination daemon's migration listener");
            }
            this.destHost = destination.substring(0, colon).replace("[", "").replace("]", "");
            try {
                this.destPort = Integer.parseInt(destination.substring(colon + 1));
            } catch (NumberFormatException e) {
                throw new MigrationException(MigrationException.Kind.INVALID_INPUT, "destination '" + destination + "': port is not a number");
            }
            if (destPort < 1 || destPort > 65535) {
                throw new MigrationException(MigrationException.Kind.INVALID_INPUT, "destination '" + destination + "': port must be 1-65535");
            }
        }
        this.progress = new ProgressTracker(id, JournalEntry.SOURCE, guest.memoryMiB() << 20, Phase.BEGIN);
    }

    public String id() {
        return id;
    }

    public OutgoingGuest guest() {
        return guest;
    }

    public MigrationStats stats() {
        return progress.snapshot();
    }

    /**
     * Asks the migration to stop. Before the source has handed the guest over, the stream is cut, the source
     * resumes and the destination destroys its copy; afterwards it is too late and this returns false.
     */
    public boolean abort(String reason) {
        if (progress.phase().pastPointOfNoReturn()) {
            return false;
        }
        if (abortReason.compareAndSet(null, reason)) {
            OutboundStream s = stream;
            if (s != null) {
                s.abort(reason);
            }
            PeerConnection c = conn;
            if (c != null) {
                try {
                    c.send(Wire.encode(Wire.ABORT, new Wire.Abort(reason)));
                } catch (IOException ignored) {
                    // the link is gone: the destination settles on its own (it never unpauses without "go")
                }
            }
        }
        return true;
    }

    /** Runs the migration to its end (perform, then confirm); returns the final statistics or throws saying where the guest is. */
    public MigrationStats run() {
        perform();
        return confirm();
    }

    /**
     * Perform (libvirt's third phase, driven from the source, peer to peer): journals the cookie, has the
     * destination prepare it, detaches replugged devices, streams the guest and runs the commit handshake up to
     * the destination's result, so the destination's finish (unpause) has happened when this returns. The copy
     * here is then paused as NAME--migratedaway until {@link #confirm()}. A failure before the hand-over rolls
     * back (the guest keeps running here) and throws.
     */
    public MigrationStats perform() {
        if (destHost == null) {
            throw new MigrationException(MigrationException.Kind.INVALID_INPUT, "perform needs the destination's HOST:PORT");
        }
        svc.register(this);
        java.util.concurrent.ScheduledFuture<?> timer = options.timeoutSeconds() > 0
                ? svc.timer().schedule(() -> abort("timed out after " + options.timeoutSeconds() + " s"),
                options.timeoutSeconds(), java.util.concurrent.TimeUnit.SECONDS)
                : null;
        try {
            MigrationStats st = runSteps();
            if (entry.phase() == Phase.MIGRATED_AWAY) {
                svc.awaitConfirm(this);
            }
            return st;
        } finally {
            if (timer != null) {
                timer.cancel(false);
            }
            PeerConnection c = conn;
            if (c != null) {
                c.close();
            }
            svc.unregister(this);
        }
    }

    /**
     * Confirm (libvirt's last phase, on the source) after a successful {@link #perform()}: the destination runs
     * the guest, so the copy here is destroyed, its detached devices go where their policy says, and the journal
     * records COMMITTED. Repeating it (or the service's own confirmation of a perform nobody confirmed) is harmless.
     */
    public MigrationStats confirm() {
        synchronized (svc.lockFor(id)) {
            if (entry.phase() == Phase.MIGRATED_AWAY) {
                // 7. the destination runs the guest: the source copy goes
                boolean destroyed = true;
                try {
                    svc.copies().destroySource(entry.cookie(), entry.domid());
                } catch (LibxlException | RuntimeException e) {
                    destroyed = false;
                    log.warn("migration {}: the destination runs {}, but destroying the paused source copy {}--migratedaway "
                            + "failed: {}; retrying in the background (its devices are released once it is gone)",
                            id, guest.name(), guest.name(), e.getMessage());
                }
                if (destroyed) {
                    advance(Phase.COMMITTED, "completed");
                    svc.host().outgoingCommitted(guest.uuid(), options);
                } else {
                    // not COMMITTED: that is final, and would leave the paused copy and its devices behind for good;
                    // recovery asks the destination (which runs the guest) and commits, destroying the copy
                    svc.recoverLater(entry);
                }
                progress.finish("completed", null);
                log.info("migration {}: {} now runs on {} (downtime {} ms)", id, guest.name(), destHost, progress.snapshot().downtimeMs());
            } else if (entry.phase() != Phase.COMMITTED) {
                throw new MigrationException(MigrationException.Kind.REFUSED, "migration " + id + " of '" + guest.name()
                        + "' is " + entry.phase().label() + "; only a performed migration can be confirmed");
            }
            svc.confirmed(id);
            return progress.snapshot();
        }
    }

    private MigrationStats runSteps() {
        // 1. begin: the guest can go, the cookie says what it needs
        MigrationCookie cookie = begin();
        entry = new JournalEntry(id, JournalEntry.SOURCE, Phase.BEGIN, guest.name(), guest.uuid(), guest.domid(),
                destHost + ":" + destPort, cookie, null, Instant.now());
        svc.journal().write(entry);
        CrashPoint.reached("source:begin");
        // 2. prepare on the destination
        try {
            conn = svc.transport().connect(destHost, destPort);
            conn.send(Wire.encode(Wire.PREPARE, new Wire.Prepare(cookie)));
            Wire.Prepared p = Wire.decode(waitFor(PREPARE_WAIT, Wire.PREPARED), Wire.PREPARED, Wire.Prepared.class);
            if (!p.accepted()) {
                throw refusedByPeer(p.reason());
            }
            cookie = accepted(cookie, p);
        } catch (IOException e) {
            return rollback("preparing on " + destHost + ":" + destPort + " failed: " + e.getMessage(), e);
        }
        // the journal holds the mapping before any device moves: recovery re-attaches or releases from it
        entry = new JournalEntry(entry.id(), entry.role(), entry.phase(), entry.name(), entry.uuid(), entry.domid(),
                entry.peer(), cookie, entry.message(), Instant.now());
        advance(Phase.PREPARED, null);
        if (options.offline()) {
            return finishOffline();
        }
        // 2b. replug: the devices leave the guest before the stream (Xen refuses log-dirty while one is assigned)
        if (!cookie.replug().isEmpty()) {
            unplugged = true;
            try {
                svc.host().unplugOutgoing(cookie, guest.domid());
            } catch (RuntimeException e) {
                return rollback("detaching " + cookie.replug().keySet() + " from '" + guest.name() + "' failed: "
                        + e.getMessage(), e);
            }
            progress.replugged(cookie.replug());
            CrashPoint.reached("source:unplugged");
        }
        // 3. perform: the stream, with backpressure from the transport's window
        try {
            stream = conn.openStream("migration-" + id);
            advance(Phase.STREAMING, null);
            if (!options.live()) {
                progress.markPaused();
            }
            PacedChannel ch = new PacedChannel(stream, progress.tap(), options.bandwidthMiBps(), () -> abortReason.get() != null);
            svc.libxl().suspend(guest.domid(), ch, options.live(), options.debug(), progress);
            stream.close();
        } catch (IOException | LibxlException | RuntimeException e) {
            if (stream != null) {
                stream.abort(e.getMessage() == null ? e.toString() : e.getMessage());
            }
            return rollback("sending the guest failed: " + describe(e), e);
        }
        // 4. the destination restored the stream and holds a paused copy
        try {
            Wire.decode(waitFor(null, Wire.READY), Wire.READY, Wire.Ready.class);
        } catch (IOException e) {
            return rollback("the destination did not confirm the copy: " + e.getMessage(), e);
        }
        if (abortReason.get() != null) {
            return rollback("aborted: " + abortReason.get(), null);
        }
        // 5. point of no return: journal, rename, then clear the destination to unpause (xl's order)
        synchronized (svc.lockFor(id)) {
            advance(Phase.MIGRATED_AWAY, null);
            try {
                svc.libxl().rename(guest.domid(), guest.name(), guest.name() + "--migratedaway");
            } catch (LibxlException e) {
                // still ours to keep: the destination has not been cleared
                return rollback("renaming the source copy failed: " + e.getMessage(), e);
            }
        }
        try {
            conn.sendAndWait(Wire.encode(Wire.GO, new Wire.Go(id)), Duration.ofSeconds(30));
            CrashPoint.reached("source:go-sent");
            // 6. confirm: the destination reports its unpause
            Wire.Result r = Wire.decode(waitFor(null, Wire.RESULT), Wire.RESULT, Wire.Result.class);
            progress.markResumedRemotely();
            if (!r.ok()) {
                // the destination destroyed its copy before answering: the guest is ours again
                return rollback("the destination could not start the guest: " + r.message(), null);
            }
        } catch (IOException e) {
            // undecidable from here: recovery asks the destination which copy lives
            progress.finish("undecided", e.getMessage());
            svc.recoverLater(entry);
            throw new MigrationException(MigrationException.Kind.FAILED, "migration " + id + " of '" + guest.name()
                    + "' lost the destination during the final handshake (" + e.getMessage() + "); the source copy stays "
                    + "paused as '" + guest.name() + "--migratedaway' until the destination is asked which copy runs "
                    + "(this daemon retries; the destination's journal decides)");
        }
        // 7 is confirm(): the destination runs the guest
        return progress.snapshot();
    }

    /**
     * Begin (libvirt's first phase, on the source): checks that the guest can go with these options and builds
     * the cookie. No side effect: nothing is journaled, detached or sent.
     */
    public MigrationCookie begin() {
        // an offline migration copies no memory: the definition moves with its devices as they are written
        if (!options.offline() && !guest.hostdevs().isEmpty() && options.hostdevPolicy() == MigrationOptions.HostdevPolicy.REFUSE) {
            throw new MigrationException(MigrationException.Kind.REFUSED, "domain '" + guest.name() + "' has host devices "
                    + guest.hostdevBdfs() + ": Xen cannot track the pages a device writes by DMA (log-dirty is refused for "
                    + "a domain with assigned PCI devices), so its memory cannot be copied live; detach them, or migrate "
                    + "with --hostdev-policy=replug to unplug them here and plug matching devices on the destination");
        }
        for (String src : options.hostdevMap().keySet()) {
            if (!guest.hostdevBdfs().contains(src)) {
                throw new MigrationException(MigrationException.Kind.INVALID_INPUT, "--hostdev-map " + src + "="
                        + options.hostdevMap().get(src) + ": domain '" + guest.name() + "' has no device " + src
                        + " (its devices: " + guest.hostdevBdfs() + ")");
            }
        }
        if (guest.domid() == null && !options.offline()) {
            throw new MigrationException(MigrationException.Kind.REFUSED, "domain '" + guest.name()
                    + "' is not running; move its definition with --offline --persist");
        }
        if (guest.domid() != null && options.offline()) {
            throw new MigrationException(MigrationException.Kind.REFUSED, "domain '" + guest.name()
                    + "' is running; --offline is for shut-off domains");
        }
        List<PassedDevice> moving = options.offline() ? List.of() : guest.hostdevs();
        return new MigrationCookie(id, guest.name(), guest.uuid(), svc.host().hostName(), svc.endpoint(),
                svc.host().hostId(), Libxl.STREAM_VERSION, guest.memoryMiB(), guest.vcpus(), svc.host().cpuFlags(),
                moving.isEmpty() ? guest.configJson() : withoutDevices(guest.configJson()), options, moving, Map.of());
    }

    /** The configuration the destination restores: the devices are re-plugged there, mapped, not restored. */
    private static String withoutDevices(String json) {
        try {
            com.fasterxml.jackson.databind.node.ObjectNode root =
                    (com.fasterxml.jackson.databind.node.ObjectNode) MigrationJournal.JSON.readTree(json);
            root.remove("pcidevs");
            return MigrationJournal.JSON.writeValueAsString(root);
        } catch (IOException | ClassCastException e) {
            throw new MigrationException(MigrationException.Kind.FAILED, "the guest's configuration is not libxl JSON: " + e.getMessage(), e);
        }
    }

    /** The destination's answer to prepare: it must have mapped every device, and only those. */
    private static MigrationCookie accepted(MigrationCookie cookie, Wire.Prepared p) throws IOException {
        Map<String, String> mapping = p.replug() == null ? Map.of() : p.replug();
        List<String> asked = cookie.hostdevs().stream().map(PassedDevice::bdf).toList();
        if (!mapping.keySet().equals(new java.util.HashSet<>(asked))) {
            throw new IOException("the destination mapped devices " + mapping.keySet() + " for " + asked
                    + " (an older daemon that cannot replug?)");
        }
        return cookie.withReplug(mapping);
    }

    private MigrationStats finishOffline() {
        try {
            Wire.Result r = Wire.decode(waitFor(PREPARE_WAIT, Wire.RESULT), Wire.RESULT, Wire.Result.class);
            if (!r.ok()) {
                throw new IOException(r.message());
            }
        } catch (IOException e) {
            advance(Phase.ROLLED_BACK, e.getMessage());
            throw new MigrationException(MigrationException.Kind.FAILED, "offline migration of '" + guest.name() + "' failed: "
                    + e.getMessage() + "; the definition stays here");
        }
        advance(Phase.COMMITTED, "completed");
        svc.host().outgoingCommitted(guest.uuid(), options);
        progress.finish("completed", null);
        return progress.snapshot();
    }

    /** Waits for the next control message, polling so that an abort or the deadline is noticed. */
    private ControlMessage waitFor(Duration limit, String what) throws IOException {
        long end = limit == null ? Long.MAX_VALUE : System.nanoTime() + limit.toNanos();
        while (true) {
            if (abortReason.get() != null && !progress.phase().pastPointOfNoReturn()) {
                throw new IOException("aborted: " + abortReason.get());
            }
            ControlMessage m;
            try {
                m = conn.receive(POLL);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for " + what);
            }
            if (m != null) {
                return m;
            }
            if (System.nanoTime() > end) {
                throw new IOException("no " + what + " from the destination within " + limit.toSeconds() + " s");
            }
        }
    }

    /** Unwinds to a running source guest; the destination never unpauses without "go", which was not sent. */
    private MigrationStats rollback(String why, Throwable cause) {
        String aborted = abortReason.get();
        PeerConnection c = conn;
        if (c != null && c.isOpen()) {
            try {
                c.send(Wire.encode(Wire.ABORT, new Wire.Abort(why)));
            } catch (IOException ignored) {
                // the destination settles on its own
            }
        }
        synchronized (svc.lockFor(id)) {
            MigrationCookie cookie = entry.cookie();
            if (guest.domid() != null && entry.phase().compareTo(Phase.STREAMING) >= 0) {
                try {
                    svc.copies().reviveSource(cookie, entry.domid());
                } catch (LibxlException | RuntimeException e) {
                    log.error("migration {}: could not resume {} at the source: {}", id, guest.name(), e.getMessage());
                    advance(Phase.ROLLED_BACK, why + "; resuming the source failed: " + e.getMessage());
                    progress.finish("failed", why);
                    throw new MigrationException(MigrationException.Kind.FAILED, "migration of '" + guest.name() + "' failed ("
                            + why + ") and the source copy could not be resumed: " + e.getMessage()
                            + "; see 'xenhost list' and resume it with 'xenhost resume " + guest.name() + "'", cause);
                }
            }
            if (guest.domid() != null && unplugged && entry.phase().compareTo(Phase.STREAMING) < 0) {
                try {
                    svc.host().replugOutgoing(cookie, guest.domid());
                } catch (RuntimeException e) {
                    log.error("migration {}: could not give {} its devices back: {}", id, guest.name(), e.getMessage());
                    advance(Phase.ROLLED_BACK, why + "; re-attaching its devices failed: " + e.getMessage());
                    progress.finish("failed", why);
                    throw new MigrationException(MigrationException.Kind.FAILED, "migration of '" + guest.name() + "' failed ("
                            + why + "); the guest keeps running here but re-attaching its devices " + cookie.replug().keySet()
                            + " failed: " + e.getMessage() + "; attach them with 'xenhost attach-device'", cause);
                }
            }
            advance(Phase.ROLLED_BACK, why);
        }
        if (guest.domid() != null) {
            svc.host().outgoingRolledBack(guest.uuid(), guest.domid());
        }
        progress.finish(aborted != null ? "aborted" : "rolled-back", why);
        log.warn("migration {} of {} rolled back: {}", id, guest.name(), why);
        MigrationException.Kind kind = aborted != null ? MigrationException.Kind.ABORTED
                : cause instanceof RefusedByPeer ? MigrationException.Kind.REFUSED : MigrationException.Kind.FAILED;
        String where = guest.domid() == null ? "the definition stays here" : "the guest keeps running here";
        throw new MigrationException(kind, "migration of '" + guest.name() + "' to " + destHost + ":" + destPort + " "
                + (aborted != null ? "aborted (" + aborted + ")" : "failed: " + why) + "; " + where, cause);
    }

    private void advance(Phase p, String message) {
        entry = entry.at(p, message);
        svc.journal().write(entry);
        progress.phase(p);
        CrashPoint.reached("source:" + p.label());
    }

    private static String describe(Throwable e) {
        Throwable c = e;
        while (c.getCause() != null && c.getCause() != c) {
            c = c.getCause();
        }
        return c == e ? String.valueOf(e.getMessage()) : e.getMessage() + " (" + c.getMessage() + ")";
    }

    private static IOException refusedByPeer(String reason) {
        return new RefusedByPeer(reason);
    }

    /** The destination said no in prepare. */
    static final class RefusedByPeer extends IOException {
        RefusedByPeer(String reason) {
            super("the destination refused: " + reason);
        }
    }
}
