package org.xenhost.driver.config;

import org.junit.jupiter.api.Test;
import org.xenhost.libxl.DomainType;
import org.xenhost.libxl.RdmPolicy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DomainConfigTest {
    private static DomainConfig read(String text) {
        return DomainConfig.from(XlCfgParser.parse("g.cfg", text));
    }

    private static String refusal(String text) {
        return assertThrows(XlCfgException.class, () -> read(text)).getMessage();
    }

    @Test
    void readsWhatXlReadsPlusXenhostsOwnKeys() {
        DomainConfig c = read("name = \"g1\"\ntype = \"pvh\"\nmemory = 512\nmaxmem = 1024\nvcpus = 2\n"
                + "pci_permissive = 1\n"
                + "pci = [ \"0000:03:00.0,managed=yes\", \"04:00.*@5,seize=1,rdm_policy=relaxed\" ]\n"
                + "emulated_dirty_rate = \"20M\"\nkernel = \"/boot/vmlinuz\"\nroot = \"/dev/xvda1\"\nextra = \"console=hvc0\"\n");
        assertEquals("g1", c.name());
        assertEquals(DomainType.PVH, c.type());
        assertEquals(512, c.memoryMiB());
        assertEquals(1024, c.maxMemoryMiB());
        assertEquals(2, c.vcpus());
        assertEquals(20L << 20, c.dirtyRateBytesPerSecond());
        assertEquals("root=/dev/xvda1 console=hvc0", c.cmdline());
        assertEquals(2, c.pci().size());
        assertTrue(c.pci().get(0).managed());
        assertTrue(c.pci().get(0).device().permissive(), "pci_permissive seeds every entry, as in xl");
        assertFalse(c.pci().get(1).managed(), "unmanaged unless said, as xl");
        assertTrue(c.pci().get(1).device().allFunctions());
        assertEquals(5 << 3, c.pci().get(1).device().vdevfn());
        assertEquals(RdmPolicy.RELAXED, c.pci().get(1).device().rdmPolicy());
        String json = c.toLibxlJson();
        assertTrue(json.contains("\"target_memkb\":524288") && json.contains("\"emulated_dirty_rate\":20971520"), json);
        // dumpconfig shows back what was written, and it reads to the same configuration
        assertEquals(c.pci(), read(c.cfg().format()).pci());
    }

    @Test
    void defaultsAreLibxlsAndTheLegacyBuilderKeyWorks() {
        DomainConfig c = read("name = \"g\"\nbuilder = \"hvm\"\n");
        assertEquals(DomainType.HVM, c.type());
        assertEquals(32, c.memoryMiB());
        assertEquals(1, c.vcpus());
        assertEquals(DomainType.PV, read("name = \"g\"\n").type());
    }

    @Test
    void everyRefusalNamesFileLineAndFix() {
        assertTrue(refusal("memory = 5\n").contains("missing 'name'"));
        assertTrue(refusal("name = \"g\"\nmemory = 0\n").startsWith("g.cfg:2: 'memory' must be greater than 0"));
        assertTrue(refusal("name = \"g\"\nmemory = 512\nmaxmem = 256\n").startsWith("g.cfg:3: maxmem (256 MiB) is less than memory"));
        assertTrue(refusal("name = \"g\"\ntype = \"kvm\"\n").contains("\"kvm\" is not one of"));
        assertTrue(refusal("name = \"1234\"\n").contains("not be all digits"));
        assertTrue(refusal("name = \"g--incoming\"\n").contains("reserves for migrating"));
        assertTrue(refusal("name = \"g\"\npci = [ \"03:00.0,managed=maybe\" ]\n").contains("managed must be yes or no"));
        assertTrue(refusal("name = \"g\"\npci = [ \"03:00.0,bogus=1\" ]\n").startsWith("g.cfg:2: pci entry \"03:00.0,bogus=1\""));
        assertTrue(refusal("name = \"g\"\npci = [ \"03:00.0\", \"0000:03:00.0\" ]\n").contains("listed twice"));
        assertTrue(refusal("name = \"g\"\nemulated_dirty_rate = \"fast\"\n").contains("K, M or G suffix"));
        assertTrue(refusal("name = \"g\"\nuuid = \"not-a-uuid\"\n").contains("is not of the form"));
    }

    @Test
    void cpusPinsEveryVcpuAsXlDoesAndLibxlReadsItAsOneBitmapPerVcpu() throws Exception {
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        var b = json.readTree(read("name = \"g\"\nvcpus = 2\ncpus = \"3-4\"\n").toLibxlJson()).path("b_info");
        assertEquals("[[3,4],[3,4]]", b.path("vcpu_hard_affinity").toString());
        b = json.readTree(read("name = \"g\"\ncpus = \"0, 2-5,^3\"\n").toLibxlJson()).path("b_info");
        assertEquals("[[0,2,4,5]]", b.path("vcpu_hard_affinity").toString(), "^N takes a pCPU out, as in xl");
        b = json.readTree(read("name = \"g\"\nvcpus = 1\nmaxvcpus = 3\ncpus = \"7\"\n").toLibxlJson()).path("b_info");
        assertEquals(3, b.path("vcpu_hard_affinity").size(), "every possible vCPU, hot-added ones too");
        assertTrue(json.readTree(read("name = \"g\"\ncpus = \"all\"\n").toLibxlJson()).path("b_info")
                .path("vcpu_hard_affinity").isMissingNode(), "all = not pinned");
        assertTrue(json.readTree(read("name = \"g\"\n").toLibxlJson()).path("b_info")
                .path("vcpu_hard_affinity").isMissingNode());
    }

    @Test
    void cpusThatXenhostCannotHonourIsRefusedWithTheLineNotDropped() {
        assertTrue(refusal("name = \"g\"\ncpus = \"nodes:0\"\n").startsWith("g.cfg:2: cpus \"nodes:0\""), "nodes: is xl's, not ours");
        assertTrue(refusal("name = \"g\"\ncpus = \"5-3\"\n").contains("must run upwards"));
        assertTrue(refusal("name = \"g\"\ncpus = \"9000\"\n").contains("is not a pCPU number") || refusal("name = \"g\"\ncpus = \"9000\"\n").contains("0-4095"));
        assertTrue(refusal("name = \"g\"\ncpus = \"1,^1\"\n").contains("leaves no pCPU"));
        assertTrue(refusal("name = \"g\"\ncpus = \"../1\"\n").contains("\"../1\" is not a pCPU number"));
        assertTrue(refusal("name = \"g\"\ncpus = [\"1\", \"2\"]\n").contains("cpus as a list (one entry per vCPU) is not supported"));
    }
}
