package org.xenhost.libxl.jna;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.xenhost.libxl.LibxlDevicePci;
import org.xenhost.libxl.RdmPolicy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** Records to libxl_device_pci and back through libxl's own _init/_dispose (no hypervisor needed). */
class DevicePciStructTest {
    @BeforeAll
    static void prerequisites() {
        XenPrerequisites.requireLibxenDev();
    }

    @Test
    void initLeavesRdmPolicyInvalidAndRoundTripKeepsEveryField() {
        XenlightLibrary xl = NativeLibraries.xenlight();
        DevicePciStruct fresh = new DevicePciStruct();
        xl.libxl_device_pci_init(fresh);
        assertEquals(-1, fresh.rdm_policy);
        assertNull(fresh.name);
        xl.libxl_device_pci_dispose(fresh);

        LibxlDevicePci d = new LibxlDevicePci(0xabcd, 0xfe, 0x1f, 7, 0xf8, LibxlDevicePci.FUNC_ALL, true, false, true,
                true, RdmPolicy.RELAXED, "gpu\u00e9-0");
        DevicePciStruct s = NativeLibxl.toStruct(xl, NativeLibraries.libc(), d);
        s.write();
        s.read();
        assertEquals(d, NativeLibxl.fromStruct(s));
        xl.libxl_device_pci_dispose(s); // frees the strdup'ed name with free(): must not crash
        s.read();
        assertNull(s.name);
    }
}
