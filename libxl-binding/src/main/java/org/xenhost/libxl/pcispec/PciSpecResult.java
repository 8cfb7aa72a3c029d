package org.xenhost.libxl.pcispec;

import org.xenhost.libxl.LibxlDevicePci;

/**
 * What {@code xlu_pci_parse_spec_string} leaves behind: its return code and the device struct as it stands
 * afterwards. libxlutil fills the struct as it goes, so a failed parse can still have changed some fields;
 * {@link #device()} reproduces that too.
 *
 * @param rc         0, or libxl's {@code ERROR_INVAL} (-6) / {@code ERROR_FAIL} (-3)
 * @param device     the struct after the call
 * @param error      why the spec was refused (quotes the spec), or null when {@code rc == 0}
 * @param divergence whether this input is one where we deliberately differ from libxlutil
 */
public record PciSpecResult(int rc, LibxlDevicePci device, String error, Divergence divergence) {

    /** Inputs on which our parser deliberately does not do what libxlutil 4.17 does. */
    public enum Divergence {
        /** Same result as libxlutil. */
        NONE,
        /**
         * A BDF whose hex groups scan but are not followed by {@code .}: libxlutil then reads an uninitialised
         * {@code %n} offset (undefined behaviour: crashes, bogus success or garbage {@code func} were seen).
         * We refuse it with {@code ERROR_INVAL}.
         */
        BDF_WITHOUT_FUNCTION,
        /** The spec holds a NUL character: C would silently stop there; we refuse it with {@code ERROR_INVAL}. */
        NUL_CHARACTER
    }

    /** True when the spec was accepted. */
    public boolean ok() {
        return rc == 0;
    }
}
