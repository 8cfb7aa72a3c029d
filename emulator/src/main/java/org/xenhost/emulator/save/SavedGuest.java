package org.xenhost.emulator.save;

import java.io.IOException;
import org.xenhost.emulator.memory.GuestMemory;
import org.xenhost.libxl.DomainType;

/** What the saver needs of the domain it saves (the hypervisor calls libxenguest makes). */
public interface SavedGuest {
    int domid();

    DomainType type();

    int vcpus();

    GuestMemory memory();

    /** XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY: 0, or a negative errno (-EINVAL with assigned PCI devices). */
    int enableLogDirty();

    /** libxl's suspend callback: the guest stops (shutdown reason suspend); no memory write happens after. */
    void suspend() throws IOException;

    /** The vCPU state worth carrying: the workload's step counter. */
    long workloadStep();

    /** Guest time for TSC_INFO. */
    long uptimeNs();
}
