package org.xenhost.daemon.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code xenhost xl pci-spec}, driven through Main as the launcher runs it. */
class XlCommandTest {

    private record Run(int exit, String out, String err) {
    }

    private static synchronized Run xenhost(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int exit = Main.execute(args);
            return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void jsonHasLibxlsFieldsInOrder() {
        Run r = xenhost("xl", "pci-spec", "0000:03:00.0", "--json");
        assertEquals(0, r.exit(), r.err());
        assertEquals("{\"domain\":0,\"bus\":3,\"dev\":0,\"func\":0,\"vdevfn\":0,\"vfunc_mask\":1,"
                + "\"msitranslate\":false,\"power_mgmt\":false,\"permissive\":false,\"seize\":false,"
                + "\"rdm_policy\":\"invalid\",\"name\":null}", r.out().trim());
    }

    @Test
    void jsonCarriesEveryOptionAndUnsignedMask() throws Exception {
        Run r = xenhost("xl", "pci-spec", "--json",
                "1:ff:1f.*@1f,permissive=1,msitranslate=1,power_mgmt=1,seize=1,rdm_policy=Relaxed");
        assertEquals(0, r.exit(), r.err());
        JsonNode n = new ObjectMapper().readTree(r.out());
        assertEquals(1, n.get("domain").asInt());
        assertEquals(0xff, n.get("bus").asInt());
        assertEquals(0x1f, n.get("dev").asInt());
        assertEquals(0, n.get("func").asInt());
        assertEquals(0xf8, n.get("vdevfn").asInt());
        assertEquals(4294967295L, n.get("vfunc_mask").asLong());
        for (String flag : new String[] {"msitranslate", "power_mgmt", "permissive", "seize"}) {
            assertTrue(n.get(flag).asBoolean(), flag);
        }
        assertEquals("relaxed", n.get("rdm_policy").asText());
        assertEquals("gpu0", new ObjectMapper().readTree(xenhost("xl", "pci-spec", "name=gpu0", "--json").out())
                .get("name").asText());
    }

    @Test
    void readableForm() {
        Run r = xenhost("xl", "pci-spec", "0000:03:00.0@4,permissive=1");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("0000:03:00.0"), r.out());
        assertTrue(r.out().contains("vdevfn 0x20"), r.out());
        assertTrue(r.out().matches("(?s).*permissive\\s+yes.*"), r.out());
        assertTrue(r.out().contains("libxl applies strict"), r.out());
    }

    @Test
    void aSpecXlRefusesExitsTwoQuotingIt() {
        Run r = xenhost("xl", "pci-spec", "0000:03:00.0,colour=red", "--json");
        assertEquals(Main.EXIT_BAD_INPUT, r.exit());
        assertEquals("", r.out());
        assertTrue(r.err().contains("'0000:03:00.0,colour=red'"), r.err());
        assertTrue(r.err().contains("unknown key 'colour'"), r.err());
        assertTrue(!r.err().contains("at org.xenhost"), "no stack trace: " + r.err());

        Run noFunction = xenhost("xl", "pci-spec", "0000:03:00");
        assertEquals(Main.EXIT_BAD_INPUT, noFunction.exit());
        assertTrue(noFunction.err().contains("'0000:03:00'") && noFunction.err().contains(".F"), noFunction.err());

        Run rdm = xenhost("xl", "pci-spec", "03:00.0,rdm_policy=loose");
        assertEquals(Main.EXIT_BAD_INPUT, rdm.exit());
        assertTrue(rdm.err().contains("rdm_policy 'loose'"), rdm.err());
    }

    @Test
    void missingSpecIsAParameterError() {
        Run r = xenhost("xl", "pci-spec");
        assertEquals(Main.EXIT_BAD_INPUT, r.exit());
        assertTrue(r.err().contains("SPEC"), r.err());
    }
}
