package org.xenhost.libxl;

/**
 * {@code libxl_rdm_reserve_policy}: what libxl does when a passed-through device's reserved memory region
 * (RMRR) clashes with guest memory. {@link #INVALID} is the value {@code libxl_device_pci_init} leaves;
 * {@code libxl_device_pci_add} then applies {@link #STRICT}.
 */
public enum RdmPolicy {
    INVALID(-1),
    STRICT(0),
    RELAXED(1);

    private final int code;

    RdmPolicy(int code) {
        this.code = code;
    }

    /** The C enum value. */
    public int code() {
        return code;
    }

    /** Lower-case name as xl.cfg and libxl's JSON spell it ({@code "strict"}). */
    public String xlName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** The policy for a C enum value. */
    public static RdmPolicy ofCode(int code) {
        for (RdmPolicy p : values()) {
            if (p.code == code) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown libxl_rdm_reserve_policy value " + code + " (expected -1, 0 or 1)");
    }
}
