package org.xenhost.daemon.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine.Command;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Main registers only the command a command line names; everything an operator sees must stay as it was. */
class MainCommandsTest {

    @Test
    void aCommandLineNamingACommandRegistersOnlyThatOne() {
        assertEquals(List.of(PciCommand.class), Main.commandsFor("pci", "list", "--json"));
        assertEquals(List.of(DomainCommands.ListDomains.class), Main.commandsFor("-c", "/tmp/x.sock", "list"));
        assertEquals(List.of(DomainCommands.ListDomains.class), Main.commandsFor("--connect", "list", "list"),
                "the value of --connect is not the command, even when it looks like one");
        assertEquals(List.of(DomainCommands.ListDomains.class), Main.commandsFor("--connect=/tmp/x.sock", "list"));
        assertEquals(List.of(MigrateCommand.class), Main.commandsFor("migrate", "--help"));
    }

    @Test
    void helpAndTyposRegisterAllSoThatPicocliCanListOrSuggestThem() {
        assertEquals(Main.COMMANDS, Main.commandsFor("--help"));
        assertEquals(Main.COMMANDS, Main.commandsFor("-h"));
        assertEquals(Main.COMMANDS, Main.commandsFor("lst"));
        assertEquals(List.of(), Main.commandsFor("--version"));
        assertEquals(List.of(), Main.commandsFor());
    }

    @Test
    void everyCommandIsFoundByItsOwnName() {
        Set<String> names = new HashSet<>();
        for (Class<?> c : Main.COMMANDS) {
            String name = c.getAnnotation(Command.class).name();
            assertTrue(names.add(name), "two commands named " + name);
            assertEquals(List.of(c), Main.commandsFor(name), name);
        }
    }

    @Test
    void helpListsEveryCommand() {
        CliRun r = CliRun.run("--help");
        assertEquals(0, r.exitCode(), r.err());
        for (Class<?> c : Main.COMMANDS) {
            String name = c.getAnnotation(Command.class).name();
            assertTrue(r.out().lines().anyMatch(l -> l.strip().startsWith(name + " ")), name + " in:\n" + r.out());
        }
    }

    @Test
    void aMistypedCommandIsBadInputAndTheNearestAreSuggested() {
        CliRun r = CliRun.run("lst");
        assertEquals(Main.EXIT_BAD_INPUT, r.exitCode());
        assertTrue(r.err().contains("'lst'"), r.err());
        assertTrue(r.err().contains("Did you mean: xenhost list"), r.err());
    }

    @Test
    void versionAndBareCommandLinesStillWork() {
        CliRun v = CliRun.run("--version");
        assertEquals(0, v.exitCode(), v.err());
        assertTrue(v.out().startsWith("xenhost "), v.out());
        CliRun bare = CliRun.run();
        assertEquals(Main.EXIT_BAD_INPUT, bare.exitCode());
        assertTrue(bare.err().contains("a command is required"), bare.err());
    }
}
