package org.xenhost.migration;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenhost.libxl.Libxl;
import org.xenhost.libxl.LibxlException;
import org.xenhost.transport.ControlMessage;
import org.xenhost.transport.PeerAcceptor;
import org.xenhost.transport.PeerConnection;
import org.xenhost.transport.Transport;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The migrations of one daemon, in and out: starts outgoing sessions, serves incoming ones on the transport
 * listener, answers and asks recovery questions, and at start settles what its journal left open.
 *
 * <p>Recovery applies {@link Resolution#decide} to this side's journal and the peer's answer. A side acts on
 * a question from the peer only when no live session of its own holds the migration (the session settles
 * itself when its connection fails); every change of one migration's phase happens under
 * {@link #lockFor(String)}.
 */
public final class MigrationService implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MigrationService.class);
    private static final Duration RETRY = Duration.ofSeconds(2);
    /** How long an answer sent just before the connection closes may take to be written out. */
    private static final Duration ANSWER_WRITE = Duration.ofSeconds(10);

    private final Libxl libxl;
    private final Transport transport;
    private final MigrationJournal journal;
    private final MigrationHost host;
    private final String endpoint;
    private final GuestCopies copies;
    private final Map<String, SourceSession> outgoing = new ConcurrentHashMap<>();
    private final Map<String, DestinationSession> incoming = new ConcurrentHashMap<>();
    private final Map<String, Object> locks = new ConcurrentHashMap<>();
    private final Map<String, JournalEntry> unsettled = new ConcurrentHashMap<>();
    private final ExecutorService connections;
    private final ScheduledExecutorService timer;
    private final List<Thread> acceptors = new ArrayList<>();
    private volatile boolean closed;

    /**
     * @param transport the daemon's transport (null: this daemon can neither send nor receive migrations)
     * @param endpoint  HOST:PORT where peers reach this daemon's listener, told to them for recovery; or null
     */
    public MigrationService(Libxl libxl, Transport transport, MigrationJournal journal, MigrationHost host, String endpoint) {
        this.libxl = libxl;
        this.transport = transport;
        this.journal = journal;
        this.host = host;
        this.endpoint = endpoint;
        this.copies = new GuestCopies(libxl, host);
        AtomicInteger n = new AtomicInteger();
        this.connections = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "migration-in-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "migration-timer");
            t.setDaemon(true);
            return t;
        });
    }

    // ---- outgoing ----------------------------------------------------------------------------------------

    /** A new outgoing migration; {@link SourceSession#run()} carries it out on the caller's thread. */
    public SourceSession outgoing(OutgoingGuest guest, String destination, MigrationOptions options) {
        return outgoing(guest, destination, options, UUID.randomUUID().toString());
    }

    /** An outgoing migration under the id a {@link #begin} cookie gave it (perform after begin). */
    public SourceSession outgoing(OutgoingGuest guest, String destination, MigrationOptions options, String id) {
        if (transport == null) {
            throw new MigrationException(MigrationException.Kind.INVALID_INPUT, "this daemon has no migration transport: "
                    + "start it with --listen, --tls-dir and --tls-name");
        }
        if (id == null || !id.matches("[A-Za-z0-9-]{1,64}") || journal.read(id).isPresent()) {
            throw new MigrationException(MigrationException.Kind.INVALID_INPUT, "migration id '" + id
                    + "' is not a fresh one from begin (each cookie is performed once)");
        }
        return new SourceSession(this, id, guest, destination, options);
    }

    /** Begin, on the source: the cookie for moving {@code guest} with {@code options}; nothing is journaled or sent. */
    public MigrationCookie begin(OutgoingGuest guest, MigrationOptions options) {
        return new SourceSession(this, UUID.randomUUID().toString(), guest, null, options).begin();
    }

    // ---- confirm: performed migrations the caller has not confirmed yet ----------------------------------

    private static final Duration CONFIRM_WAIT = Duration.ofSeconds(60);
    private final Map<String, SourceSession> awaitingConfirm = new ConcurrentHashMap<>();

    /** After a successful perform: the caller confirms; if it never does, this service does after a while. */
    void awaitConfirm(SourceSession s) {
        awaitingConfirm.put(s.id(), s);
        timer.schedule(() -> {
            SourceSession left = awaitingConfirm.get(s.id());
            if (left != null) {
                log.warn("migration {}: performed but not confirmed within {} s; confirming (the destination runs the guest)",
                        s.id(), CONFIRM_WAIT.toSeconds());
                left.confirm();
            }
        }, CONFIRM_WAIT.toMillis(), TimeUnit.MILLISECONDS);
    }

    void confirmed(String id) {
        awaitingConfirm.remove(id);
    }

    /** Confirm, on the source, of a performed migration. */
    public MigrationStats confirm(String id) {
        SourceSession s = awaitingConfirm.get(id);
        if (s == null) {
            String where = journal.read(id).map(e -> "it is " + e.phase().label()).orElse("this host has no record of it");
            throw new MigrationException(MigrationException.Kind.REFUSED, "migration " + id + " is not waiting for "
                    + "confirmation (" + where + ")");
        }
        return s.confirm();
    }

    /** The performed migration of a guest (by uuid) waiting for confirmation, if any. */
    public Optional<String> awaitingConfirmOf(String uuid) {
        return awaitingConfirm.values().stream().filter(s -> s.guest().uuid().equalsIgnoreCase(uuid)).map(SourceSession::id).findFirst();
    }

    /** The running migration of a guest (by name or uuid), either direction. */
    public Optional<MigrationStats> stats(String nameOrUuid) {
        for (SourceSession s : outgoing.values()) {
            if (matches(nameOrUuid, s, null)) {
                return Optional.of(s.stats());
            }
        }
        for (DestinationSession d : incoming.values()) {
            if (matches(nameOrUuid, null, d)) {
                return Optional.of(d.stats());
            }
        }
        return Optional.empty();
    }

    /** Incoming migrations right now (their guests are not domains of this host yet). */
    public List<MigrationStats> incomingStats() {
        return incoming.values().stream().map(DestinationSession::stats).toList();
    }

    /** Names of guests arriving right now, for {@code list}. */
    public List<MigrationCookie> incomingCookies() {
        return incoming.values().stream().map(DestinationSession::cookie).toList();
    }

    private boolean matches(String key, SourceSession s, DestinationSession d) {
        if (s != null) {
            return s.guest().name().equals(key) || s.guest().uuid().equalsIgnoreCase(key);
        }
        MigrationCookie c = d.cookie();
        return c.destinationName().equals(key) || c.incomingName().equals(key) || c.uuid().equalsIgnoreCase(key);
    }

    void register(SourceSession s) {
        outgoing.put(s.id(), s);
    }

    void unregister(SourceSession s) {
        outgoing.remove(s.id());
    }

    // ---- incoming ----------------------------------------------------------------------------------------

    /** Serves migrations and recovery questions arriving on {@code acceptor} until {@link #close()}. */
    public void serve(PeerAcceptor acceptor) {
        Thread t = new Thread(() -> {
            while (!closed) {
                try {
                    PeerConnection c = acceptor.accept(Duration.ofMillis(500));
                    if (c != null) {
                        connections.execute(() -> handle(c));
                    }
                } catch (InterruptedException e) {
                    return;
                } catch (RuntimeException e) {
                    if (!closed) {
                        log.warn("migration listener: {}", e.toString());
                    }
                }
            }
        }, "migration-listener");
        t.setDaemon(true);
        t.start();
        acceptors.add(t);
    }

    private void handle(PeerConnection c) {
        try (c) {
            ControlMessage first = c.receive(Duration.ofSeconds(30));
            if (first == null) {
                log.warn("migration: {} connected but said nothing; closed", c.peer());
                return;
            }
            if (first.type().equals(Wire.RESOLVE)) {
                Wire.Resolve q = Wire.decode(first, Wire.RESOLVE, Wire.Resolve.class);
                // written out before the close below, not merely queued (a guess of 100 ms did this before)
                c.sendAndWait(Wire.encode(Wire.RESOLVED, answer(q)), ANSWER_WRITE);
                return;
            }
            Wire.Prepare p = Wire.decode(first, Wire.PREPARE, Wire.Prepare.class);
            MigrationCookie cookie = p.cookie();
            DestinationSession session;
            synchronized (incoming) {
                try {
                    cookie = prepareLocked(cookie);
                } catch (MigrationException e) {
                    log.info("migration {} of {} from {} refused: {}", cookie.id(), cookie.name(), c.peer(), e.getMessage());
                    c.sendAndWait(Wire.encode(Wire.PREPARED, new Wire.Prepared(false, e.getMessage())), ANSWER_WRITE);
                    return;
                }
                session = new DestinationSession(this, c, cookie);
                incoming.put(cookie.id(), session);
            }
            try {
                session.run();
            } finally {
                incoming.remove(cookie.id());
            }
        } catch (IOException e) {
            log.warn("migration connection from {}: {}", c.peer(), e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            log.error("migration connection from {} failed", c.peer(), e);
        }
    }

    /**
     * Prepare, on the destination: the early refusals and the device mapping, as the listener runs them when a
     * source asks. Called alone it answers "would this host take the guest now?" and reserves nothing.
     *
     * @return the cookie with this host's device mapping
     * @throws MigrationException (REFUSED) with the reason
     */
    public MigrationCookie prepare(MigrationCookie cookie) {
        synchronized (incoming) {
            return prepareLocked(cookie);
        }
    }

    private MigrationCookie prepareLocked(MigrationCookie cookie) {
        String refusal = conflictsWithIncoming(cookie);
        if (refusal == null) {
            refusal = DestinationSession.refusal(cookie, host, reservedMiB());
        }
        if (refusal != null) {
            throw new MigrationException(MigrationException.Kind.REFUSED, refusal);
        }
        if (cookie.hostdevs().isEmpty()) {
            return cookie;
        }
        // the devices are resolved here: a migration this host cannot complete is refused before a byte moves
        try {
            return cookie.withReplug(host.planReplug(cookie, reservedDevices()));
        } catch (IllegalArgumentException e) {
            throw new MigrationException(MigrationException.Kind.REFUSED, e.getMessage(), e);
        }
    }

    /**
     * Finish, on the destination, of a migration whose session ended without the source's "go" or "abort" (the
     * link or the source was lost): settles the incoming copy by the two journals, asking the source, so the
     * copy runs only if the source handed the guest over. (In the peer-to-peer flow "go" runs finish.)
     *
     * @return this side's phase afterwards
     */
    public Phase finish(String id) {
        if (incoming.containsKey(id)) {
            throw new MigrationException(MigrationException.Kind.REFUSED, "migration " + id + " is in progress; it "
                    + "finishes when the source clears it");
        }
        JournalEntry e = journal.read(id).orElseThrow(() -> new MigrationException(MigrationException.Kind.INVALID_INPUT,
                "this host has no record of migration " + id));
        if (e.isSource()) {
            throw new MigrationException(MigrationException.Kind.INVALID_INPUT, "migration " + id + " left this host; "
                    + "finish is the destination's phase");
        }
        if (!e.phase().terminal() && settleOnce(id)) {
            unsettled.remove(id);
        }
        return journal.read(id).map(JournalEntry::phase).orElse(e.phase());
    }

    private String conflictsWithIncoming(MigrationCookie c) {
        for (DestinationSession d : incoming.values()) {
            MigrationCookie o = d.cookie();
            if (o.uuid().equalsIgnoreCase(c.uuid()) || o.destinationName().equals(c.destinationName())) {
                return "a domain named '" + o.destinationName() + "' (uuid " + o.uuid() + ") is already arriving from " + o.sourceHost();
            }
        }
        return null;
    }

    /** Devices promised to incoming migrations that have not attached them yet. */
    private java.util.Set<String> reservedDevices() {
        java.util.Set<String> out = new java.util.HashSet<>();
        incoming.values().forEach(d -> out.addAll(d.cookie().replug().values()));
        return out;
    }

    private long reservedMiB() {
        return incoming.values().stream().mapToLong(d -> d.cookie().memoryMiB()).sum();
    }

    // ---- recovery ----------------------------------------------------------------------------------------

    /** At start: settles every migration the journal left open (in the background; retried until settled). */
    public void recoverAll() {
        for (JournalEntry e : journal.all()) {
            if (!e.isSource() && e.phase() == Phase.UNPAUSED && !e.cookie().options().offline()) {
                // a crash between unpausing and telling the driver: the guest runs here, make sure it is listed as ours
                try {
                    copies.incomingCopy(e.cookie(), e.domid()).ifPresent(d -> host.incomingCommitted(e.cookie(), d.domid(), e.cookie().options().paused()));
                } catch (LibxlException | RuntimeException ex) {
                    log.warn("migration {}: cannot register {} after the restart: {}", e.id(), e.name(), ex.getMessage());
                }
            }
            if (!e.phase().terminal()) {
                log.warn("migration {} ({} of {}) was interrupted in phase {}; settling it", e.id(), e.role(), e.name(), e.phase().label());
                recoverLater(e);
            }
        }
    }

    /** The journal entries not settled yet (undecided migrations), for the operator. */
    public List<JournalEntry> unsettled() {
        return List.copyOf(unsettled.values());
    }

    void recoverLater(JournalEntry e) {
        unsettled.put(e.id(), e);
        timer.execute(() -> settle(e.id()));
    }

    private void settle(String id) {
        if (closed) {
            return;
        }
        boolean done;
        try {
            done = settleOnce(id);
        } catch (RuntimeException e) {
            log.warn("migration {}: settling failed: {}", id, e.toString());
            done = false;
        }
        if (done) {
            unsettled.remove(id);
        } else if (!closed) {
            timer.schedule(() -> settle(id), RETRY.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    /** One attempt; true when the migration is settled. */
    private boolean settleOnce(String id) {
        JournalEntry e;
        synchronized (lockFor(id)) {
            e = journal.read(id).orElse(null);
            if (e == null || e.phase().terminal()) {
                return true;
            }
            if (e.isSource() && !e.phase().pastPointOfNoReturn()) {
                // the destination was never cleared: the guest is ours to resume, without asking
                apply(e, Resolution.Outcome.ROLLBACK, "interrupted in phase " + e.phase().label() + " before the hand-over");
                return true;
            }
            if (!e.isSource() && e.phase() == Phase.INCOMING) {
                // the copy was never complete, so no source can have been told to give the guest up
                apply(e, Resolution.Outcome.ROLLBACK, "interrupted while receiving");
                return true;
            }
        }
        Phase peer;
        try {
            peer = ask(e);
        } catch (IOException ex) {
            log.warn("migration {} of {}: UNDECIDED: the {} copy stays paused until {} answers ({}). The peer daemon must be "
                            + "started; or, if that host is lost for good, run 'xenhost resume {}' on the source "
                            + "(only if the destination copy never ran)", id, e.name(), e.role(), e.peer(), ex.getMessage(),
                    e.isSource() ? e.name() + "--migratedaway" : e.name());
            return false;
        }
        synchronized (lockFor(id)) {
            e = journal.read(id).orElse(e);
            if (e.phase().terminal()) {
                return true;
            }
            Resolution.Outcome o = e.isSource() ? Resolution.decide(e.phase(), peer) : Resolution.decide(peer, e.phase());
            if (o == Resolution.Outcome.UNDECIDED) {
                log.warn("migration {}: the peer has no record of it; the {} copy stays paused", id, e.role());
                return false;
            }
            apply(e, o, "settled with the peer (its phase: " + (peer == null ? "none" : peer.label()) + ")");
            return true;
        }
    }

    /** The peer's phase of the migration, asking its daemon over a fresh connection. */
    private Phase ask(JournalEntry e) throws IOException {
        if (e.peer() == null || transport == null) {
            throw new IOException("the peer's address is unknown");
        }
        int colon = e.peer().lastIndexOf(':');
        try (PeerConnection c = transport.connect(e.peer().substring(0, colon), Integer.parseInt(e.peer().substring(colon + 1)))) {
            c.send(Wire.encode(Wire.RESOLVE, new Wire.Resolve(e.id(), e.role(), e.phase())));
            Wire.Resolved r = Wire.decode(c.receive(Duration.ofSeconds(10)), Wire.RESOLVED, Wire.Resolved.class);
            return r.phase();
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        } catch (RuntimeException ex) {
            throw new IOException(ex.getMessage(), ex);
        }
    }

    /** A peer asks; answer with our phase, and settle our side too if no live session owns it. */
    private Wire.Resolved answer(Wire.Resolve q) {
        synchronized (lockFor(q.id())) {
            JournalEntry e = journal.read(q.id()).orElse(null);
            if (e == null) {
                return new Wire.Resolved(q.id(), null);
            }
            boolean live = outgoing.containsKey(q.id()) || incoming.containsKey(q.id());
            if (!live && !e.phase().terminal()) {
                Resolution.Outcome o = e.isSource() ? Resolution.decide(e.phase(), q.phase()) : Resolution.decide(q.phase(), e.phase());
                if (o != Resolution.Outcome.UNDECIDED) {
                    apply(e, o, "settled at the peer's request (its phase: " + q.phase().label() + ")");
                    unsettled.remove(q.id());
                    e = journal.read(q.id()).orElse(e);
                }
            }
            return new Wire.Resolved(q.id(), e.phase());
        }
    }

    /** Carries out an outcome on this side's copy and journals it. Caller holds the migration's lock. */
    private void apply(JournalEntry e, Resolution.Outcome o, String why) {
        MigrationCookie c = e.cookie();
        try {
            if (e.isSource()) {
                if (o == Resolution.Outcome.COMMIT) {
                    copies.destroySource(c, e.domid());
                    journal.write(e.at(Phase.COMMITTED, why));
                    host.outgoingCommitted(e.uuid(), c.options());
                    log.info("migration {}: {} runs on the destination; source copy destroyed ({})", e.id(), e.name(), why);
                } else {
                    int domid = copies.reviveSource(c, e.domid());
                    journal.write(e.at(Phase.ROLLED_BACK, why));
                    host.outgoingRolledBack(e.uuid(), domid);
                    log.info("migration {}: {} resumed on the source ({})", e.id(), e.name(), why);
                }
            } else {
                if (o == Resolution.Outcome.COMMIT) {
                    int domid = copies.commitIncoming(c, e.domid());
                    journal.write(e.at(Phase.UNPAUSED, why));
                    host.incomingCommitted(c, domid, c.options().paused());
                    log.info("migration {}: {} runs here ({})", e.id(), c.destinationName(), why);
                } else {
                    copies.destroyIncoming(c, e.domid());
                    journal.write(e.at(Phase.DESTROYED, why));
                    log.info("migration {}: incoming copy of {} destroyed ({})", e.id(), c.name(), why);
                }
            }
        } catch (LibxlException ex) {
            throw new IllegalStateException("migration " + e.id() + ": " + o + " failed: " + ex.getMessage(), ex);
        }
    }

    // ---- plumbing ----------------------------------------------------------------------------------------

    Object lockFor(String id) {
        return locks.computeIfAbsent(id, k -> new Object());
    }

    Libxl libxl() {
        return libxl;
    }

    Transport transport() {
        return transport;
    }

    MigrationJournal journal() {
        return journal;
    }

    MigrationHost host() {
        return host;
    }

    GuestCopies copies() {
        return copies;
    }

    String endpoint() {
        return endpoint;
    }

    ScheduledExecutorService timer() {
        return timer;
    }

    /** Stops listening and retrying; running sessions end when their connections close with the transport. */
    @Override
    public void close() {
        closed = true;
        for (Thread t : acceptors) {
            t.interrupt();
        }
        timer.shutdownNow();
        connections.shutdownNow();
    }
}
