package org.xenhost.libxl.jna;

import com.sun.jna.Library;
import com.sun.jna.Native;

import java.util.Map;

/**
 * Loads the Xen libraries once, by SONAME (a dom0 may have the runtime package without the {@code .so}
 * development links), with UTF-8 strings whatever the JVM's locale.
 */
public final class NativeLibraries {
    /** SONAMEs of the 4.17 libraries this binding was written and tested against. */
    public static final String XENLIGHT = "libxenlight.so.4.17";
    public static final String XLUTIL = "libxlutil.so.4.17";
    public static final String TOOLLOG = "libxentoollog.so.1";
    public static final String LIBC = "c";

    private static final Map<String, Object> OPTIONS = Map.of(Library.OPTION_STRING_ENCODING, "UTF-8");

    private NativeLibraries() {
    }

    /** libxenlight. @throws UnsatisfiedLinkError if it is not installed */
    public static XenlightLibrary xenlight() {
        return Xenlight.INSTANCE;
    }

    /** libxlutil. @throws UnsatisfiedLinkError if it is not installed */
    public static XlutilLibrary xlutil() {
        return Xlutil.INSTANCE;
    }

    /** libxentoollog. @throws UnsatisfiedLinkError if it is not installed */
    public static ToollogLibrary toollog() {
        return Toollog.INSTANCE;
    }

    /** libc. */
    public static LibC libc() {
        return C.INSTANCE;
    }

    // Holders: each library is loaded on first use, so a host without Xen can still use the pure-Java parts.
    private static final class Xenlight {
        static final XenlightLibrary INSTANCE = Native.load(XENLIGHT, XenlightLibrary.class, OPTIONS);
    }

    private static final class Xlutil {
        static final XlutilLibrary INSTANCE = Native.load(XLUTIL, XlutilLibrary.class, OPTIONS);
    }

    private static final class Toollog {
        static final ToollogLibrary INSTANCE = Native.load(TOOLLOG, ToollogLibrary.class, OPTIONS);
    }

    private static final class C {
        static final LibC INSTANCE = Native.load(LIBC, LibC.class, OPTIONS);
    }
}
