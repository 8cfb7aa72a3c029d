package org.xenhost.libxl.jna;

import com.sun.jna.Function;
import com.sun.jna.Library;
import com.sun.jna.NativeLibrary;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every function the binding maps exists in the library it is mapped from (names taken by reflection). */
class NativeSymbolsTest {
    private static final Map<Class<? extends Library>, String> MAPPINGS = Map.of(
            XenlightLibrary.class, NativeLibraries.XENLIGHT,
            XlutilLibrary.class, NativeLibraries.XLUTIL,
            ToollogLibrary.class, NativeLibraries.TOOLLOG,
            LibC.class, "libc.so.6");

    @BeforeAll
    static void prerequisites() {
        XenPrerequisites.requireLibxenDev();
    }

    @Test
    void everyMappedFunctionResolvesInTheRealLibrary() {
        List<String> missing = new ArrayList<>();
        int checked = 0;
        for (Map.Entry<Class<? extends Library>, String> m : MAPPINGS.entrySet()) {
            NativeLibrary lib = NativeLibrary.getInstance(m.getValue());
            TreeSet<String> names = new TreeSet<>();
            for (Method method : m.getKey().getDeclaredMethods()) {
                names.add(method.getName());
            }
            assertTrue(names.size() > 0, m.getKey().getSimpleName() + " maps no function");
            for (String name : names) {
                try {
                    Function f = lib.getFunction(name);
                    assertNotNull(f, name);
                    checked++;
                } catch (UnsatisfiedLinkError e) {
                    missing.add(m.getValue() + ": " + name);
                }
            }
        }
        assertEquals(List.of(), missing, "mapped functions missing from the installed libraries");
        assertTrue(checked >= 45, "expected the whole binding to be checked, got " + checked + " functions");
    }

    @Test
    void anUnmappedNameIsReportedMissing() {
        // the check above can fail: a name libxenlight does not export is not found
        NativeLibrary lib = NativeLibrary.getInstance(NativeLibraries.XENLIGHT);
        try {
            lib.getFunction("libxl_device_pci_no_such_function");
            throw new AssertionError("a non-existent symbol resolved");
        } catch (UnsatisfiedLinkError expected) {
            assertTrue(expected.getMessage().contains("libxl_device_pci_no_such_function"));
        }
    }
}
