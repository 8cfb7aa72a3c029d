package org.xenhost.emulator.save;

import org.xenhost.emulator.memory.GuestMemory;
import org.xenhost.libxl.DomainType;

/** What the restorer needs of the (provisional) domain it fills. */
public interface RestoredGuest {
    int domid();

    DomainType type();

    GuestMemory memory();

    /** Sets the vCPU state carried by the stream (the workload step counter). */
    void setWorkloadStep(long step);
}
