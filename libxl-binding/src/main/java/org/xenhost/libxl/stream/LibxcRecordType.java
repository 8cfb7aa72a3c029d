package org.xenhost.libxl.stream;

/** Record types of the libxc layer ({@code xg_sr_stream_format.h}). */
public enum LibxcRecordType {
    END(0x00),
    PAGE_DATA(0x01),
    X86_PV_INFO(0x02),
    X86_PV_P2M_FRAMES(0x03),
    X86_PV_VCPU_BASIC(0x04),
    X86_PV_VCPU_EXTENDED(0x05),
    X86_PV_VCPU_XSAVE(0x06),
    SHARED_INFO(0x07),
    X86_TSC_INFO(0x08),
    HVM_CONTEXT(0x09),
    HVM_PARAMS(0x0A),
    TOOLSTACK(0x0B),
    X86_PV_VCPU_MSRS(0x0C),
    VERIFY(0x0D),
    CHECKPOINT(0x0E),
    CHECKPOINT_DIRTY_PFN_LIST(0x0F),
    STATIC_DATA_END(0x10),
    X86_CPUID_POLICY(0x11),
    X86_MSR_POLICY(0x12);

    private static final LibxcRecordType[] BY_CODE = values();

    private final int code;

    LibxcRecordType(int code) {
        this.code = code;
    }

    /** The 32-bit type as written in the record header. */
    public int code() {
        return code;
    }

    /** The type for a code, or {@code null} when unknown (optional types, bit 31, included). */
    public static LibxcRecordType of(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }

    /** How records are named in error messages and logs. */
    public String label() {
        return "libxc " + name() + " record";
    }

    /** Records that describe the guest's static configuration: in v3 they precede STATIC_DATA_END. */
    boolean isStatic() {
        return this == X86_PV_INFO || this == X86_CPUID_POLICY || this == X86_MSR_POLICY;
    }

    /** Records only a PV guest has. */
    boolean isPvOnly() {
        return switch (this) {
            case X86_PV_INFO, X86_PV_P2M_FRAMES, X86_PV_VCPU_BASIC, X86_PV_VCPU_EXTENDED, X86_PV_VCPU_XSAVE,
                    X86_PV_VCPU_MSRS, SHARED_INFO -> true;
            default -> false;
        };
    }

    /** Records only an HVM (or PVH) guest has. */
    boolean isHvmOnly() {
        return this == HVM_CONTEXT || this == HVM_PARAMS;
    }
}
