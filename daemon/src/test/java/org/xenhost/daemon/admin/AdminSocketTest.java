package org.xenhost.daemon.admin;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenhost.driver.api.DomainDetails;
import org.xenhost.driver.api.DomainSummary;
import org.xenhost.driver.api.Driver;
import org.xenhost.driver.api.DriverError;
import org.xenhost.driver.api.DriverException;
import org.xenhost.driver.api.HostDescription;
import org.xenhost.driver.api.JobInfo;
import org.xenhost.driver.api.SaveResult;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The admin socket carries Driver calls faithfully, maps errors to their kinds, survives clients that do not
 * speak the protocol, and is closed to other users. The Driver behind it here is a small recording one: this
 * test is about the socket; the daemon tests run the real driver behind it.
 */
class AdminSocketTest {
    @TempDir
    Path dir;
    private AdminServer server;
    private Path socket;

    @BeforeEach
    void start() throws Exception {
        socket = dir.resolve("run/xenhostd.sock");
        server = AdminServer.start(new ScriptedDriver(), socket, null, 8);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    @Test
    void callsAndResultsCrossTheSocket() {
        Driver remote = RemoteDriver.connect(socket);
        List<DomainSummary> all = remote.list(true);
        assertEquals(2, all.size());
        assertEquals("vm-b", all.get(1).name());
        assertEquals(1, remote.list(false).size(), "the boolean argument arrived");
        assertEquals(new SaveResult("/tmp/x.save", 10, 2, 3), remote.save("vm-a", "/tmp/x.save"));
        remote.pause("vm-a"); // void call
        // a record argument and record results with nested lists cross intact
        var change = remote.attachDevice("vm-a", "04:00.0,managed=yes", new org.xenhost.driver.api.DeviceOptions(true, false, true));
        assertEquals(new org.xenhost.driver.api.DeviceChange("vm-a", List.of("04:00.0,managed=yes"), true, false, List.of(),
                "forced", List.of()), change);
        assertEquals("mpt3sas", remote.nodeDeviceList().get(0).originalDriver());
        assertEquals(List.of("pv", "hvm"), remote.hostInfo().capabilities());
    }

    @Test
    void errorsKeepTheirKindAndMessage() {
        Driver remote = RemoteDriver.connect(socket);
        DriverException e = assertThrows(DriverException.class, () -> remote.info("nope"));
        assertEquals(DriverError.NOT_FOUND, e.error());
        assertEquals("no domain 'nope'", e.getMessage());
        DriverException bad = assertThrows(DriverException.class, () -> remote.define("garbage", "x.cfg"));
        assertEquals(DriverError.INVALID_INPUT, bad.error());
        assertTrue(bad.badInput());
    }

    @Test
    void garbageClosesThatConnectionOnlyAndTheDaemonKeepsServing() throws Exception {
        for (String junk : List.of("GET / HTTP/1.1\r\n\r\n", "{\"protocol\":\"xenhost-admin\",\"version\":99}\n", "\u0000\u0001\u0002\n")) {
            try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                c.connect(UnixDomainSocketAddress.of(socket));
                Channels.newOutputStream(c).write(junk.getBytes(StandardCharsets.UTF_8));
                BufferedReader r = new BufferedReader(new InputStreamReader(Channels.newInputStream(c), StandardCharsets.UTF_8));
                String reply = r.readLine();
                assertTrue(reply != null && reply.contains("\"ok\":false"), "an error reply for " + junk.strip() + ": " + reply);
                assertNull(r.readLine(), "then the connection is closed");
            }
        }
        assertEquals(2, RemoteDriver.connect(socket).list(true).size());
    }

    @Test
    void aSecondDaemonOnTheSameSocketIsRefused() {
        Exception e = assertThrows(Exception.class, () -> AdminServer.start(new ScriptedDriver(), socket, null, 2));
        assertTrue(e.getMessage().contains("another xenhostd already serves"), e.getMessage());
    }

    @Test
    void socketIsOwnerOnlyAndAnotherUserCannotConnect() throws Exception {
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
        // the directories above must be traversable for the check below to test the socket's own mode
        for (Path p = socket.getParent(); p != null && p.startsWith(dir.getParent()); p = p.getParent()) {
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        Process p = new ProcessBuilder("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                "/usr/bin/python3", "-c", "import socket,sys\ns=socket.socket(socket.AF_UNIX)\n"
                + "try:\n s.connect(sys.argv[1]); print('connected')\nexcept PermissionError: print('denied')",
                socket.toString()).redirectErrorStream(true).start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertEquals("denied", out);
    }

    /** Answers from a script, so the test can check what crossed the socket. */
    static final class ScriptedDriver implements Driver {
        private static final DomainSummary A = new DomainSummary("vm-a", "11111111-2222-3333-4444-555555555555", 1, "running", true, 512, 2, null);
        private static final DomainSummary B = new DomainSummary("vm-b", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", null, "shut-off", true, 256, 1, null);

        public HostDescription hostInfo() {
            return new HostDescription("h", "4.17", 1024, 512, 2, "cpu", List.of("sse2"), 1, true, List.of("pv", "hvm"));
        }

        public List<DomainSummary> list(boolean all) {
            return all ? List.of(A, B) : List.of(A);
        }

        public DomainSummary define(String xlCfg, String source) {
            throw new DriverException(DriverError.INVALID_INPUT, source + ":1: bad");
        }

        public void undefine(String dom) {
        }

        public DomainSummary start(String dom) {
            return A;
        }

        public DomainSummary createTransient(String xlCfg, String source) {
            return A;
        }

        public void destroy(String dom) {
        }

        public void shutdown(String dom, int timeoutSeconds) {
        }

        public void pause(String dom) {
        }

        public void resume(String dom) {
        }

        public DomainDetails info(String dom) {
            throw new DriverException(DriverError.NOT_FOUND, "no domain '" + dom + "'");
        }

        public String dumpConfig(String dom, boolean json) {
            return "";
        }

        public SaveResult save(String dom, String file) {
            return new SaveResult(file, 10, 2, 3);
        }

        public DomainSummary restore(String file, boolean paused) {
            return A;
        }

        public DomainSummary adopt(int domid) {
            return A;
        }

        public JobInfo jobInfo(String dom) {
            return new JobInfo(dom, null, "none", null, null, false);
        }

        public boolean abortJob(String dom) {
            return false;
        }

        public org.xenhost.migration.MigrationStats migrate(String dom, String destination,
                                                             org.xenhost.migration.MigrationOptions options) {
            throw new DriverException(DriverError.REFUSED, "scripted driver does not migrate");
        }

        public List<org.xenhost.driver.api.NodeDevice> nodeDeviceList() {
            return List.of(new org.xenhost.driver.api.NodeDevice("0000:04:00.0", "010700", "SAS controller", "1000", "0072",
                    "pciback", 7, "assignable", null, "hba", "mpt3sas", false, true, null));
        }

        public org.xenhost.driver.api.NodeDevice nodeDeviceDetach(String bdf, String name, boolean force) {
            return nodeDeviceList().get(0);
        }

        public org.xenhost.driver.api.NodeDevice nodeDeviceReattach(String device, boolean rebind) {
            return nodeDeviceList().get(0);
        }

        public org.xenhost.driver.api.ResetReport nodeDeviceReset(String bdf) {
            return new org.xenhost.driver.api.ResetReport(bdf, "FLR", "scripted", "pciback", true);
        }

        /** Echoes what crossed the socket, so the test sees every option arrive. */
        public org.xenhost.driver.api.DeviceChange attachDevice(String dom, String pciSpec, org.xenhost.driver.api.DeviceOptions o) {
            return new org.xenhost.driver.api.DeviceChange(dom, List.of(pciSpec), o.live(), o.config(), List.of(),
                    o.force() ? "forced" : null, List.of());
        }

        public org.xenhost.driver.api.DeviceChange detachDevice(String dom, String bdf, org.xenhost.driver.api.DeviceOptions o) {
            return attachDevice(dom, bdf, o);
        }

        public org.xenhost.migration.MigrationCookie migrateBegin(String dom, org.xenhost.migration.MigrationOptions options) {
            throw new DriverException(DriverError.REFUSED, "scripted driver does not migrate");
        }

        public org.xenhost.migration.MigrationCookie migratePrepare(org.xenhost.migration.MigrationCookie cookie) {
            throw new DriverException(DriverError.REFUSED, "scripted driver does not migrate");
        }

        public org.xenhost.migration.MigrationStats migratePerform(String dom, org.xenhost.migration.MigrationCookie cookie,
                                                                    String destination) {
            throw new DriverException(DriverError.REFUSED, "scripted driver does not migrate");
        }

        public String migrateFinish(String migrationId) {
            throw new DriverException(DriverError.REFUSED, "scripted driver does not migrate");
        }

        public org.xenhost.migration.MigrationStats migrateConfirm(String migrationId) {
            throw new DriverException(DriverError.REFUSED, "scripted driver does not migrate");
        }

        public void close() {
        }
    }
}
