package org.xenhost.hostdev;

/**
 * Where a device has settled, as the ownership journal records it.
 *
 * <pre>
 *            assignable-add                  attach / managed start
 *   HOST ───────────────────▶ ASSIGNABLE ─────────────────────────▶ ATTACHED(domain)
 *        ◀───────────────────            ◀─────────────────────────
 *            assignable-remove                detach / managed stop
 * </pre>
 * A device on its host driver that xenhost never touched has no journal entry at all; {@code HOST} appears in an
 * entry only while an operation that starts there is pending (see {@link Pending}).
 */
public enum DeviceState {
    /** With dom0: bound to its own driver (or to none), not on pciback. */
    HOST,
    /** In the assignable pool: bound to pciback, used by no domain. */
    ASSIGNABLE,
    /** Given to a domain (the entry names it). */
    ATTACHED
}
