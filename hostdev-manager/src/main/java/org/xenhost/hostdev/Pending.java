package org.xenhost.hostdev;

/**
 * The operation a journal entry announces before its first sysfs/libxl step. An entry whose pending operation is
 * not {@link #NONE} after a crash is finished or rolled back by {@link Reconciler} from what sysfs and libxl show.
 */
public enum Pending {
    /** Settled; nothing in flight. */
    NONE,
    /** HOST → ASSIGNABLE ({@code assignable-add}, or {@code seize} during an attach). */
    ADD,
    /** ASSIGNABLE → HOST ({@code assignable-remove}). */
    REMOVE,
    /** ASSIGNABLE → ATTACHED (hotplug). */
    ATTACH,
    /** ATTACHED → ASSIGNABLE (hot-unplug). */
    DETACH,
    /** HOST or ASSIGNABLE → ATTACHED, as part of a domain start (managed devices are made assignable first). */
    START,
    /** ATTACHED → ASSIGNABLE, then HOST for managed devices, as part of a domain stop. */
    STOP
}
