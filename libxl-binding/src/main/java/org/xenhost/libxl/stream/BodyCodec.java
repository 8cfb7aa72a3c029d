package org.xenhost.libxl.stream;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Encodes and decodes record bodies other than PAGE_DATA (small, so built in byte arrays), and bounds their lengths
 * before anything is allocated. Little-endian, as every x86 stream is.
 */
final class BodyCodec {
    private BodyCodec() {
    }

    /** A body that is wrong; {@code at} is the offset of the offending field within the body. */
    static final class BodyProblem extends Exception {
        private static final long serialVersionUID = 1L;
        final int at;

        BodyProblem(int at, String problem) {
            super(problem, null, false, false);
            this.at = at;
        }
    }

    static final int VCPU_CONTEXT_MAX = 1 << 20;
    static final int CPUID_POLICY_MAX = LibxcRecord.CpuidPolicy.LEAF_BYTES * 4096;
    static final int MSR_POLICY_MAX = LibxcRecord.MsrPolicy.ENTRY_BYTES * 4096;
    static final int HVM_PARAMS_MAX_COUNT = 1024;
    static final int XENSTORE_DATA_MAX = 1 << 20;

    /** Why a libxc record of this type cannot have this body length, or {@code null} if it can. */
    static String lengthProblem(LibxcRecordType type, long length, ReaderLimits limits) {
        if (length > limits.maxRecordBody()) {
            return "body length " + length + " exceeds the " + limits.maxRecordBody() + "-byte record limit";
        }
        return switch (type) {
            case END, VERIFY, CHECKPOINT, STATIC_DATA_END -> exactly(length, 0);
            case X86_PV_INFO -> exactly(length, 8);
            case SHARED_INFO -> exactly(length, Wire.PAGE_SIZE);
            case X86_TSC_INFO -> exactly(length, 24);
            case X86_PV_P2M_FRAMES -> length < 8 || length % 8 != 0
                    ? "body length " + length + " is not 8 + a multiple of 8" : null;
            case X86_PV_VCPU_BASIC, X86_PV_VCPU_EXTENDED, X86_PV_VCPU_XSAVE, X86_PV_VCPU_MSRS ->
                    range(length, 8, 8 + VCPU_CONTEXT_MAX);
            case HVM_CONTEXT -> length == 0 ? "an HVM context cannot be empty" : null;
            case HVM_PARAMS -> length < 8 || (length - 8) % 16 != 0
                    ? "body length " + length + " is not 8 + 16 per parameter"
                    : range(length, 8, 8 + 16L * HVM_PARAMS_MAX_COUNT);
            case X86_CPUID_POLICY -> multiple(length, LibxcRecord.CpuidPolicy.LEAF_BYTES, CPUID_POLICY_MAX);
            case X86_MSR_POLICY -> multiple(length, LibxcRecord.MsrPolicy.ENTRY_BYTES, MSR_POLICY_MAX);
            case PAGE_DATA -> length < 16 ? "body length " + length + " cannot hold a count and one pfn" : null;
            case TOOLSTACK, CHECKPOINT_DIRTY_PFN_LIST -> "record type not accepted in a migration stream";
        };
    }

    /** Why a libxl record of this type cannot have this body length, or {@code null} if it can. */
    static String lengthProblem(LibxlRecordType type, long length, ReaderLimits limits) {
        if (length > limits.maxRecordBody()) {
            return "body length " + length + " exceeds the " + limits.maxRecordBody() + "-byte record limit";
        }
        return switch (type) {
            case END, LIBXC_CONTEXT, CHECKPOINT_END -> exactly(length, 0);
            case CHECKPOINT_STATE -> exactly(length, 4);
            case EMULATOR_XENSTORE_DATA -> range(length, 8, 8 + XENSTORE_DATA_MAX);
            case EMULATOR_CONTEXT -> length < 8 ? "body length " + length + " is shorter than the 8-byte emulator"
                    + " header" : null;
        };
    }

    private static String exactly(long length, int expected) {
        return length == expected ? null : "body length must be " + expected + ", not " + length;
    }

    private static String range(long length, long min, long max) {
        return length >= min && length <= max ? null
                : "body length must be " + min + ".." + max + ", not " + length;
    }

    private static String multiple(long length, int unit, int max) {
        if (length == 0 || length % unit != 0) {
            return "body length " + length + " is not a non-zero multiple of " + unit;
        }
        return range(length, unit, max);
    }

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    // ---- encoding ----

    static byte[] encode(LibxcRecord record) {
        if (record instanceof LibxcRecord.X86PvInfo r) {
            byte[] b = new byte[8];
            b[0] = (byte) r.guestWidth();
            b[1] = (byte) r.ptLevels();
            return b;
        } else if (record instanceof LibxcRecord.X86PvP2mFrames r) {
            ByteBuffer b = le(new byte[8 + 8 * r.p2mPfns().length]);
            b.putInt(r.startPfn()).putInt(r.endPfn());
            for (long pfn : r.p2mPfns()) {
                b.putLong(pfn);
            }
            return b.array();
        } else if (record instanceof LibxcRecord.X86PvVcpu r) {
            ByteBuffer b = le(new byte[8 + r.context().length]);
            b.putInt(r.vcpuId()).putInt(0).put(r.context());
            return b.array();
        } else if (record instanceof LibxcRecord.SharedInfo r) {
            return r.page();
        } else if (record instanceof LibxcRecord.TscInfo r) {
            ByteBuffer b = le(new byte[24]);
            b.putInt(r.mode()).putInt(r.khz()).putLong(r.nsec()).putInt(r.incarnation()).putInt(0);
            return b.array();
        } else if (record instanceof LibxcRecord.HvmContext r) {
            return r.blob();
        } else if (record instanceof LibxcRecord.HvmParams r) {
            ByteBuffer b = le(new byte[8 + 16 * r.params().size()]);
            b.putInt(r.params().size()).putInt(0);
            for (LibxcRecord.HvmParam p : r.params()) {
                b.putLong(p.index()).putLong(p.value());
            }
            return b.array();
        } else if (record instanceof LibxcRecord.CpuidPolicy r) {
            return r.leaves();
        } else if (record instanceof LibxcRecord.MsrPolicy r) {
            return r.entries();
        } else if (record instanceof LibxcRecord.End || record instanceof LibxcRecord.Verify
                || record instanceof LibxcRecord.Checkpoint || record instanceof LibxcRecord.StaticDataEnd) {
            return new byte[0];
        }
        throw new IllegalArgumentException("not a small libxc record: " + record.label());
    }

    static byte[] encode(LibxlRecord record) {
        if (record instanceof LibxlRecord.EmulatorXenstoreData r) {
            return emulatorBody(r.emulator(), r.index(), r.data());
        } else if (record instanceof LibxlRecord.EmulatorContext r) {
            return emulatorBody(r.emulator(), r.index(), r.context());
        } else if (record instanceof LibxlRecord.CheckpointState r) {
            return le(new byte[4]).putInt(r.controlId()).array();
        }
        return new byte[0]; // END, LIBXC_CONTEXT, CHECKPOINT_END
    }

    private static byte[] emulatorBody(LibxlRecord.Emulator emulator, int index, byte[] payload) {
        ByteBuffer b = le(new byte[8 + payload.length]);
        b.putInt(emulator.code()).putInt(index).put(payload);
        return b.array();
    }

    // ---- decoding (lengths already checked by lengthProblem) ----

    static LibxcRecord decode(LibxcRecordType type, byte[] body) throws BodyProblem {
        ByteBuffer b = le(body);
        switch (type) {
            case END:
                return new LibxcRecord.End();
            case VERIFY:
                return new LibxcRecord.Verify();
            case CHECKPOINT:
                return new LibxcRecord.Checkpoint();
            case STATIC_DATA_END:
                return new LibxcRecord.StaticDataEnd();
            case X86_PV_INFO: {
                int width = body[0] & 0xFF;
                int levels = body[1] & 0xFF;
                if (width != 4 && width != 8) {
                    throw new BodyProblem(0, "guest width must be 4 or 8, not " + width);
                }
                if (levels != 3 && levels != 4) {
                    throw new BodyProblem(1, "page-table levels must be 3 or 4, not " + levels);
                }
                requireZero(b.getShort(2), 2);
                requireZero(b.getInt(4), 4);
                return new LibxcRecord.X86PvInfo(width, levels);
            }
            case X86_PV_P2M_FRAMES: {
                long[] pfns = new long[(body.length - 8) / 8];
                for (int i = 0; i < pfns.length; i++) {
                    pfns[i] = b.getLong(8 + 8 * i);
                }
                return new LibxcRecord.X86PvP2mFrames(b.getInt(0), b.getInt(4), pfns);
            }
            case X86_PV_VCPU_BASIC:
            case X86_PV_VCPU_EXTENDED:
            case X86_PV_VCPU_XSAVE:
            case X86_PV_VCPU_MSRS: {
                requireZero(b.getInt(4), 4);
                byte[] context = new byte[body.length - 8];
                System.arraycopy(body, 8, context, 0, context.length);
                return new LibxcRecord.X86PvVcpu(type, b.getInt(0), context);
            }
            case SHARED_INFO:
                return new LibxcRecord.SharedInfo(body);
            case X86_TSC_INFO:
                requireZero(b.getInt(20), 20);
                return new LibxcRecord.TscInfo(b.getInt(0), b.getInt(4), b.getLong(8), b.getInt(16));
            case HVM_CONTEXT:
                return new LibxcRecord.HvmContext(body);
            case HVM_PARAMS: {
                long count = b.getInt(0) & 0xFFFFFFFFL;
                requireZero(b.getInt(4), 4);
                if (count != (body.length - 8) / 16) {
                    throw new BodyProblem(0, "count " + count + " does not match the " + (body.length - 8) / 16
                            + " parameters the body holds");
                }
                List<LibxcRecord.HvmParam> params = new ArrayList<>((int) count);
                for (int i = 0; i < count; i++) {
                    params.add(new LibxcRecord.HvmParam(b.getLong(8 + 16 * i), b.getLong(16 + 16 * i)));
                }
                return new LibxcRecord.HvmParams(params);
            }
            case X86_CPUID_POLICY:
                return new LibxcRecord.CpuidPolicy(body);
            case X86_MSR_POLICY:
                return new LibxcRecord.MsrPolicy(body);
            default:
                throw new BodyProblem(0, "record type not accepted in a migration stream");
        }
    }

    static LibxlRecord decode(LibxlRecordType type, byte[] body) throws BodyProblem {
        ByteBuffer b = le(body);
        switch (type) {
            case END:
                return new LibxlRecord.End();
            case LIBXC_CONTEXT:
                return new LibxlRecord.LibxcContext();
            case CHECKPOINT_END:
                return new LibxlRecord.CheckpointEnd();
            case CHECKPOINT_STATE: {
                int control = b.getInt(0);
                if (control < 0 || control > 3) {
                    throw new BodyProblem(0, "checkpoint control id must be 0..3, not " + control);
                }
                return new LibxlRecord.CheckpointState(control);
            }
            case EMULATOR_XENSTORE_DATA:
            case EMULATOR_CONTEXT: {
                int id = b.getInt(0);
                LibxlRecord.Emulator emulator = LibxlRecord.Emulator.of(id);
                if (emulator == null) {
                    throw new BodyProblem(0, "unknown emulator id " + Integer.toUnsignedString(id)
                            + " (0 unknown, 1 qemu-traditional, 2 qemu-upstream)");
                }
                byte[] payload = new byte[body.length - 8];
                System.arraycopy(body, 8, payload, 0, payload.length);
                if (type == LibxlRecordType.EMULATOR_CONTEXT) {
                    return new LibxlRecord.EmulatorContext(emulator, b.getInt(4), payload);
                }
                checkXenstoreData(payload);
                return new LibxlRecord.EmulatorXenstoreData(emulator, b.getInt(4), payload);
            }
            default:
                throw new AssertionError(type);
        }
    }

    /** Key/value data must be empty or an even number of NUL-terminated strings. */
    private static void checkXenstoreData(byte[] data) throws BodyProblem {
        if (data.length == 0) {
            return;
        }
        if (data[data.length - 1] != 0) {
            throw new BodyProblem(8 + data.length - 1, "xenstore data is not NUL-terminated");
        }
        int strings = 0;
        for (byte x : data) {
            if (x == 0) {
                strings++;
            }
        }
        if (strings % 2 != 0) {
            throw new BodyProblem(8, "xenstore data holds " + strings + " strings, not key/value pairs");
        }
    }

    private static void requireZero(long value, int at) throws BodyProblem {
        if (value != 0) {
            throw new BodyProblem(at, "reserved field is 0x" + Long.toHexString(value) + ", must be 0");
        }
    }
}
