package org.xenhost.libxl.jna;

import com.sun.jna.Pointer;
import com.sun.jna.Structure.FieldOrder;

/** {@code libxl_device_pci} (32 bytes on x86_64): see xen-facts §5.3. Always {@code _init} / {@code _dispose}. */
@FieldOrder({"func", "dev", "bus", "domain", "vdevfn", "vfunc_mask", "msitranslate", "power_mgmt", "permissive",
        "seize", "rdm_policy", "name"})
public class DevicePciStruct extends CStruct {
    public byte func;
    public byte dev;
    public byte bus;
    public int domain;
    public int vdevfn;
    public int vfunc_mask;
    public byte msitranslate;
    public byte power_mgmt;
    public byte permissive;
    public byte seize;
    public int rdm_policy;
    /** {@code char *}, owned by the struct: {@code _dispose} frees it with {@code free()}. */
    public Pointer name;

    public DevicePciStruct() {
    }

    public DevicePciStruct(Pointer p) {
        super(p);
    }

    @Override
    public String cTypeName() {
        return "libxl_device_pci";
    }
}
