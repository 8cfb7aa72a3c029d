package org.xenhost.libxl;

/** {@code libxl_domain_type}. PVH and HVM guests both save as libxc domain type 2 (x86 HVM). */
public enum DomainType {
    INVALID(-1),
    HVM(1),
    PV(2),
    PVH(3);

    private final int code;

    DomainType(int code) {
        this.code = code;
    }

    /** The C enum value. */
    public int code() {
        return code;
    }

    /** The type for a C enum value; unknown values map to {@link #INVALID}. */
    public static DomainType ofCode(int code) {
        for (DomainType t : values()) {
            if (t.code == code) {
                return t;
            }
        }
        return INVALID;
    }
}
