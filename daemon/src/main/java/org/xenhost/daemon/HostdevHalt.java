package org.xenhost.daemon;

import org.xenhost.hostdev.StepHook;
import org.xenhost.pci.PciAddress;

import java.util.List;

/**
 * Fault injection for crash tests of the host-device manager, as {@code XENHOST_MIGRATION_HALT_AT} is for
 * migration: when {@code XENHOST_HOSTDEV_HALT_AT} names an operation's step ({@code managed-start:4} stops a
 * domain's device hand-over after its devices left their dom0 drivers and before they are reset), xenhostd stops
 * dead there, like kill -9 (no unwind, no shutdown hooks), so a test, on the emulated host or on real Xen, can
 * crash the daemon between two exact steps, which no timing from outside can. Unset, it is {@link StepHook#NONE}.
 */
final class HostdevHalt {
    static final String VARIABLE = "XENHOST_HOSTDEV_HALT_AT";

    private HostdevHalt() {
    }

    static StepHook fromEnvironment() {
        String at = System.getenv(VARIABLE);
        if (at == null || at.isBlank()) {
            return StepHook.NONE;
        }
        if (!at.matches("[a-z-]+:\\d+")) {
            throw new IllegalArgumentException(VARIABLE + "='" + at + "' must be OPERATION:STEP, e.g. managed-start:4");
        }
        return (String operation, int step, String name, List<PciAddress> devices) -> {
            if (at.equals(operation + ":" + step)) {
                System.err.println("xenhostd: halting before " + operation + " step " + step + " (" + name + ") of "
                        + devices + " (" + VARIABLE + ")");
                Runtime.getRuntime().halt(137);
            }
        };
    }
}
