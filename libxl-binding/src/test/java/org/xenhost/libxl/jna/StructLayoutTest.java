package org.xenhost.libxl.jna;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every mapped struct has the size and field offsets the C compiler gives for the installed Xen headers. The C
 * probe is generated from the Java mirrors (their C type name and field names), compiled with gcc into
 * target/layout-probe and run; a field added on one side only makes the probe fail to compile or the sizes differ.
 */
class StructLayoutTest {
    private static final List<CStruct> MIRRORS = List.of(new DevicePciStruct(), new DominfoStruct(),
            new RestoreParamsStruct(), new AsyncopHowStruct(), new ChildprocHooksStruct(), new PhysinfoStruct(),
            new VersionInfoStruct());

    private static Map<String, Long> probe;

    @BeforeAll
    static void compileAndRunProbe() throws Exception {
        XenPrerequisites.requireLibxenDev();
        Path gcc = XenPrerequisites.requireGcc();
        Path dir = Path.of("target", "layout-probe");
        Files.createDirectories(dir);
        StringBuilder c = new StringBuilder("""
                #include <stddef.h>
                #include <stdio.h>
                #include <libxl.h>
                #include <libxl_event.h>
                int main(void) {
                """);
        for (CStruct s : MIRRORS) {
            String t = s.cTypeName();
            c.append("    printf(\"%s sizeof %zu\\n\", \"").append(t).append("\", sizeof(").append(t).append("));\n");
            for (String f : s.fieldNames()) {
                c.append("    printf(\"%s %s %zu\\n\", \"").append(t).append("\", \"").append(f)
                        .append("\", offsetof(").append(t).append(", ").append(f).append("));\n");
            }
        }
        c.append("    printf(\"libxl_domain_config sizeof %zu\\n\", sizeof(libxl_domain_config));\n");
        c.append("    return 0;\n}\n");
        Path src = dir.resolve("probe.c");
        Path exe = dir.resolve("probe");
        Files.writeString(src, c);
        run(List.of(gcc.toString(), "-Wall", "-o", exe.toString(), src.toString()));
        String out = run(List.of(exe.toString()));
        probe = new HashMap<>();
        for (String line : out.split("\n")) {
            String[] w = line.trim().split(" ");
            probe.put(w[0] + " " + w[1], Long.parseLong(w[2]));
        }
    }

    private static String run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "timed out: " + cmd);
        String text = new String(out, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), cmd + " failed:\n" + text);
        return text;
    }

    @Test
    void everyMirrorHasTheCSizeAndOffsets() {
        List<String> wrong = new ArrayList<>();
        int fields = 0;
        for (CStruct s : MIRRORS) {
            String t = s.cTypeName();
            long cSize = probe.get(t + " sizeof");
            if (cSize != s.size()) {
                wrong.add(t + ": sizeof C " + cSize + ", JNA " + s.size());
            }
            for (String f : s.fieldNames()) {
                long cOff = probe.get(t + " " + f);
                if (cOff != s.offsetOf(f)) {
                    wrong.add(t + "." + f + ": offsetof C " + cOff + ", JNA " + s.offsetOf(f));
                }
                fields++;
            }
        }
        assertEquals(List.of(), wrong);
        assertTrue(fields >= 80, "expected every field of every mirror to be probed, got " + fields);
    }

    @Test
    void knownSizesOnX8664() {
        // the figures xen-facts §5.3 records for 4.17; a header change shows up here and in the test above
        assertEquals(32, probe.get("libxl_device_pci sizeof"));
        assertEquals(120, probe.get("libxl_dominfo sizeof"));
        assertEquals(24, probe.get("libxl_domain_restore_params sizeof"));
        assertEquals(16, probe.get("libxl_asyncop_how sizeof"));
        assertEquals(24, probe.get("libxl_childproc_hooks sizeof"));
    }

    @Test
    void opaqueDomainConfigFitsTheBufferNativeLibxlAllocates() {
        long size = probe.get("libxl_domain_config sizeof");
        assertTrue(size > 0 && size <= NativeLibxl.DOMAIN_CONFIG_BYTES,
                "sizeof(libxl_domain_config) = " + size + " > " + NativeLibxl.DOMAIN_CONFIG_BYTES);
    }
}
