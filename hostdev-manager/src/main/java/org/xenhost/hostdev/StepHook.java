package org.xenhost.hostdev;

import org.xenhost.pci.PciAddress;

import java.util.List;

/**
 * Called before every numbered step of every operation. Production uses {@link #NONE}; crash-recovery tests
 * throw an {@link Error} here to stop an operation dead at that step (no unwind runs for an Error, as none would
 * run when the process dies), then start a new manager on the same state directory.
 */
@FunctionalInterface
public interface StepHook {
    StepHook NONE = (operation, step, name, devices) -> {
    };

    /**
     * @param operation e.g. {@code assignable-add}, {@code managed-start}
     * @param step      the step's number in that operation's comment
     * @param name      the step's name
     * @param devices   the devices the operation works on
     */
    void before(String operation, int step, String name, List<PciAddress> devices);
}
