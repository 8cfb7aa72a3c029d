package org.xenhost.libxl.jna;

import com.sun.jna.Library;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;

/**
 * The part of libxenlight 4.17 ({@code libxenlight.so.4.17}, every symbol {@code @@VERS_4.17.0}) that xenhost
 * calls. Prototypes as in {@code libxl.h} (xen-facts §5.1): {@code uint32_t} domids are Java ints, {@code ctx}
 * and {@code libxl_domain_config *} are opaque pointers, {@code ao_how}/{@code aop_how} are always NULL
 * (synchronous). Strings are UTF-8 (see {@link NativeLibraries}).
 */
public interface XenlightLibrary extends Library {
    /** {@code LIBXL_VERSION}, the ABI version {@code libxl_ctx_alloc} checks. */
    int LIBXL_VERSION = 0;
    int LIBXL_SUSPEND_DEBUG = 1;
    int LIBXL_SUSPEND_LIVE = 2;

    int libxl_ctx_alloc(PointerByReference pctx, int version, int flags, Pointer logger);

    int libxl_ctx_free(Pointer ctx);

    void libxl_childproc_setmode(Pointer ctx, ChildprocHooksStruct hooks, Pointer user);

    // host
    Pointer libxl_get_version_info(Pointer ctx);

    void libxl_physinfo_init(PhysinfoStruct p);

    void libxl_physinfo_dispose(PhysinfoStruct p);

    int libxl_get_physinfo(Pointer ctx, PhysinfoStruct p);

    // domains
    Pointer libxl_list_domain(Pointer ctx, IntByReference nbDomainOut);

    void libxl_dominfo_list_free(Pointer list, int nbDomain);

    void libxl_dominfo_init(DominfoStruct p);

    void libxl_dominfo_dispose(DominfoStruct p);

    int libxl_domain_info(Pointer ctx, DominfoStruct infoR, int domid);

    /** Returns a {@code malloc}ed name (free with libc {@code free}) or NULL. */
    Pointer libxl_domid_to_name(Pointer ctx, int domid);

    int libxl_domain_pause(Pointer ctx, int domid, Pointer aoHow);

    int libxl_domain_unpause(Pointer ctx, int domid, Pointer aoHow);

    int libxl_domain_destroy(Pointer ctx, int domid, Pointer aoHow);

    int libxl_domain_resume(Pointer ctx, int domid, int suspendCancel, Pointer aoHow);

    int libxl_domain_rename(Pointer ctx, int domid, String oldName, String newName);

    // configurations (opaque libxl_domain_config, filled from JSON)
    void libxl_domain_config_init(Pointer dConfig);

    void libxl_domain_config_dispose(Pointer dConfig);

    int libxl_domain_config_from_json(Pointer ctx, Pointer dConfig, String json);

    /** Returns a {@code malloc}ed JSON string (free with libc {@code free}) or NULL. */
    Pointer libxl_domain_config_to_json(Pointer ctx, Pointer dConfig);

    int libxl_retrieve_domain_configuration(Pointer ctx, int domid, Pointer dConfig, Pointer aoHow);

    int libxl_domain_create_new(Pointer ctx, Pointer dConfig, IntByReference domid, Pointer aoHow,
                                Pointer aopConsoleHow);

    // save / restore
    int libxl_domain_suspend(Pointer ctx, int domid, int fd, int flags, Pointer aoHow);

    void libxl_domain_restore_params_init(RestoreParamsStruct p);

    void libxl_domain_restore_params_dispose(RestoreParamsStruct p);

    int libxl_domain_create_restore(Pointer ctx, Pointer dConfig, IntByReference domid, int restoreFd,
                                    int sendBackFd, RestoreParamsStruct params, Pointer aoHow,
                                    Pointer aopConsoleHow);

    // PCI
    void libxl_device_pci_init(DevicePciStruct p);

    void libxl_device_pci_dispose(DevicePciStruct p);

    int libxl_device_pci_assignable_add(Pointer ctx, DevicePciStruct pci, int rebind);

    int libxl_device_pci_assignable_remove(Pointer ctx, DevicePciStruct pci, int rebind);

    Pointer libxl_device_pci_assignable_list(Pointer ctx, IntByReference num);

    void libxl_device_pci_assignable_list_free(Pointer list, int num);

    int libxl_device_pci_add(Pointer ctx, int domid, DevicePciStruct pci, Pointer aoHow);

    int libxl_device_pci_remove(Pointer ctx, int domid, DevicePciStruct pci, Pointer aoHow);

    int libxl_device_pci_destroy(Pointer ctx, int domid, DevicePciStruct pci, Pointer aoHow);

    Pointer libxl_device_pci_list(Pointer ctx, int domid, IntByReference num);

    void libxl_device_pci_list_free(Pointer list, int num);
}
