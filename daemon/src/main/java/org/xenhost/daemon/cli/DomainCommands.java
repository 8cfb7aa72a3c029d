package org.xenhost.daemon.cli;

import org.xenhost.daemon.admin.RemoteDriver;
import org.xenhost.driver.api.DomainDetails;
import org.xenhost.driver.api.DomainSummary;
import org.xenhost.driver.api.Driver;
import org.xenhost.driver.api.DriverError;
import org.xenhost.driver.api.DriverException;
import org.xenhost.driver.api.JobInfo;
import org.xenhost.driver.api.SaveResult;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * virsh/xl-like domain commands; each one a call on the daemon's {@link Driver} over the admin socket.
 */
final class DomainCommands {
    private DomainCommands() {
    }

    /** Shared plumbing: the socket given to {@code xenhost -c} (at any depth: {@code pci assignable-add} too), the output stream. */
    abstract static class DriverCommand implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        Driver driver() {
            return RemoteDriver.connect(((Main) spec.root().userObject()).socket());
        }

        PrintWriter out() {
            return spec.commandLine().getOut();
        }

        @Override
        public Integer call() throws Exception {
            run(driver());
            return Main.EXIT_OK;
        }

        abstract void run(Driver d) throws Exception;
    }

    /** A command on one domain that reports what it did in one line ("Domain web paused"). */
    abstract static class DomainAction extends DriverCommand {
        @Parameters(paramLabel = "DOM", description = "domain name, uuid or domid")
        String dom;

        abstract void act(Driver d);

        /** The past tense shown after success, e.g. "paused". */
        abstract String done();

        @Override
        void run(Driver d) {
            act(d);
            out().println("Domain " + dom + " " + done());
        }
    }

    static String readConfig(String file) {
        try {
            return Files.readString(Path.of(file));
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("config file " + file + " does not exist");
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read config file " + file + ": " + e.getMessage());
        }
    }

    static void printSummaries(PrintWriter out, List<DomainSummary> list) {
        List<List<String>> rows = new ArrayList<>();
        for (DomainSummary s : list) {
            rows.add(List.of(s.domid() == null ? "-" : String.valueOf(s.domid()), s.name(), s.state(),
                    s.memoryMiB() + " MiB", String.valueOf(s.vcpus()), s.persistent() ? "yes" : "no",
                    s.job() == null ? "-" : s.job()));
        }
        Output.table(out, List.of("ID", "NAME", "STATE", "MEMORY", "VCPUS", "PERSISTENT", "JOB"), rows);
    }

    @Command(name = "list", description = "List domains (running; --all adds defined ones that are shut off).")
    static final class ListDomains extends DriverCommand {
        @Option(names = "--all", description = "include shut-off domains")
        boolean all;
        @Option(names = "--json", description = "print JSON")
        boolean json;

        @Override
        void run(Driver d) {
            List<DomainSummary> list = d.list(all);
            if (json) {
                Output.json(out(), list);
            } else {
                printSummaries(out(), list);
            }
        }
    }

    @Command(name = "define", description = "Define a persistent domain from an xl.cfg file (not started).")
    static final class Define extends DriverCommand {
        @Parameters(paramLabel = "FILE.cfg")
        String file;

        @Override
        void run(Driver d) {
            DomainSummary s = d.define(readConfig(file), file);
            out().println("Domain " + s.name() + " defined (uuid " + s.uuid() + ")");
        }
    }

    @Command(name = "undefine", description = "Forget a defined domain (a running one keeps running, transient).")
    static final class Undefine extends DomainAction {
        @Override
        void act(Driver d) {
            d.undefine(dom);
        }

        @Override
        String done() {
            return "undefined";
        }
    }

    @Command(name = "create", description = "Start a defined domain (DOM) or a transient one from FILE.cfg.")
    static final class Create extends DriverCommand {
        @Parameters(paramLabel = "FILE.cfg|DOM")
        String target;

        @Override
        void run(Driver d) {
            DomainSummary s = target.endsWith(".cfg") || Files.isRegularFile(Path.of(target))
                    ? d.createTransient(readConfig(target), target) : d.start(target);
            out().println("Domain " + s.name() + " started (domid " + s.domid() + ")");
        }
    }

    @Command(name = "destroy", description = "Stop a domain at once.")
    static final class Destroy extends DomainAction {
        @Override
        void act(Driver d) {
            d.destroy(dom);
        }

        @Override
        String done() {
            return "destroyed";
        }
    }

    @Command(name = "shutdown", description = "Shut a domain down.")
    static final class Shutdown extends DriverCommand {
        @Parameters(paramLabel = "DOM")
        String dom;
        @Option(names = "--timeout", defaultValue = "60", description = "seconds before a guest that ignores it is destroyed")
        int timeout;

        @Override
        void run(Driver d) {
            if (timeout < 0) {
                throw new IllegalArgumentException("--timeout must be 0 or more seconds, got " + timeout);
            }
            d.shutdown(dom, timeout);
            out().println("Domain " + dom + " shut down");
        }
    }

    @Command(name = "pause", description = "Pause a running domain.")
    static final class Pause extends DomainAction {
        @Override
        void act(Driver d) {
            d.pause(dom);
        }

        @Override
        String done() {
            return "paused";
        }
    }

    @Command(name = "resume", description = "Resume a paused domain.")
    static final class Resume extends DomainAction {
        @Override
        void act(Driver d) {
            d.resume(dom);
        }

        @Override
        String done() {
            return "resumed";
        }
    }

    @Command(name = "dominfo", description = "Show one domain.")
    static final class DomInfo extends DriverCommand {
        @Parameters(paramLabel = "DOM")
        String dom;
        @Option(names = "--json")
        boolean json;

        @Override
        void run(Driver d) {
            DomainDetails i = d.info(dom);
            if (json) {
                Output.json(out(), i);
                return;
            }
            DomainSummary s = i.summary();
            PrintWriter o = out();
            o.printf("Name:        %s%nUUID:        %s%nID:          %s%nState:       %s%nType:        %s%n"
                            + "Memory:      %d MiB (max %d MiB)%nvCPUs:       %d%nPersistent:  %s%nDevices:     %s%n",
                    s.name(), s.uuid(), s.domid() == null ? "-" : s.domid(), s.state(), i.type(), s.memoryMiB(),
                    i.maxMemoryMiB(), s.vcpus(), s.persistent() ? "yes" : "no",
                    i.devices().isEmpty() ? "-" : String.join(", ", i.devices()));
            if (s.job() != null) {
                o.printf("Job:         %s%n", s.job());
            }
            if (i.interruptedJob() != null) {
                o.printf("Interrupted: %s%n", i.interruptedJob());
            }
            o.flush();
        }
    }

    @Command(name = "dumpconfig", description = "Print a domain's configuration (xl.cfg, or libxl JSON with --json).")
    static final class DumpConfig extends DriverCommand {
        @Parameters(paramLabel = "DOM")
        String dom;
        @Option(names = "--json")
        boolean json;

        @Override
        void run(Driver d) {
            out().print(d.dumpConfig(dom, json));
            if (json) {
                out().println();
            }
            out().flush();
        }
    }

    @Command(name = "save", description = "Save a running domain to FILE (xl save format) and stop it.")
    static final class Save extends DriverCommand {
        @Parameters(index = "0", paramLabel = "DOM")
        String dom;
        @Parameters(index = "1", paramLabel = "FILE")
        String file;
        @Option(names = "--json")
        boolean json;

        @Override
        void run(Driver d) {
            SaveResult r = d.save(dom, Path.of(file).toAbsolutePath().toString());
            if (json) {
                Output.json(out(), r);
            } else {
                out().printf("Domain %s saved to %s (%d bytes, %d ms)%n", dom, r.file(), r.bytes(), r.millis());
            }
        }
    }

    @Command(name = "restore", description = "Start a domain from a save file.")
    static final class Restore extends DriverCommand {
        @Parameters(paramLabel = "FILE")
        String file;
        @Option(names = {"-p", "--paused"}, description = "leave it paused")
        boolean paused;

        @Override
        void run(Driver d) {
            DomainSummary s = d.restore(Path.of(file).toAbsolutePath().toString(), paused);
            out().println("Domain " + s.name() + " restored (domid " + s.domid() + ", " + s.state() + ")");
        }
    }

    @Command(name = "adopt", description = "Manage a domain made outside xenhost (e.g. by xl create).")
    static final class Adopt extends DriverCommand {
        @Parameters(paramLabel = "DOMID")
        int domid;

        @Override
        void run(Driver d) {
            DomainSummary s = d.adopt(domid);
            out().println("Domain " + s.name() + " (domid " + domid + ") adopted");
        }
    }

    @Command(name = "domjobinfo", description = "Show the job running on a domain.")
    static final class DomJobInfo extends DriverCommand {
        @Parameters(paramLabel = "DOM")
        String dom;
        @Option(names = "--json")
        boolean json;

        @Override
        void run(Driver d) {
            JobInfo j = d.jobInfo(dom);
            if (json) {
                Output.json(out(), j);
            } else if (j.kind() == null) {
                out().println("Job:   " + j.state() + (j.phase() == null ? "" : " (" + j.phase() + ")"));
            } else {
                out().printf("Job:   %s%nPhase: %s%nSince: %s%n", j.kind(), j.phase(), j.since());
            }
            var m = j.migration();
            if (m != null) {
                out().printf("Migration:        %s (%s)%n", m.id(), m.role());
                out().printf("Step:             %s%n", m.step());
                out().printf("Data:             %.1f MiB, %d pages%n", m.bytes() / 1048576.0, m.pages());
                out().printf("Memory:           %d MiB total, %.1f MiB remaining in this pass%n", m.memoryTotalBytes() >> 20,
                        m.memoryRemainingBytes() / 1048576.0);
                out().printf("Iteration:        %d%n", m.iteration());
                out().printf("Dirty rate:       %s MiB/s%n", m.dirtyRateMiBps() < 0 ? "-" : m.dirtyRateMiBps());
                out().printf("Transfer rate:    %s MiB/s%n", m.transferRateMiBps() < 0 ? "-" : m.transferRateMiBps());
                out().printf("Elapsed:          %d ms%n", m.elapsedMs());
                out().printf("Remaining (est.): %s%n", m.etaMs() < 0 ? "-" : m.etaMs() + " ms");
                if (m.downtimeMs() >= 0) {
                    out().printf("Downtime:         %d ms%n", m.downtimeMs());
                }
            }
            out().flush();
        }
    }

    @Command(name = "domjobabort", description = "Abort the job running on a domain.")
    static final class DomJobAbort extends DriverCommand {
        @Parameters(paramLabel = "DOM")
        String dom;

        @Override
        void run(Driver d) {
            if (!d.abortJob(dom)) {
                throw new DriverException(DriverError.REFUSED, "the job on " + dom + " cannot be aborted at this step");
            }
            out().println("Job on " + dom + " aborted");
        }
    }
}
