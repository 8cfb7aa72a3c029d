package org.xenhost.emulator.save;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.xenhost.libxl.stream.LibxcRecord;

/**
 * The CPU and platform state an emulated guest carries in its stream: CPUID/MSR policies, TSC info, the HVM
 * context and parameters. The emulated vCPU has one piece of real state, its workload step counter, which travels
 * in the HVM context's per-vCPU CPU records so a restored guest continues its pattern where the source stopped.
 */
final class GuestStateBlobs {
    /** hvm_save_header magic (xen/include/public/arch-x86/hvm/save.h). */
    static final int HVM_FILE_MAGIC = 0x54381286;
    static final int HVM_TYPECODE_END = 0;
    static final int HVM_TYPECODE_HEADER = 1;
    static final int HVM_TYPECODE_CPU = 2;
    /** Bytes of our CPU record: step counter, vcpu id, padding (a real hvm_hw_cpu is ~1 KiB). */
    static final int CPU_RECORD_BYTES = 16;

    private GuestStateBlobs() {
    }

    static LibxcRecord.CpuidPolicy cpuidPolicy() {
        ByteBuffer b = ByteBuffer.allocate(2 * LibxcRecord.CpuidPolicy.LEAF_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        // leaf 0: max basic leaf 0xd, "GenuineIntel" in ebx, edx, ecx
        b.putInt(0).putInt(0xffffffff).putInt(0xd).putInt(0x756e6547).putInt(0x6c65746e).putInt(0x49656e69);
        // leaf 1: family 6 model 0x55, hypervisor bit
        b.putInt(1).putInt(0xffffffff).putInt(0x00050654).putInt(0x00000800).putInt(0x80000000).putInt(0x178bfbff);
        return new LibxcRecord.CpuidPolicy(b.array());
    }

    static LibxcRecord.MsrPolicy msrPolicy() {
        ByteBuffer b = ByteBuffer.allocate(2 * LibxcRecord.MsrPolicy.ENTRY_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0xce).putInt(0).putLong(0x80000000L);     // MSR_INTEL_PLATFORM_INFO: CPUID faulting
        b.putInt(0x10a).putInt(0).putLong(0);              // MSR_ARCH_CAPABILITIES
        return new LibxcRecord.MsrPolicy(b.array());
    }

    static LibxcRecord.TscInfo tscInfo(long nsec) {
        return new LibxcRecord.TscInfo(0, 2_000_000, nsec, 0);
    }

    /** HEADER, one CPU record per vCPU (its workload step), END: the save-record layout of Xen's HVM context. */
    static LibxcRecord.HvmContext hvmContext(int vcpus, long workloadStep) {
        int size = 8 + 24 + vcpus * (8 + CPU_RECORD_BYTES) + 8;
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort((short) HVM_TYPECODE_HEADER).putShort((short) 0).putInt(24);
        b.putInt(HVM_FILE_MAGIC).putInt(1).putLong(0).putInt(0x00050654).putInt(2_000_000);
        for (int v = 0; v < vcpus; v++) {
            b.putShort((short) HVM_TYPECODE_CPU).putShort((short) v).putInt(CPU_RECORD_BYTES);
            b.putLong(v == 0 ? workloadStep : 0).putInt(v).putInt(0);
        }
        b.putShort((short) HVM_TYPECODE_END).putShort((short) 0).putInt(0);
        return new LibxcRecord.HvmContext(b.array());
    }

    /**
     * Reads the workload step back from an HVM context blob written by {@link #hvmContext}; -1 when the blob has
     * no CPU record of ours (a stream from elsewhere).
     */
    static long workloadStep(byte[] blob) {
        ByteBuffer b = ByteBuffer.wrap(blob).order(ByteOrder.LITTLE_ENDIAN);
        int pos = 0;
        while (pos + 8 <= blob.length) {
            int type = b.getShort(pos) & 0xffff;
            int instance = b.getShort(pos + 2) & 0xffff;
            int len = b.getInt(pos + 4);
            if (len < 0 || pos + 8 + (long) len > blob.length) {
                return -1;
            }
            if (type == HVM_TYPECODE_END) {
                return -1;
            }
            if (type == HVM_TYPECODE_CPU && instance == 0 && len == CPU_RECORD_BYTES) {
                return b.getLong(pos + 8);
            }
            pos += 8 + len;
        }
        return -1;
    }

    /** HVM parameters libxenguest saves for a guest, at Xen's usual special-page pfns. */
    static LibxcRecord.HvmParams hvmParams() {
        return new LibxcRecord.HvmParams(List.of(
                new LibxcRecord.HvmParam(1, 0xfeffc),   // HVM_PARAM_STORE_PFN
                new LibxcRecord.HvmParam(5, 0xfeff0),   // HVM_PARAM_IOREQ_PFN
                new LibxcRecord.HvmParam(6, 0xfeff1),   // HVM_PARAM_BUFIOREQ_PFN
                new LibxcRecord.HvmParam(17, 0xfefff),  // HVM_PARAM_CONSOLE_PFN
                new LibxcRecord.HvmParam(32, 0xfeff2),  // HVM_PARAM_IOREQ_SERVER_PFN
                new LibxcRecord.HvmParam(33, 8)));      // HVM_PARAM_NR_IOREQ_SERVER_PAGES
    }

    /** PV vCPU context for BASIC: our step counter in the first 8 bytes of an otherwise empty context. */
    static byte[] pvVcpuContext(long workloadStep) {
        ByteBuffer b = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, workloadStep);
        return b.array();
    }
}
