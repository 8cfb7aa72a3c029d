package org.xenhost.migration;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenhost.libxl.Libxl;
import org.xenhost.libxl.LibxlException;
import org.xenhost.libxl.stream.LendingChannel;
import org.xenhost.transport.ControlMessage;
import org.xenhost.transport.InboundStream;
import org.xenhost.transport.PeerConnection;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * One incoming migration on the connection the source opened: prepare (early refusals, reservation), restore
 * of the stream into a paused copy named NAME--incoming, then "ready", and on "go" the copy becomes the guest.
 * Each phase is journaled before the message that announces it.
 */
final class DestinationSession {
    private static final Logger log = LoggerFactory.getLogger(DestinationSession.class);
    private static final Duration STREAM_WAIT = Duration.ofSeconds(60);

    private final MigrationService svc;
    private final PeerConnection conn;
    private final MigrationCookie cookie;
    private final ProgressTracker progress;
    private JournalEntry entry;

    DestinationSession(MigrationService svc, PeerConnection conn, MigrationCookie cookie) {
        this.svc = svc;
        this.conn = conn;
        this.cookie = cookie;
        this.progress = new ProgressTracker(cookie.id(), JournalEntry.DESTINATION, cookie.memoryMiB() << 20, Phase.INCOMING);
    }

    MigrationCookie cookie() {
        return cookie;
    }

    MigrationStats stats() {
        return progress.snapshot();
    }

    /** Why this host cannot take the guest, or null. Checked before anything is reserved or sent. */
    static String refusal(MigrationCookie c, MigrationHost host, long reservedMiB) {
        if (c.streamVersion() > Libxl.STREAM_VERSION) {
            return "the source sends libxl migration stream version " + c.streamVersion() + "; this host reads up to version "
                    + Libxl.STREAM_VERSION + " (upgrade Xen here, or migrate to a host of the same version)";
        }
        if (c.streamVersion() < Libxl.STREAM_VERSION && !c.options().offline()) {
            return "the source sends libxl migration stream version " + c.streamVersion() + "; legacy streams are not accepted";
        }
        String conflict = host.conflict(c);
        if (conflict != null) {
            return conflict;
        }
        if (!c.options().offline()) {
            long free = host.freeMemoryMiB() - reservedMiB;
            if (c.memoryMiB() > free) {
                return "domain '" + c.name() + "' needs " + c.memoryMiB() + " MiB but this host has only " + Math.max(0, free)
                        + " MiB free" + (reservedMiB > 0 ? " (" + reservedMiB + " MiB are reserved by other incoming migrations)" : "");
            }
            Set<String> missing = new HashSet<>(c.cpuFlags());
            missing.removeAll(new HashSet<>(host.cpuFlags()));
            if (!missing.isEmpty()) {
                List<String> sorted = missing.stream().sorted().toList();
                return "this host's CPUs lack features the guest may use: " + String.join(" ", sorted)
                        + " (the guest was started on " + c.sourceHost() + "; migrate it to a host with the same CPU features)";
            }
        }
        return null;
    }

    /** Runs the destination's side to its end on this (the connection's) thread. */
    void run() {
        // 1. prepare: journal the intent, then accept
        entry = new JournalEntry(cookie.id(), JournalEntry.DESTINATION, Phase.INCOMING, cookie.destinationName(), cookie.uuid(),
                null, cookie.sourceEndpoint(), cookie, null, Instant.now());
        svc.journal().write(entry);
        try {
            conn.send(Wire.encode(Wire.PREPARED, new Wire.Prepared(true, null, cookie.replug())));
            progress.replugged(cookie.replug());
        } catch (IOException e) {
            destroyed("the source went away after prepare: " + e.getMessage());
            return;
        }
        if (cookie.options().offline()) {
            finishOffline();
            return;
        }
        // 2. restore the stream, paused, under NAME--incoming
        int domid;
        try (InboundStream in = acceptStream()) {
            String json = incomingConfig();
            domid = svc.libxl().createRestore(json, new TappedChannel(in, progress), Libxl.STREAM_VERSION, true, progress);
            // libxl stops at the stream's final END; the source ends the transport stream right after it. Closing
            // before that end arrives would tell the source we stopped reading (a reset racing its clean close),
            // so wait for it, and refuse anything after END.
            if (in.read(ByteBuffer.allocate(1)) >= 0) {
                throw new IOException("the source sent data after the migration stream's final END record");
            }
        } catch (IOException | LibxlException | RuntimeException e) {
            settleFailure("receiving the guest failed: " + e.getMessage());
            return;
        }
        // 3. ready: the copy is complete; journal before saying so
        synchronized (svc.lockFor(cookie.id())) {
            entry = entry.withDomid(domid).at(Phase.RECEIVED, null);
            svc.journal().write(entry);
            progress.phase(Phase.RECEIVED);
        }
        CrashPoint.reached("destination:received");
        try {
            conn.send(Wire.encode(Wire.READY, new Wire.Ready(progress.tap().snapshot().bytes(), progress.tap().snapshot().pagesWithData())));
            // 4. wait for "go" (or "abort"); the copy stays paused until then
            ControlMessage m = waitForGo();
            Wire.decode(m, Wire.GO, Wire.Go.class);
        } catch (Wire.PeerAbortedException e) {
            settleFailure(e.getMessage());
            return;
        } catch (IOException e) {
            // the source may or may not have handed over: only its journal can say; keep the copy paused
            log.warn("migration {}: lost the source while holding the paused copy ({}); asking it when it is reachable",
                    cookie.id(), e.getMessage());
            progress.finish("undecided", e.getMessage());
            svc.recoverLater(entry);
            return;
        }
        // 5. cleared to unpause: the copy becomes the guest
        String failure = commit();
        try {
            conn.send(Wire.encode(Wire.RESULT, new Wire.Result(failure == null, failure)));
        } catch (IOException e) {
            log.warn("migration {}: could not report the result to the source: {}", cookie.id(), e.getMessage());
        }
    }

    /** Applies "go"; returns null on success or why the copy was destroyed instead. */
    String commit() {
        synchronized (svc.lockFor(cookie.id())) {
            try {
                int domid = svc.copies().commitIncoming(cookie, entry.domid());
                entry = entry.at(Phase.UNPAUSED, "completed");
                svc.journal().write(entry);
                CrashPoint.reached("destination:unpaused");
                progress.phase(Phase.UNPAUSED);
                svc.host().incomingCommitted(cookie, domid, cookie.options().paused());
                progress.finish("completed", null);
                log.info("migration {}: {} arrived from {} as domid {}", cookie.id(), cookie.destinationName(), cookie.sourceHost(), domid);
                return null;
            } catch (LibxlException | RuntimeException e) {
                // xl's rule: a destination that cannot run the guest destroys its copy, so the source may resume
                String why = "starting the received guest failed: " + e.getMessage();
                destroyCopy();
                destroyed(why);
                return why;
            }
        }
    }

    private void settleFailure(String why) {
        synchronized (svc.lockFor(cookie.id())) {
            destroyCopy();
            destroyed(why);
        }
        try {
            if (conn.isOpen()) {
                conn.send(Wire.encode(Wire.RESULT, new Wire.Result(false, why)));
            }
        } catch (IOException ignored) {
            // the source rolls back on its own: it never got "ready"
        }
    }

    private void destroyCopy() {
        try {
            svc.copies().destroyIncoming(cookie, entry.domid());
        } catch (LibxlException e) {
            log.error("migration {}: could not destroy the incoming copy {}: {}", cookie.id(), cookie.incomingName(), e.getMessage());
        }
    }

    private void destroyed(String why) {
        entry = entry.at(Phase.DESTROYED, why);
        svc.journal().write(entry);
        progress.phase(Phase.DESTROYED);
        progress.finish("rolled-back", why);
        log.warn("migration {} of {}: {}", cookie.id(), cookie.name(), why);
    }

    private void finishOffline() {
        String failure = null;
        try {
            svc.host().incomingDefined(cookie);
            entry = entry.at(Phase.UNPAUSED, "defined");
            svc.journal().write(entry);
            progress.finish("completed", null);
        } catch (RuntimeException e) {
            failure = "defining the domain failed: " + e.getMessage();
            destroyed(failure);
        }
        try {
            conn.send(Wire.encode(Wire.RESULT, new Wire.Result(failure == null, failure)));
        } catch (IOException ignored) {
            // nothing depends on it: the source keeps its definition unless told otherwise
        }
    }

    private InboundStream acceptStream() throws IOException {
        try {
            long end = System.nanoTime() + STREAM_WAIT.toNanos();
            while (System.nanoTime() < end) {
                InboundStream s = conn.acceptStream(Duration.ofMillis(200));
                if (s != null) {
                    return s;
                }
                ControlMessage m = conn.receive(Duration.ZERO.plusMillis(1));
                if (m != null) {
                    Wire.decode(m, Wire.READY, Wire.Ready.class); // an abort raises; anything else is out of order
                }
            }
            throw new IOException("the source opened no stream within " + STREAM_WAIT.toSeconds() + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
    }

    private ControlMessage waitForGo() throws IOException {
        try {
            while (true) {
                ControlMessage m = conn.receive(Duration.ofSeconds(1));
                if (m != null) {
                    return m;
                }
                if (!conn.isOpen()) {
                    throw new IOException("connection to the source closed");
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
    }

    /** The guest's configuration with xl's incoming name, so it is never mistaken for a running guest. */
    private String incomingConfig() throws IOException {
        ObjectNode root = (ObjectNode) MigrationJournal.JSON.readTree(cookie.configJson());
        if (root.has("name")) {
            root.put("name", cookie.incomingName());
        }
        if (root.path("c_info").isObject() || !root.has("name")) {
            root.with("c_info").put("name", cookie.incomingName());
        }
        return MigrationJournal.JSON.writeValueAsString(root);
    }

    /**
     * The transport stream as libxl's restore reads it, shown to the tap on the way. It lends the transport's
     * buffers, so page contents go from the decrypted stream into guest memory without another copy.
     */
    private static final class TappedChannel implements LendingChannel {
        private final InboundStream in;
        private final ProgressTracker progress;

        TappedChannel(InboundStream in, ProgressTracker progress) {
            this.in = in;
            this.progress = progress;
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            int start = dst.position();
            int n = in.read(dst);
            if (n > 0) {
                ByteBuffer seen = dst.duplicate();
                seen.position(start).limit(start + n);
                progress.tap().accept(seen);
            }
            return n;
        }

        @Override
        public long transferTo(long count, WritableByteChannel dst) throws IOException {
            return in.transferTo(count, new WritableByteChannel() {
                @Override
                public int write(ByteBuffer src) throws IOException {
                    int start = src.position();
                    int n = dst.write(src);
                    if (n > 0) {
                        progress.tap().accept(src.duplicate().position(start).limit(start + n));
                    }
                    return n;
                }

                @Override
                public boolean isOpen() {
                    return dst.isOpen();
                }

                @Override
                public void close() throws IOException {
                    dst.close();
                }
            });
        }

        @Override
        public boolean isOpen() {
            return in.isOpen();
        }

        @Override
        public void close() {
            in.close();
        }
    }
}
