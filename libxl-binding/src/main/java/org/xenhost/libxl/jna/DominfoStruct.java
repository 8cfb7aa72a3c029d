package org.xenhost.libxl.jna;

import com.sun.jna.Pointer;
import com.sun.jna.Structure.FieldOrder;

/** {@code libxl_dominfo} (120 bytes on x86_64). */
@FieldOrder({"uuid", "domid", "ssidref", "ssid_label", "running", "blocked", "paused", "shutdown", "dying",
        "never_stop", "shutdown_reason", "outstanding_memkb", "current_memkb", "shared_memkb", "paged_memkb",
        "max_memkb", "cpu_time", "vcpu_max_id", "vcpu_online", "cpupool", "gpaddr_bits", "domain_type"})
public class DominfoStruct extends CStruct {
    /** {@code libxl_uuid}: 16 octets, big-endian. */
    public byte[] uuid = new byte[16];
    public int domid;
    public int ssidref;
    public Pointer ssid_label;
    public byte running;
    public byte blocked;
    public byte paused;
    public byte shutdown;
    public byte dying;
    public byte never_stop;
    public int shutdown_reason;
    public long outstanding_memkb;
    public long current_memkb;
    public long shared_memkb;
    public long paged_memkb;
    public long max_memkb;
    public long cpu_time;
    public int vcpu_max_id;
    public int vcpu_online;
    public int cpupool;
    public byte gpaddr_bits;
    public int domain_type;

    public DominfoStruct() {
    }

    public DominfoStruct(Pointer p) {
        super(p);
    }

    @Override
    public String cTypeName() {
        return "libxl_dominfo";
    }
}
