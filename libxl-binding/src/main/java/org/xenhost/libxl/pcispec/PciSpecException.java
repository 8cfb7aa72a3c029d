package org.xenhost.libxl.pcispec;

import org.xenhost.libxl.LibxlError;

/**
 * An xl.cfg PCI spec was refused. The message quotes the spec and says what is wrong; {@link #error()} is the
 * code libxlutil's {@code xlu_pci_parse_spec_string} returns for the same spec.
 */
public final class PciSpecException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    private final LibxlError error;

    PciSpecException(LibxlError error, String message) {
        super(message);
        this.error = error;
    }

    /** libxlutil's return code for this spec ({@link LibxlError#INVAL} or {@link LibxlError#FAIL}). */
    public LibxlError error() {
        return error;
    }
}
