package org.xenhost.hostdev;

import org.xenhost.pci.PciAddress;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * The numbered steps of one operation and their undo actions. Each step announces itself to the {@link StepHook};
 * each completed step that changed something registers how to undo it; {@link #unwind} runs those in reverse.
 * An {@link Error} (a simulated crash) is never caught here, so nothing is undone: recovery is the journal's job.
 */
final class Steps {
    /** An undo action. */
    @FunctionalInterface
    interface Undo {
        void run() throws Exception;
    }

    private record Entry(String what, Undo undo) {
    }

    private final String operation;
    private final List<PciAddress> devices;
    private final StepHook hook;
    private final Deque<Entry> undo = new ArrayDeque<>();
    private int current;
    private String currentName = "start";

    Steps(String operation, List<PciAddress> devices, StepHook hook) {
        this.operation = operation;
        this.devices = List.copyOf(devices);
        this.hook = hook;
    }

    /** Enters step {@code n}. */
    void step(int n, String name) {
        current = n;
        currentName = name;
        hook.before(operation, n, name, devices);
    }

    /** Registers how to undo what the current step just did. */
    void undo(String what, Undo action) {
        undo.push(new Entry(what, action));
    }

    /**
     * Runs every registered undo in reverse and returns the failure to report: it names the operation, the failed
     * step, the cause and any undo that itself failed (the journal keeps such a device pending for recovery).
     */
    HostdevException unwind(Exception cause) {
        List<String> failedUndos = new ArrayList<>();
        while (!undo.isEmpty()) {
            Entry e = undo.pop();
            try {
                e.undo.run();
            } catch (Exception ex) {
                failedUndos.add(e.what + ": " + ex.getMessage());
            }
        }
        String msg = operation + " " + devices + " failed at step " + current + " (" + currentName + "): "
                + cause.getMessage()
                + (failedUndos.isEmpty() ? "; every completed step was undone"
                : "; could not undo " + String.join("; ", failedUndos)
                + " (the journal keeps these devices pending; a restart reconciles them)");
        return new HostdevException(msg, cause);
    }
}
