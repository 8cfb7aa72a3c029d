package org.xenhost.libxl.stream;

import org.xenhost.libxl.stream.DomainHeader.GuestType;

/**
 * Which header or record may come next: the one order check shared by reader, writer and tap.
 *
 * <pre>
 *  LIBXL_HEADER --libxl header--> LIBXL_BEFORE_LIBXC --LIBXC_CONTEXT--> IMAGE_HEADER --> DOMAIN_HEADER --> LIBXC_STATIC
 *     (a bare libxc stream starts at IMAGE_HEADER)
 *  LIBXC_STATIC  --STATIC_DATA_END (v3), or the first dynamic record (v2, inferred as libxenguest does)--> LIBXC_DYNAMIC
 *  LIBXC_DYNAMIC --CHECKPOINT--> LIBXL_CHECKPOINT --CHECKPOINT_END--> LIBXC_DYNAMIC      (Remus/COLO only)
 *  LIBXC_STATIC | LIBXC_DYNAMIC --libxc END--> LIBXL_AFTER_LIBXC   (bare libxc stream: DONE)
 *  LIBXL_AFTER_LIBXC --libxl END--> DONE
 *  LIBXL_BEFORE_LIBXC, LIBXL_AFTER_LIBXC, LIBXL_CHECKPOINT also take emulator records and CHECKPOINT_STATE.
 * </pre>
 *
 * Beyond the state: static records (CPU policies, PV info) only before STATIC_DATA_END, v3-only records not in
 * v2, PV records only in PV streams, HVM records only in HVM streams, VERIFY at most once. Each accept method
 * returns {@code null} and moves on, or returns why the item is out of place and stays put.
 */
final class RecordOrder {
    /** Positions in the stream; see the class diagram. */
    enum State {
        LIBXL_HEADER, LIBXL_BEFORE_LIBXC, IMAGE_HEADER, DOMAIN_HEADER, LIBXC_STATIC, LIBXC_DYNAMIC,
        LIBXL_CHECKPOINT, LIBXL_AFTER_LIBXC, DONE
    }

    /** What kind of item the reader must parse next. */
    enum Expect {
        LIBXL_HEADER, IMAGE_HEADER, DOMAIN_HEADER, LIBXL_RECORD, LIBXC_RECORD, NOTHING
    }

    private final boolean libxl;
    private State state;
    private int version;
    private GuestType guestType;
    private boolean verifySeen;
    private boolean memorySeen;

    private RecordOrder(boolean libxl) {
        this.libxl = libxl;
        this.state = libxl ? State.LIBXL_HEADER : State.IMAGE_HEADER;
    }

    /** Order of a full libxl stream (what libxl_domain_suspend writes). */
    static RecordOrder libxl() {
        return new RecordOrder(true);
    }

    /** Order of a bare libxc stream (what xc_domain_save writes). */
    static RecordOrder libxc() {
        return new RecordOrder(false);
    }

    State state() {
        return state;
    }

    boolean verifySeen() {
        return verifySeen;
    }

    boolean memorySeen() {
        return memorySeen;
    }

    Expect expecting() {
        return switch (state) {
            case LIBXL_HEADER -> Expect.LIBXL_HEADER;
            case IMAGE_HEADER -> Expect.IMAGE_HEADER;
            case DOMAIN_HEADER -> Expect.DOMAIN_HEADER;
            case LIBXL_BEFORE_LIBXC, LIBXL_CHECKPOINT, LIBXL_AFTER_LIBXC -> Expect.LIBXL_RECORD;
            case LIBXC_STATIC, LIBXC_DYNAMIC -> Expect.LIBXC_RECORD;
            case DONE -> Expect.NOTHING;
        };
    }

    String acceptLibxlHeader() {
        if (state != State.LIBXL_HEADER) {
            return "a libxl header is not expected here (" + where() + ")";
        }
        state = State.LIBXL_BEFORE_LIBXC;
        return null;
    }

    String acceptImageHeader(int imageVersion) {
        if (state != State.IMAGE_HEADER) {
            return "a libxc image header is not expected here (" + where() + ")";
        }
        version = imageVersion;
        state = State.DOMAIN_HEADER;
        return null;
    }

    String acceptDomainHeader(GuestType type) {
        if (state != State.DOMAIN_HEADER) {
            return "a libxc domain header is not expected here (" + where() + ")";
        }
        guestType = type;
        state = State.LIBXC_STATIC;
        return null;
    }

    String acceptLibxl(LibxlRecordType type) {
        if (state != State.LIBXL_BEFORE_LIBXC && state != State.LIBXL_AFTER_LIBXC && state != State.LIBXL_CHECKPOINT) {
            return type.label() + " is not expected here (" + where() + ")";
        }
        switch (type) {
            case LIBXC_CONTEXT -> {
                if (state != State.LIBXL_BEFORE_LIBXC) {
                    return "a second LIBXC_CONTEXT: the stream carries exactly one libxc stream";
                }
                state = State.IMAGE_HEADER;
            }
            case END -> {
                if (state == State.LIBXL_BEFORE_LIBXC) {
                    return "libxl END before any LIBXC_CONTEXT: the stream carries no guest memory or CPU state";
                }
                if (state == State.LIBXL_CHECKPOINT) {
                    return "libxl END inside a checkpoint; CHECKPOINT_END was expected";
                }
                state = State.DONE;
            }
            case CHECKPOINT_END -> {
                if (state != State.LIBXL_CHECKPOINT) {
                    return "CHECKPOINT_END without a preceding libxc CHECKPOINT";
                }
                state = State.LIBXC_DYNAMIC;
            }
            case EMULATOR_XENSTORE_DATA, EMULATOR_CONTEXT, CHECKPOINT_STATE -> {
                // allowed in every libxl position
            }
        }
        return null;
    }

    String acceptLibxc(LibxcRecordType type) {
        if (state != State.LIBXC_STATIC && state != State.LIBXC_DYNAMIC) {
            return type.label() + " is not expected here (" + where() + ")";
        }
        switch (type) {
            case TOOLSTACK:
                return "TOOLSTACK records are deprecated and not accepted by Xen's restorer";
            case CHECKPOINT_DIRTY_PFN_LIST:
                return "CHECKPOINT_DIRTY_PFN_LIST belongs to the COLO back channel, not to a migration stream";
            default:
                break;
        }
        if (version < 3 && (type == LibxcRecordType.STATIC_DATA_END || type == LibxcRecordType.X86_CPUID_POLICY
                || type == LibxcRecordType.X86_MSR_POLICY)) {
            return type.name() + " is not allowed in a version 2 libxc stream (it was added in version 3)";
        }
        if (type.isPvOnly() && guestType != GuestType.X86_PV) {
            return type.name() + " belongs to PV guests but the domain header says " + guestType;
        }
        if (type.isHvmOnly() && guestType != GuestType.X86_HVM) {
            return type.name() + " belongs to HVM/PVH guests but the domain header says " + guestType;
        }
        if (type == LibxcRecordType.END) {
            state = libxl ? State.LIBXL_AFTER_LIBXC : State.DONE;
            return null;
        }
        if (type == LibxcRecordType.STATIC_DATA_END) {
            if (state != State.LIBXC_STATIC) {
                return "a second STATIC_DATA_END";
            }
            state = State.LIBXC_DYNAMIC;
            return null;
        }
        if (type.isStatic()) {
            if (state != State.LIBXC_STATIC) {
                return type.name() + " after the static data ended (it must precede STATIC_DATA_END"
                        + (version < 3 ? ", i.e. come before any memory" : "") + ")";
            }
            return null;
        }
        // A dynamic record: memory, CPU/device state, VERIFY, CHECKPOINT.
        if (state == State.LIBXC_STATIC) {
            if (version >= 3) {
                return type.name() + " before STATIC_DATA_END: a version 3 stream must end its static data first"
                        + " (libxenguest fails with \"No STATIC_DATA_END seen\")";
            }
            state = State.LIBXC_DYNAMIC; // v2: STATIC_DATA_END is implied by the first dynamic record
        }
        switch (type) {
            case PAGE_DATA -> memorySeen = true;
            case VERIFY -> {
                if (verifySeen) {
                    return "a second VERIFY record";
                }
                verifySeen = true;
            }
            case CHECKPOINT -> {
                if (!libxl) {
                    return "CHECKPOINT in a bare libxc stream: checkpoints hand over to a libxl layer there is none of";
                }
                state = State.LIBXL_CHECKPOINT;
            }
            default -> {
            }
        }
        return null;
    }

    private String where() {
        return switch (state) {
            case LIBXL_HEADER -> "expecting the libxl header";
            case LIBXL_BEFORE_LIBXC -> "expecting libxl records up to LIBXC_CONTEXT";
            case IMAGE_HEADER -> "expecting the libxc image header";
            case DOMAIN_HEADER -> "expecting the libxc domain header";
            case LIBXC_STATIC, LIBXC_DYNAMIC -> "inside the libxc stream";
            case LIBXL_CHECKPOINT -> "inside a checkpoint, expecting libxl records up to CHECKPOINT_END";
            case LIBXL_AFTER_LIBXC -> "after the libxc stream, expecting libxl records up to END";
            case DONE -> "after the final END";
        };
    }
}
