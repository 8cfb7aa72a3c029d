package org.xenhost.libxl.jna;

import com.sun.jna.Structure.FieldOrder;

/** {@code libxl_physinfo}. */
@FieldOrder({"threads_per_core", "cores_per_socket", "max_cpu_id", "nr_cpus", "cpu_khz", "total_pages", "free_pages",
        "scrub_pages", "outstanding_pages", "sharing_freed_pages", "sharing_used_frames", "max_possible_mfn",
        "nr_nodes", "hw_cap", "cap_hvm", "cap_pv", "cap_hvm_directio", "cap_hap", "cap_shadow",
        "cap_iommu_hap_pt_share", "cap_vmtrace", "cap_vpmu", "cap_gnttab_v1", "cap_gnttab_v2"})
public class PhysinfoStruct extends CStruct {
    public int threads_per_core;
    public int cores_per_socket;
    public int max_cpu_id;
    public int nr_cpus;
    public int cpu_khz;
    public long total_pages;
    public long free_pages;
    public long scrub_pages;
    public long outstanding_pages;
    public long sharing_freed_pages;
    public long sharing_used_frames;
    public long max_possible_mfn;
    public int nr_nodes;
    /** {@code libxl_hwcap}: {@code uint32_t[8]}. */
    public int[] hw_cap = new int[8];
    public byte cap_hvm;
    public byte cap_pv;
    public byte cap_hvm_directio;
    public byte cap_hap;
    public byte cap_shadow;
    public byte cap_iommu_hap_pt_share;
    public byte cap_vmtrace;
    public byte cap_vpmu;
    public byte cap_gnttab_v1;
    public byte cap_gnttab_v2;

    public PhysinfoStruct() {
    }

    @Override
    public String cTypeName() {
        return "libxl_physinfo";
    }
}
