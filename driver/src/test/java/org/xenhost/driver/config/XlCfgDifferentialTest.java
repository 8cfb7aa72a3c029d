package org.xenhost.driver.config;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Holds our xl.cfg reader to libxlutil's: for each text, both accept it or both refuse it, and every
 * setting reads back the same (as a string through xlu_cfg_get_string, as a list through xlu_cfg_get_list).
 * libxlutil comes from Debian's libxen-dev, which ./run-tests installs.
 */
class XlCfgDifferentialTest {

    interface LibC extends Library {
        Pointer fopen(String path, String mode);
    }

    interface Xlu extends Library {
        Pointer xlu_cfg_init(Pointer report, String reportName);

        int xlu_cfg_readdata(Pointer cfg, byte[] data, int length);

        void xlu_cfg_destroy(Pointer cfg);

        int xlu_cfg_get_string(Pointer cfg, String name, PointerByReference value, int dontWarn);

        int xlu_cfg_get_list(Pointer cfg, String name, PointerByReference list, IntByReference entries, int dontWarn);

        Pointer xlu_cfg_get_listitem(Pointer list, int entry);
    }

    private static Xlu xlu;
    private static Pointer devNull;

    @BeforeAll
    static void load() {
        try {
            xlu = Native.load("xlutil", Xlu.class);
        } catch (UnsatisfiedLinkError e) {
            fail("libxlutil not found: install Debian's libxen-dev (./run-tests does): " + e.getMessage());
        }
        devNull = Native.load("c", LibC.class).fopen("/dev/null", "w");
    }

    static Stream<String> texts() {
        List<String> t = new ArrayList<>(List.of(
                "name = \"vm1\"\n",
                "name=\"vm1\"",
                "name = 'single'\n",
                "memory = 512\nvcpus = 2\n",
                "memory = 0x200\n",
                "a = 1; b = 2\n",
                "a = 1;; b = 2\n",
                "pci = [ \"0000:03:00.0\", \"04:00.1,permissive=1\" ]\n",
                "pci = [ \"03:00.0\", ]\n",
                "pci = []\n",
                "pci = [\n  \"03:00.0\",\n  \"04:00.0\"\n]\n",
                "pci = [ \"a\" ]\npci += [ \"b\" ]\n",
                "extra = \"a\"\nextra += \"b\"\n",
                "# only a comment\n",
                "name = \"x\" # trailing comment\n",
                "name = \"with \\\"escaped\\\" quotes\"\n",
                "name = \"tab\\there\"\n",
                "name = \"oct\\101\"\n",
                "name = \"hex\\x41\"\n",
                "name = \"back\\\\slash\"\n",
                "name = 'it\\'s'\n",
                "name = \"x\"\nname = \"y\"\n",
                "",
                "\n\n\n",
                "name = \"x\"",
                "name = vm1\n",
                "name = \n",
                "= 3\n",
                "name \"x\"\n",
                "name = \"unterminated\n",
                "pci = [ \"a\" \"b\" ]\n",
                "pci = [ \"a\",\n",
                "memory = 512 vcpus = 2\n",
                "1abc = 2\n",
                "_under = 3\n",
                "key_2 = 4\n",
                "name = [ 1, 2 ]\n",
                "memory = 5.5\n",
                "memory = 1e3\n",
                "memory = 10M\n",
                "memory = -1\n",
                "memory = +1\n",
                "kernel = \"/boot/vmlinuz\"\ncmdline = \"root=/dev/xvda1 console=hvc0\"\n",
                "name: \"python\"\n",
                "pci = [ [ \"nested\" ] ]\n",
                "a = 1\r\nb = 2\r\n",
                "name = \"\"\n",
                "x = [ , ]\n",
                "x = [ \"a\",, \"b\" ]\n",
                "x += 3\n",
                "x = \"s\"\nx += [ \"l\" ]\n",
                "k = 1e3\n", "k = 0x1f\n", "k = 12ab\n", "k = 9z\n", "k.x = 1\n", "kA = 1\n", "K = 1\n",
                "k-x = 1\n", "k = 1F\n", "k = 1.\n", "k = 1 # c\n", "k = 1 # c", "k = 0x\n", "k = [ [ \"a\" ], \"b\" ]\n",
                "vnuma = [ [ \"pnode=0\", \"size=512\" ], [ \"pnode=1\" ] ]\n", "k = \"\\a\\b\\f\\v\"\n"));
        Random rnd = new Random(42);
        String[] pieces = {"name", " ", "=", "\"v\"", "'w'", "12", "0x1f", "[", "]", ",", "\n", "#c\n", ";", "+=", "\t", "x_1"};
        for (int i = 0; i < 250; i++) {
            StringBuilder sb = new StringBuilder();
            int n = 1 + rnd.nextInt(12);
            for (int j = 0; j < n; j++) {
                sb.append(pieces[rnd.nextInt(pieces.length)]);
            }
            t.add(sb.toString());
        }
        return t.stream();
    }

    /**
     * The only texts libxlutil accepts and we refuse, on purpose: numeric escapes in strings (libxlutil
     * drops the character they encode), and stray characters at the very end of the file (libxlutil's
     * lexer swallows an unrecognised tail such as the {@code F} of {@code 1F} or a final {@code .}).
     */
    static boolean deliberateDifference(String text) {
        return text.matches("(?s).*\\\\[0-7].*") || text.matches("(?s).*[0-9][^\\s;,\\]\\[0-9a-fx]+\\s*");
    }

    @ParameterizedTest
    @MethodSource("texts")
    void agreesWithLibxlutil(String text) {
        byte[] data = text.getBytes(StandardCharsets.UTF_8);
        Pointer cfg = xlu.xlu_cfg_init(devNull, "test.cfg");
        try {
            int rc = xlu.xlu_cfg_readdata(cfg, data, data.length);
            XlCfg ours = null;
            String ourError = null;
            try {
                ours = XlCfgParser.parse("test.cfg", text);
            } catch (XlCfgException e) {
                ourError = e.getMessage();
            }
            if (rc != 0) {
                assertEquals(null, ours, "libxlutil refused (rc " + rc + ") what we accepted: " + text);
                return;
            }
            if (ours == null) {
                if (deliberateDifference(text)) {
                    return;
                }
                fail("we refused (" + ourError + ") what libxlutil accepted: " + text);
            }
            for (Map.Entry<String, XlCfg.Value> e : ours.settings().entrySet()) {
                String key = e.getKey();
                if (e.getValue() instanceof XlCfg.Atom a) {
                    PointerByReference v = new PointerByReference();
                    assertEquals(0, xlu.xlu_cfg_get_string(cfg, key, v, 1), "libxlutil has no string " + key + " in: " + text);
                    assertEquals(v.getValue().getString(0, "UTF-8"), a.text(), key + " in: " + text);
                } else if (((XlCfg.ListValue) e.getValue()).items().stream().allMatch(i -> i instanceof XlCfg.Atom)) {
                    PointerByReference l = new PointerByReference();
                    IntByReference n = new IntByReference();
                    assertEquals(0, xlu.xlu_cfg_get_list(cfg, key, l, n, 1), "libxlutil has no list " + key + " in: " + text);
                    List<String> theirs = new ArrayList<>();
                    for (int i = 0; i < n.getValue(); i++) {
                        theirs.add(xlu.xlu_cfg_get_listitem(l.getValue(), i).getString(0, "UTF-8"));
                    }
                    assertEquals(theirs, ours.list(key), key + " in: " + text);
                }
            }
            // a formatted config reads back to the same settings
            assertEquals(ours.settings().keySet(), XlCfgParser.parse("formatted", ours.format()).settings().keySet());
        } finally {
            xlu.xlu_cfg_destroy(cfg);
        }
    }
}
