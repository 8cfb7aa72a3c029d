package org.xenhost.migration;

import org.xenhost.emulator.EmulatedLibxl;
import org.xenhost.emulator.HostSettings;
import org.xenhost.libxl.DomainInfo;
import org.xenhost.libxl.LibxlException;
import org.xenhost.transport.PeerAcceptor;
import org.xenhost.transport.PeerAllowlist;
import org.xenhost.transport.Transport;
import org.xenhost.transport.TransportConfig;
import org.xenhost.transport.pki.CertificateAuthority;
import org.xenhost.transport.pki.HostCredentials;
import org.xenhost.transport.pki.SubjectAltName;
import org.xenhost.transport.pki.Validity;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Two emulated Xen hosts in this JVM, each with its own state directory, TLS transport (certificates from the
 * production PKI code) and {@link MigrationService}; host "b" listens on 127.0.0.1.
 */
final class TwoHosts implements AutoCloseable {
    final Host a;
    final Host b;
    final Path dir;

    /** One side: hypervisor, transport, service, and what the service told its host. */
    static final class Host implements AutoCloseable {
        final String name;
        final EmulatedLibxl libxl;
        final Transport transport;
        final MigrationJournal journal;
        final RecordingHost host;
        PeerAcceptor acceptor;
        MigrationService service;
        final Path state;

        Host(String name, Path state, HostCredentials creds, long memoryBytes) throws IOException {
            this.name = name;
            this.state = state;
            this.libxl = EmulatedLibxl.open(state.resolve("xen"), null, HostSettings.DEFAULT.withTotalMemory(memoryBytes));
            this.transport = Transport.start(TransportConfig.builder(creds, PeerAllowlist.of(List.of("CN=host-*"))).build());
            this.journal = new MigrationJournal(state);
            this.host = new RecordingHost(libxl);
        }

        void listen() throws IOException {
            acceptor = transport.listen(new InetSocketAddress("127.0.0.1", 0));
            service = new MigrationService(libxl, transport, journal, host, endpoint());
            service.serve(acceptor);
        }

        void dial() {
            service = new MigrationService(libxl, transport, journal, host, null);
        }

        String endpoint() {
            return "127.0.0.1:" + acceptor.address().getPort();
        }

        Optional<DomainInfo> domain(String uuid) throws LibxlException {
            return libxl.listDomains().stream().filter(d -> d.domid() != 0 && d.uuid().toString().equals(uuid)).findFirst();
        }

        @Override
        public void close() {
            if (service != null) {
                service.close();
            }
            if (acceptor != null) {
                acceptor.close();
            }
            transport.close();
            libxl.close();
        }
    }

    /** A driver stand-in that records the callbacks. */
    static final class RecordingHost implements MigrationHost {
        final EmulatedLibxl libxl;
        final List<String> events = new CopyOnWriteArrayList<>();
        volatile List<String> flags = List.of("fpu", "sse2");

        RecordingHost(EmulatedLibxl libxl) {
            this.libxl = libxl;
        }

        @Override
        public String hostName() {
            return "test-host";
        }

        @Override
        public List<String> cpuFlags() {
            return flags;
        }

        @Override
        public long freeMemoryMiB() {
            return libxl.hostInfo().freeMemoryKb() / 1024;
        }

        @Override
        public String conflict(String name, String uuid) {
            for (DomainInfo d : libxl.listDomains()) {
                if (name.equals(d.name()) || d.uuid().toString().equals(uuid)) {
                    return "a domain named '" + d.name() + "' (uuid " + d.uuid() + ") exists here";
                }
            }
            return null;
        }

        @Override
        public void incomingCommitted(MigrationCookie cookie, int domid, boolean paused) {
            events.add("in:" + cookie.destinationName() + ":" + domid);
        }

        @Override
        public void incomingDefined(MigrationCookie cookie) {
            events.add("defined:" + cookie.destinationName());
        }

        @Override
        public void outgoingCommitted(String uuid, MigrationOptions options) {
            events.add("out:" + uuid);
        }

        @Override
        public void outgoingRolledBack(String uuid, int domid) {
            events.add("back:" + uuid);
        }

        /** The destination's answer in prepare: every device to {@code planTo}, or a refusal when null. */
        volatile String planTo = "0000:05:00.0";
        /** Makes the destination's attach before unpausing fail. */
        volatile boolean failPlug;

        @Override
        public java.util.Map<String, String> planReplug(MigrationCookie c, java.util.Set<String> reserved) {
            events.add("plan");
            if (planTo == null) {
                throw new MigrationException(MigrationException.Kind.REFUSED, "no device like " + c.hostdevs().get(0).kind());
            }
            java.util.Map<String, String> m = new java.util.LinkedHashMap<>();
            c.hostdevs().forEach(d -> m.put(d.bdf(), planTo));
            return m;
        }

        @Override
        public void unplugOutgoing(MigrationCookie c, int domid) {
            events.add("unplug:" + state(domid));
        }

        @Override
        public void replugOutgoing(MigrationCookie c, int domid) {
            events.add("replug:" + state(domid));
        }

        @Override
        public void releaseOutgoing(MigrationCookie c) {
            events.add("release");
        }

        @Override
        public void plugIncoming(MigrationCookie c, int domid) {
            events.add("plug:" + state(domid));
            if (failPlug) {
                throw new MigrationException(MigrationException.Kind.FAILED, "the mapped device vanished");
            }
        }

        @Override
        public void unplugIncoming(MigrationCookie c) {
            events.add("unplugIncoming");
        }

        private String state(int domid) {
            try {
                return libxl.domainInfo(domid).state().name();
            } catch (LibxlException e) {
                return "gone";
            }
        }
    }

    TwoHosts(long destMemoryBytes) throws IOException {
        dir = Files.createTempDirectory("xenhost-migration");
        CertificateAuthority ca = CertificateAuthority.init(dir.resolve("pki"), "test-ca", Validity.days(2));
        HostCredentials ca1 = ca.issue("host-a", List.of(SubjectAltName.parse("127.0.0.1")), Validity.days(1));
        HostCredentials cb = ca.issue("host-b", List.of(SubjectAltName.parse("127.0.0.1")), Validity.days(1));
        a = new Host("a", dir.resolve("a"), ca1, HostSettings.DEFAULT.totalMemoryBytes());
        b = new Host("b", dir.resolve("b"), cb, destMemoryBytes);
        b.listen();
        a.dial();
    }

    TwoHosts() throws IOException {
        this(HostSettings.DEFAULT.totalMemoryBytes());
    }

    /** Starts a guest on host a; returns its uuid. */
    static String start(Host h, String name, long memoryMiB, long dirtyBytesPerSecond) throws LibxlException {
        String uuid = java.util.UUID.randomUUID().toString();
        h.libxl.createDomain(config(name, uuid, memoryMiB, dirtyBytesPerSecond), false);
        return uuid;
    }

    static String config(String name, String uuid, long memoryMiB, long dirty) {
        return "{\"c_info\":{\"name\":\"" + name + "\",\"uuid\":\"" + uuid + "\",\"type\":\"pvh\"},\"b_info\":{\"max_memkb\":"
                + (memoryMiB << 10) + ",\"max_vcpus\":2},\"emulated_dirty_rate\":" + dirty + ",\"emulated_seed\":7}";
    }

    static OutgoingGuest guest(Host h, String uuid) throws LibxlException {
        DomainInfo d = h.domain(uuid).orElseThrow();
        return new OutgoingGuest(d.domid(), d.name(), uuid, h.libxl.domainConfigJson(d.domid()), d.maxMemoryKb() / 1024, d.vcpus(), List.of());
    }

    @Override
    public void close() {
        List<AutoCloseable> all = new ArrayList<>(List.of(a, b));
        for (AutoCloseable c : all) {
            try {
                c.close();
            } catch (Exception ignored) {
                // best effort in tests
            }
        }
    }
}
