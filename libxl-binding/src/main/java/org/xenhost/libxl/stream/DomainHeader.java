package org.xenhost.libxl.stream;

/**
 * The 16-byte libxc domain header: guest type, page shift (always 12 on x86), and the Xen version that saved it.
 *
 * @param guestType x86 PV or x86 HVM (PVH guests are saved as HVM)
 * @param xenMajor  Xen major version of the saver; 0 marks a stream converted from the legacy format
 * @param xenMinor  Xen minor version of the saver
 */
public record DomainHeader(GuestType guestType, int xenMajor, int xenMinor) implements StreamRecord {
    /** Guest type as the domain header encodes it. */
    public enum GuestType {
        X86_PV(1), X86_HVM(2);

        private final int code;

        GuestType(int code) {
            this.code = code;
        }

        public int code() {
            return code;
        }

        /** The type for a code, or {@code null} if unknown. */
        public static GuestType of(int code) {
            return code == 1 ? X86_PV : code == 2 ? X86_HVM : null;
        }
    }

    public DomainHeader {
        if (guestType == null) {
            throw new IllegalArgumentException("guest type is required");
        }
    }

    /** An HVM or PVH guest saved by Xen 4.17. */
    public static DomainHeader hvm417() {
        return new DomainHeader(GuestType.X86_HVM, 4, 17);
    }

    @Override
    public String label() {
        return "libxc domain header";
    }
}
