package org.xenhost.libxl.stream;

import java.util.List;

/**
 * Records of the libxc layer, other than the headers. PAGE_DATA is a {@link PageBatch} (a reusable buffer, not an
 * immutable record). Byte arrays are held as given (not copied): treat them as immutable. Opaque blobs (CPU
 * policies, vCPU contexts, HVM context) are only length-checked, as Xen's own verifier does.
 */
public sealed interface LibxcRecord extends StreamRecord
        permits PageBatch, LibxcRecord.End, LibxcRecord.X86PvInfo, LibxcRecord.X86PvP2mFrames, LibxcRecord.X86PvVcpu,
        LibxcRecord.SharedInfo, LibxcRecord.TscInfo, LibxcRecord.HvmContext, LibxcRecord.HvmParams,
        LibxcRecord.Verify, LibxcRecord.Checkpoint, LibxcRecord.StaticDataEnd, LibxcRecord.CpuidPolicy,
        LibxcRecord.MsrPolicy {

    /** The record's type code. */
    LibxcRecordType type();

    @Override
    default String label() {
        return type().label();
    }

    /** End of the libxc stream; the libxl layer continues after it. */
    record End() implements LibxcRecord {
        @Override
        public LibxcRecordType type() {
            return LibxcRecordType.END;
        }
    }

    /** PV guest word size and page-table depth (8 bytes). */
    record X86PvInfo(int guestWidth, int ptLevels) implements LibxcRecord {
        public X86PvInfo {
            if (guestWidth != 4 && guestWidth != 8) {
                throw new IllegalArgumentException("guest width must be 4 or 8 bytes, not " + guestWidth);
            }
            if (ptLevels != 3 && ptLevels != 4) {
                throw new IllegalArgumentException("page-table levels must be 3 or 4, not " + ptLevels);
            }
        }

        @Override
        public LibxcRecordType type() {
            return LibxcRecordType.X86_PV_INFO;
        }
    }

    /** Frames holding a PV guest's p2m table for pfns startPfn..endPfn. */
    record X86PvP2mFrames(int startPfn, int endPfn, long[] p2mPfns) implements LibxcRecord {
        public X86PvP2mFrames {
            if (p2mPfns == null) {
                throw new IllegalArgumentException("p2m frame list is required");
            }
        }

        @Override
        public LibxcRecordType type() {
            return LibxcRecordType.X86_PV_P2M_FRAMES;
        }
    }

    /**
     * One of the four per-vCPU PV records (BASIC, EXTENDED, XSAVE, MSRS): vcpu id then an opaque context.
     *
     * @param kind one of X86_PV_VCPU_BASIC, X86_PV_VCPU_EXTENDED, X86_PV_VCPU_XSAVE, X86_PV_VCPU_MSRS
     */
    record X86PvVcpu(LibxcRecordType kind, int vcpuId, byte[] context) implements LibxcRecord {
        public X86PvVcpu {
            if (kind != LibxcRecordType.X86_PV_VCPU_BASIC && kind != LibxcRecordType.X86_PV_VCPU_EXTENDED
                    && kind != LibxcRecordType.X86_PV_VCPU_XSAVE && kind != LibxcRecordType.X86_PV_VCPU_MSRS) {
                throw new IllegalArgumentException(kind + " is not a PV vCPU record type");
            }
            if (context == null) {
                throw new IllegalArgumentException("vCPU context is required");
            }
        }

        @Override
        public LibxcRecordType type() {
            return kind;
        }
    }

    /** A PV guest's shared-info page, exactly 4096 bytes. */
    record SharedInfo(byte[] page) implements LibxcRecord {
        public SharedInfo {
            if (page == null || page.length != Wire.PAGE_SIZE) {
                throw new IllegalArgumentException("shared info must be exactly one 4096-byte page");
            }
        }

        @Override
        public LibxcRecordType type() {
            return LibxcRecordType.SHARED_INFO;
        }
    }

    /** Domain TSC state, as XEN_DOMCTL_gettscinfo returns it (24 bytes). */
    record TscInfo(int mode, int khz, long nsec, int incarnation) implements LibxcRecord {
        @Override
        public LibxcRecordType type() {
            return LibxcRecordType.X86_TSC_INFO;
        }
    }

    /** The HVM context blob (XEN_DOMCTL_gethvmcontext): vCPU registers, LAPIC, PIT, ...; never empty. */
    record HvmContext(byte[] blob) implements LibxcRecord {
        public HvmContext {
            if (blob == null || blob.length == 0) {
                throw new IllegalArgumentException("HVM context must not be empty");
            }
        }

        @Override
        public LibxcRecordType type() {
            return LibxcRecordType.HVM_CONTEXT;
        }
    }

    /** One HVM parameter (HVMOP_get_param index and value). */
    record HvmParam(long index, long value) {
    }

    /** HVM parameters: store/console/ioreq pfns and friends. */
    record HvmParams(List<HvmParam> params) implements LibxcRecord {
        public HvmParams {
            params = List.copyOf(params);
        }

        @Override
        public LibxcRecordType type() {
            return LibxcRecordType.HVM_PARAMS;
        }
    }

    /** Debug marker: all memory was sent; what follows is sent again for the receiver to compare. */
    record Verify() implements LibxcRecord {
        @Override
        public LibxcRecordType type() {
            return LibxcRecordType.VERIFY;
        }
    }

    /** Ends one checkpoint of a Remus/COLO stream; libxl records follow. */
    record Checkpoint() implements LibxcRecord {
        @Override
        public LibxcRecordType type() {
            return LibxcRecordType.CHECKPOINT;
        }
    }

    /** End of the static configuration records (v3 only). */
    record StaticDataEnd() implements LibxcRecord {
        @Override
        public LibxcRecordType type() {
            return LibxcRecordType.STATIC_DATA_END;
        }
    }

    /** The guest's CPUID policy: {@code xen_cpuid_leaf_t[]}, 24 bytes per leaf, at least one leaf (v3 only). */
    record CpuidPolicy(byte[] leaves) implements LibxcRecord {
        /** Size of one {@code xen_cpuid_leaf_t}. */
        public static final int LEAF_BYTES = 24;

        public CpuidPolicy {
            if (leaves == null || leaves.length == 0 || leaves.length % LEAF_BYTES != 0) {
                throw new IllegalArgumentException("CPUID policy must be a non-empty multiple of 24 bytes");
            }
        }

        @Override
        public LibxcRecordType type() {
            return LibxcRecordType.X86_CPUID_POLICY;
        }
    }

    /** The guest's MSR policy: {@code xen_msr_entry_t[]}, 16 bytes per entry, at least one entry (v3 only). */
    record MsrPolicy(byte[] entries) implements LibxcRecord {
        /** Size of one {@code xen_msr_entry_t}. */
        public static final int ENTRY_BYTES = 16;

        public MsrPolicy {
            if (entries == null || entries.length == 0 || entries.length % ENTRY_BYTES != 0) {
                throw new IllegalArgumentException("MSR policy must be a non-empty multiple of 16 bytes");
            }
        }

        @Override
        public LibxcRecordType type() {
            return LibxcRecordType.X86_MSR_POLICY;
        }
    }
}
