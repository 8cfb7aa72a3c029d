package org.xenhost.libxl.jna;

import com.sun.jna.Pointer;
import com.sun.jna.Structure.FieldOrder;

/**
 * {@code libxl_childproc_hooks} (24 bytes). libxl keeps the pointer, not a copy: the instance must stay reachable
 * for as long as the context lives.
 */
@FieldOrder({"chldowner", "fork_replacement", "reaped_callback"})
public class ChildprocHooksStruct extends CStruct {
    /** {@code libxl_sigchld_owner_libxl_always_selective_reap}: reap only libxl's own children, never the JVM's. */
    public static final int SIGCHLD_OWNER_LIBXL_ALWAYS_SELECTIVE_REAP = 3;

    public int chldowner;
    public Pointer fork_replacement;
    public Pointer reaped_callback;

    public ChildprocHooksStruct() {
    }

    @Override
    public String cTypeName() {
        return "libxl_childproc_hooks";
    }
}
