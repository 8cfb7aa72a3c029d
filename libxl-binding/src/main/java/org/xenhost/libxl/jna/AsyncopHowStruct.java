package org.xenhost.libxl.jna;

import com.sun.jna.Pointer;
import com.sun.jna.Structure.FieldOrder;

/**
 * {@code libxl_asyncop_how} (16 bytes): a callback and a union {@code u} of {@code for_event} (u64) and
 * {@code for_callback} (pointer). NativeLibxl passes NULL (synchronous calls); the mirror exists so the layout is
 * pinned for when an asynchronous mode is added.
 */
@FieldOrder({"callback", "u"})
public class AsyncopHowStruct extends CStruct {
    public Pointer callback;
    /** The union, as its widest member. */
    public long u;

    public AsyncopHowStruct() {
    }

    @Override
    public String cTypeName() {
        return "libxl_asyncop_how";
    }
}
