package org.xenhost.libxl.stream;

/** Where a stream flowing through a {@link StreamTap} has got to. */
public enum StreamPhase {
    /** Headers and static data (CPU policies): nothing of the guest's memory yet. */
    PREAMBLE,
    /** PAGE_DATA records: the memory passes (live rounds included; the stream does not mark round boundaries). */
    MEMORY,
    /** After a VERIFY record: memory sent again for the receiver to compare (debug migrations). */
    VERIFY,
    /** CPU and device state after the memory: TSC, HVM context and params, vCPU records, emulator records. */
    FINAL_STATE,
    /** The final END has passed. */
    COMPLETE,
    /** The bytes stopped making sense as a stream; see {@link TapSnapshot#problem()}. Bytes are still counted. */
    UNPARSEABLE
}
