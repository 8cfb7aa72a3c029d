package org.xenhost.libxl.jna;

import com.sun.jna.Pointer;
import com.sun.jna.Structure.FieldOrder;

/**
 * {@code libxl_domain_restore_params} (24 bytes). {@code _init} sets {@code stream_version = 1}, which makes libxl
 * run the legacy-stream converter: always set it to 2 for streams libxl 4.6+ wrote.
 */
@FieldOrder({"checkpointed_stream", "stream_version", "colo_proxy_script", "userspace_colo_proxy"})
public class RestoreParamsStruct extends CStruct {
    public int checkpointed_stream;
    public int stream_version;
    public Pointer colo_proxy_script;
    /** {@code libxl_defbool} ({@code struct { int val; }}). */
    public int userspace_colo_proxy;

    public RestoreParamsStruct() {
    }

    @Override
    public String cTypeName() {
        return "libxl_domain_restore_params";
    }
}
