package org.xenhost.libxl.jna;

import com.sun.jna.Pointer;
import com.sun.jna.Structure;

import java.util.List;

/**
 * A JNA mirror of one C struct from the Xen 4.17 headers. Java field names are the C member names on purpose:
 * the layout test compiles a C probe that prints {@code sizeof}/{@code offsetof} for exactly these names and
 * compares them with {@link #size()} and {@link #offsetOf(String)}.
 */
public abstract class CStruct extends Structure {

    protected CStruct() {
    }

    protected CStruct(Pointer p) {
        super(p);
    }

    /** The C type name, e.g. {@code libxl_device_pci}. */
    public abstract String cTypeName();

    /** The byte offset JNA computed for a field (the C member of the same name). */
    public int offsetOf(String field) {
        return fieldOffset(field);
    }

    /** The fields in declaration order, i.e. the C members mirrored. */
    public List<String> fieldNames() {
        return getFieldOrder();
    }
}
