package org.xenhost.daemon.cli;

import org.junit.jupiter.api.Test;
import org.xenhost.migration.MigrationOptions;
import picocli.CommandLine;

import org.xenhost.driver.api.Driver;
import org.xenhost.driver.api.DriverError;
import org.xenhost.driver.api.DriverException;
import org.xenhost.migration.MigrationStats;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.Proxy;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What {@code xenhost migrate}'s flags mean once parsed, before anything is sent. picocli inverts a negatable
 * boolean that defaults to true (--no-live came out as live, --live as non-live), which real Xen showed: a
 * "--no-live" migration of a PV guest asked Xen for log-dirty mode.
 */
class MigrateCommandTest {
    private static MigrationOptions parse(String... flags) {
        String[] args = new String[flags.length + 3];
        args[0] = "migrate";
        args[1] = "web";
        args[2] = "host-b:7102";
        System.arraycopy(flags, 0, args, 3, flags.length);
        CommandLine cl = Main.commandLine(args);
        CommandLine.ParseResult r = cl.parseArgs(args);
        MigrateCommand m = (MigrateCommand) r.subcommand().commandSpec().userObject();
        return m.options();
    }

    @Test
    void liveUnlessToldOtherwise() {
        assertTrue(parse().live());
        assertTrue(parse("--live").live());
        assertFalse(parse("--no-live").live());
    }

    @Test
    void offlineIsNeverLive() {
        MigrationOptions o = parse("--offline", "--persist");
        assertTrue(o.offline());
        assertFalse(o.live());
    }

    @Test
    void theOtherFlagsReachTheOptions() {
        MigrationOptions o = parse("--paused", "--bandwidth", "16", "--debug", "--dest-name", "web2", "--timeout", "60",
                "--hostdev-policy=replug", "--hostdev-map", "0000:02:10.0=0000:02:10.2");
        assertTrue(o.paused() && o.debug() && o.live());
        assertEquals(60, o.timeoutSeconds());
        assertEquals(16, o.bandwidthMiBps());
        assertEquals("web2", o.destName());
        assertEquals(MigrationOptions.HostdevPolicy.REPLUG, o.hostdevPolicy());
    }

    /**
     * Ctrl-C after the command asked for the migration but before the daemon made it the domain's job: the daemon
     * answers the abort with "no job running". The hook asks again until the job exists, so the abort is not lost
     * (the hook before this session asked once and swallowed the refusal). The daemon is stood in for here, to hold
     * the migration's start back until the hook has been refused.
     */
    @Test
    void aCtrlCBeforeTheDaemonMadeTheMigrationItsJobStillAbortsIt() throws Exception {
        CountDownLatch jobExists = new CountDownLatch(1);
        CountDownLatch abortAsked = new CountDownLatch(1);
        AtomicInteger refusals = new AtomicInteger();
        Driver daemon = (Driver) Proxy.newProxyInstance(Driver.class.getClassLoader(), new Class<?>[] {Driver.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "abortJob" -> {
                        if (jobExists.getCount() > 0) {
                            refusals.incrementAndGet();
                            throw new DriverException(DriverError.REFUSED, "domain 'web' has no job running");
                        }
                        abortAsked.countDown();
                        yield true;
                    }
                    case "migrate" -> {
                        jobExists.await();
                        if (!abortAsked.await(60, TimeUnit.SECONDS)) {
                            throw new AssertionError("no abort reached the job");
                        }
                        throw new DriverException(DriverError.FAILED, "migration of 'web' to host-b:7102 aborted (aborted by "
                                + "the operator); the guest keeps running here");
                    }
                    default -> throw new UnsupportedOperationException(method.getName());
                });
        StringWriter err = new StringWriter();
        MigrateCommand.CtrlC ctrlC = new MigrateCommand.CtrlC(daemon, "web", "host-b:7102", new PrintWriter(err, true));
        CompletableFuture<MigrationStats> run = ctrlC.start(() -> CompletableFuture.supplyAsync(() -> daemon.migrate("web", "host-b:7102", null)));
        CompletableFuture<Void> hook = CompletableFuture.runAsync(ctrlC::onSignal);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (refusals.get() == 0 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertTrue(refusals.get() > 0, "the signal came before the job existed");
        jobExists.countDown();
        hook.get(60, TimeUnit.SECONDS);
        assertTrue(run.isCompletedExceptionally());
        assertTrue(err.toString().contains("xenhost: interrupted: asking xenhostd to abort the migration of web to host-b:7102"), err.toString());
        assertTrue(err.toString().contains("xenhost: abort requested; the migration of web ended: migration of 'web' to host-b:7102 "
                + "aborted (aborted by the operator)"), err.toString());
    }

    @Test
    void liveGivenTwiceIsABadInput() {
        StringWriter err = new StringWriter();
        int rc = Main.execute(new PrintWriter(new StringWriter()), new PrintWriter(err), "migrate", "web", "host-b:7102",
                "--no-live", "--live");
        assertEquals(Main.EXIT_BAD_INPUT, rc);
        assertTrue(err.toString().contains("--no-live"), err.toString());
    }
}
