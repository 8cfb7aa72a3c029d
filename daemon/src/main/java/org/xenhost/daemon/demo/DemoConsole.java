package org.xenhost.daemon.demo;

import org.xenhost.driver.api.DomainSummary;
import org.xenhost.migration.MigrationStats;
import org.xenhost.driver.api.NodeDevice;

import java.nio.file.Path;
import java.util.List;

/**
 * What the demo shows the operator, and the one CLI command it runs as such: the CLI implements this with its
 * own tables and the migrate command's progress, so the demo shows exactly what the commands it names print.
 */
public interface DemoConsole {
    /** A numbered step begins. */
    void step(int number, int of, String title);

    /** A line under the current step. */
    void say(String line);

    /** Something went wrong or is being cleaned up after an interruption (always on stderr). */
    void warn(String line);

    /** {@code xenhost list --all} of one host, as the CLI prints it. */
    void showDomains(String host, Path socket, List<DomainSummary> domains);

    /** {@code xenhost -c SOCKET nodedev-list} of one host (its daemon's answer), as the CLI prints it. */
    void showNodeDevices(String host, Path socket, List<NodeDevice> devices);

    /**
     * Runs {@code xenhost -c SOCKET migrate DOM DEST FLAGS} (the migrate command: progress while the source's job
     * runs, Ctrl-C aborts it), showing its progress; returns its final statistics.
     *
     * @throws RuntimeException with the command's message if the migration failed
     */
    MigrationStats migrate(Path socket, String dom, String destination, List<String> flags);
}
