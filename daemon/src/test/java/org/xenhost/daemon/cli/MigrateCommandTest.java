package org.xenhost.daemon.cli;

import org.junit.jupiter.api.Test;
import org.xenhost.migration.MigrationOptions;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;

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
        CommandLine cl = new CommandLine(new Main());
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

    @Test
    void liveGivenTwiceIsABadInput() {
        StringWriter err = new StringWriter();
        int rc = Main.execute(new PrintWriter(new StringWriter()), new PrintWriter(err), "migrate", "web", "host-b:7102",
                "--no-live", "--live");
        assertEquals(Main.EXIT_BAD_INPUT, rc);
        assertTrue(err.toString().contains("--no-live"), err.toString());
    }
}
