package org.xenhost.libxl.jna;

import com.sun.jna.Pointer;
import com.sun.jna.Structure.FieldOrder;

/** {@code libxl_version_info}, read in place from the pointer {@code libxl_get_version_info} returns (ctx-owned). */
@FieldOrder({"xen_version_major", "xen_version_minor", "xen_version_extra", "compiler", "compile_by",
        "compile_domain", "compile_date", "capabilities", "changeset", "virt_start", "pagesize", "commandline",
        "build_id"})
public class VersionInfoStruct extends CStruct {
    public int xen_version_major;
    public int xen_version_minor;
    public Pointer xen_version_extra;
    public Pointer compiler;
    public Pointer compile_by;
    public Pointer compile_domain;
    public Pointer compile_date;
    public Pointer capabilities;
    public Pointer changeset;
    public long virt_start;
    public int pagesize;
    public Pointer commandline;
    public Pointer build_id;

    public VersionInfoStruct() {
    }

    public VersionInfoStruct(Pointer p) {
        super(p);
    }

    @Override
    public String cTypeName() {
        return "libxl_version_info";
    }
}
