package org.xenhost.libxl.jna;

import com.sun.jna.Library;
import com.sun.jna.Pointer;

/**
 * libxlutil 4.17 ({@code libxlutil.so.4.17}): xl's config parsers. xenhost parses PCI specs in Java
 * ({@code org.xenhost.libxl.pcispec}); this mapping is the oracle its differential test compares against.
 * The functions need no hypervisor.
 */
public interface XlutilLibrary extends Library {
    /**
     * Parses an xl.cfg PCI spec into {@code pci} (which must have been {@code libxl_device_pci_init}ed).
     * {@code cfg} may be NULL (no messages). Returns 0 or a libxl error code.
     */
    int xlu_pci_parse_spec_string(Pointer cfg, DevicePciStruct pci, String str);
}
