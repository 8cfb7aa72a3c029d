package org.xenhost.hostdev;

/** Thrown by a test's {@link StepHook}: the process "dies" at that step (nothing unwinds). */
final class SimulatedCrash extends Error {
    private static final long serialVersionUID = 1L;

    SimulatedCrash(String where) {
        super("simulated crash " + where);
    }
}
