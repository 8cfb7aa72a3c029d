package org.xenhost.daemon.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;
import java.util.List;

/**
 * The {@code xenhost} command line. Exit codes are a contract with scripts and tests:
 * 0 success, 2 bad input (the message names the input), 1 anything else. No stack trace
 * reaches the operator; {@code XENHOST_DEBUG=1} prints one for developers.
 */
@Command(name = "xenhost", mixinStandardHelpOptions = true, scope = CommandLine.ScopeType.INHERIT,
        versionProvider = Main.Version.class,
        description = "Xen host agent: PCI passthrough and live migration.")
public final class Main implements Runnable {
    /**
     * Every top-level command, in the order {@code --help} lists them. They are registered with picocli here rather
     * than in {@code @Command(subcommands=...)} so that a command line naming one of them builds only that one's
     * model: picocli builds a command's model by reflection over all its options, and for all of these that took
     * ~0.12 s of a CLI call's ~0.5 s start (first-time, interpreted work: an archive of picocli's classes does not
     * shorten it, see daemon/README.md "CLI start-up").
     */
    static final List<Class<?>> COMMANDS = List.of(
            PciCommand.class,
            HostCommand.class,
            XlCommand.class,
            DaemonCommand.class,
            DomainCommands.ListDomains.class,
            DomainCommands.Define.class,
            DomainCommands.Undefine.class,
            DomainCommands.Create.class,
            DomainCommands.Destroy.class,
            DomainCommands.Shutdown.class,
            DomainCommands.Pause.class,
            DomainCommands.Resume.class,
            DomainCommands.DomInfo.class,
            DomainCommands.DumpConfig.class,
            DomainCommands.Save.class,
            DomainCommands.Restore.class,
            DomainCommands.Adopt.class,
            DomainCommands.DomJobInfo.class,
            DomainCommands.DomJobAbort.class,
            PkiCommand.class,
            DeviceCommands.Attach.class,
            DeviceCommands.Detach.class,
            NodeDeviceCommands.ListDevices.class,
            NodeDeviceCommands.Detach.class,
            NodeDeviceCommands.Reattach.class,
            NodeDeviceCommands.Reset.class,
            MigrateCommand.class,
            DemoCommand.class);

    /** Where a bare {@code xenhost COMMAND} finds the daemon (also {@code XENHOST_SOCKET}). */
    public static final String DEFAULT_SOCKET = "/run/xenhost/xenhostd.sock";

    @CommandLine.Option(names = {"-c", "--connect"}, paramLabel = "PATH", scope = CommandLine.ScopeType.INHERIT,
            description = "xenhostd's admin socket (default: $XENHOST_SOCKET or " + DEFAULT_SOCKET + ")")
    String socket;

    /** The admin socket this invocation talks to. */
    java.nio.file.Path socket() {
        String s = socket != null ? socket : System.getenv("XENHOST_SOCKET");
        return java.nio.file.Path.of(s != null && !s.isBlank() ? s : DEFAULT_SOCKET);
    }

    public static final int EXIT_OK = 0;
    public static final int EXIT_FAILURE = 1;
    public static final int EXIT_BAD_INPUT = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required (try --help)");
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs one command line and returns its exit code; used by tests that drive the CLI in-process. */
    public static int execute(String... args) {
        return execute(null, null, args);
    }

    /** As {@link #execute(String...)}, printing to the given writers (null: the process's own). */
    public static int execute(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cl = commandLine(args);
        if (out != null) {
            cl.setOut(out);
        }
        if (err != null) {
            cl.setErr(err);
        }
        cl.setExecutionExceptionHandler(Main::handleFailure);
        cl.setParameterExceptionHandler((ex, a) -> {
            PrintWriter w = ex.getCommandLine().getErr();
            w.println("xenhost: " + ex.getMessage());
            // a mistyped command or option: name the nearest ones (picocli knows them all, see commandsFor)
            CommandLine.UnmatchedArgumentException.printSuggestions(ex, w);
            w.flush();
            return EXIT_BAD_INPUT;
        });
        return cl.execute(args);
    }

    /** The command line's model, with the commands {@link #commandsFor} registers for {@code args}. */
    static CommandLine commandLine(String... args) {
        CommandLine cl = new CommandLine(new Main());
        for (Class<?> c : commandsFor(args)) {
            cl.addSubcommand(c);
        }
        return cl;
    }

    /**
     * The top-level commands to register for this command line: only the one it names, if it names one. The first
     * word that is not an option or the value of {@code -c/--connect} (the only top-level option with a value) is a
     * command's name. All are registered when that word names none (so picocli suggests the nearest) and for
     * {@code --help} without a command (which lists them); none for {@code --version} or a bare {@code xenhost}.
     */
    static List<Class<?>> commandsFor(String... args) {
        boolean help = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("-c") || a.equals("--connect")) {
                i++;
            } else if (a.equals("-h") || a.equals("--help")) {
                help = true;
            } else if (a.equals("--")) {
                break;
            } else if (!a.startsWith("-")) {
                for (Class<?> c : COMMANDS) {
                    Command cmd = c.getAnnotation(Command.class);
                    if (cmd.name().equals(a) || List.of(cmd.aliases()).contains(a)) {
                        return List.of(c);
                    }
                }
                return COMMANDS;
            }
        }
        return help ? COMMANDS : List.of();
    }

    private static int handleFailure(Exception ex, CommandLine cl, CommandLine.ParseResult parsed) {
        PrintWriter err = cl.getErr();
        err.println("xenhost: " + describe(ex));
        if (System.getenv("XENHOST_DEBUG") != null) {
            ex.printStackTrace(err);
        }
        err.flush();
        // IllegalArgumentException is how every module reports input it refuses; the daemon says so by kind.
        if (ex instanceof org.xenhost.driver.api.DriverException d) {
            return d.badInput() ? EXIT_BAD_INPUT : EXIT_FAILURE;
        }
        return ex instanceof IllegalArgumentException ? EXIT_BAD_INPUT : EXIT_FAILURE;
    }

    private static String describe(Throwable ex) {
        String msg = ex.getMessage();
        return msg == null || msg.isBlank() ? ex.getClass().getSimpleName() : msg;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"xenhost " + (v == null ? "development build" : v)};
        }
    }
}
