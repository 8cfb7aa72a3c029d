package org.xenhost.libxl.jna;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * The tests that use the real Xen libraries fail (never skip) when they are missing: ./run-tests installs them.
 */
public final class XenPrerequisites {
    private XenPrerequisites() {
    }

    /** Xen 4.17 headers and libraries (Debian libxen-dev). */
    public static void requireLibxenDev() {
        for (String p : new String[] {"/usr/include/libxl.h", "/usr/include/libxlutil.h",
                "/usr/include/xentoollog.h"}) {
            if (!Files.exists(Path.of(p))) {
                fail(p + " is missing: install libxen-dev (./run-tests installs it: run ./run-tests as root)");
            }
        }
        try {
            NativeLibraries.xenlight();
            NativeLibraries.xlutil();
            NativeLibraries.toollog();
        } catch (LinkageError e) {
            fail("cannot load the Xen 4.17 libraries (" + e.getMessage() + "): install libxen-dev"
                    + " (./run-tests installs it)", e);
        }
    }

    /** gcc, for the C layout probe. */
    public static Path requireGcc() {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            Path gcc = Path.of(dir, "gcc");
            if (Files.isExecutable(gcc)) {
                return gcc;
            }
        }
        return fail("gcc is not on PATH: install gcc (./run-tests installs it: run ./run-tests as root)");
    }
}
