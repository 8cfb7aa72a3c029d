package org.xenhost.libxl.jna;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/** Specs for the differential test: hand-picked edge cases, then seeded generated ones. */
final class PciSpecCorpus {
    private PciSpecCorpus() {
    }

    /** Edge cases: the documented grammar, the limits, and the odd corners of sscanf/atoi/strcasecmp. */
    static final List<String> HAND_PICKED = List.of(
            // plain forms
            "0000:03:00.0", "03:00.0", "3:0.1", "0:0.0", "ffff:ff:1f.7", "0000:03:00.*", "03:1f.*",
            "0001:00:02.3", "FFFF:FF:1F.7", "aBcD:eF:1a.5",
            // limits
            "10000:00:00.0", "0000:100:00.0", "0000:00:20.0", "0000:00:1f.8", "03:20.0", "100:00.0",
            "fffff:00:00.0", "100000003:00.0", "0000:ffffffff:00.0", "0000:03:00.ffffffff",
            // sscanf corners: blanks, signs, 0x prefixes
            "03: 00.0", "03:+1.0", "03:-1.0", "03:-0.0", "03:0x.0", "03:0x1f.7", "03:0X1F.0", "03:00. 1",
            "03:00.+1", "03:00.-1", "03:00.0x", "03:00.0x7", "0000: 03:00.0", "0000:03: 1f.0", "0000:03:+1.0",
            "03:00.\t2", "03:00.\n3", "03:00. ", "03:00.", "03:00.-", "03:00.+", "03:0x.*", "0x3:00.0", "-1:00.0",
            " 03:00.0", "03:00.0 ", "03:00.0\t",
            // structure
            "03:00.0,", "03:00.0,,", ",03:00.0", "03:00.0@", "03:00.0@4", "03:00.0@1f", "03:00.0@20", "03:00.0@0x4",
            "03:00.0@-0", "03:00.0@ 4", "03:00.0@4x", "03:00.0@4,permissive=1", "03:00.*@2", "03:00.*5",
            "03:00.0x,permissive=1", "03:00.7@1f,msitranslate=1,power_mgmt=1,permissive=1,seize=1,rdm_policy=relaxed",
            "03:00.0:1", "1:2:3:4.0", "0000:03:00.0.1", "03.00.0", ":03:00.0", "::.0", ":.0", "",
            // keys
            "bdf=0000:03:00.0", "bdf=03:00.0,vslot=4", "bdf=03:00.0,vslot=0x4", "bdf=03:00.0xyz",
            "bdf=03:00.0,bdf=04:01.2", "bdf=03:00.0,name=gpu", "bdf=zz", "bdf=", "bdf= 03:00.0", "bdf=03: 00.0",
            "vslot=4", "bdf=03:00.0,vslot=20", "bdf=03:00.0,vslot=1fjunk", "bdf=03:00.0,vslot=",
            "03:00.0,permissive=1", "03:00.0,permissive=yes", "03:00.0,permissive=", "03:00.0,permissive=2",
            "03:00.0,permissive=-1", "03:00.0,permissive= 7", "03:00.0,permissive=4294967296",
            "03:00.0,permissive=99999999999999999999", "03:00.0,permissive=-99999999999999999999",
            "03:00.0,permissive=0x1", "03:00.0,permissive=+1", "03:00.0,seize=1", "03:00.0,msitranslate=1",
            "03:00.0,power_mgmt=1", "03:00.0,rdm_policy=strict", "03:00.0,rdm_policy=relaxed",
            "03:00.0,rdm_policy=STRICT", "03:00.0,rdm_policy=Relaxed", "03:00.0,rdm_policy=invalid",
            "03:00.0,rdm_policy=bogus", "03:00.0,rdm_policy=", "03:00.0,rdm_policy=strict ",
            "03:00.0,rdm_policy=\u017ftrict", "03:00.0,Permissive=1", "03:00.0,bogus=1", "03:00.0,permissive",
            "03:00.0,=1", "03:00.0,permissive==1", "03:00.0,permissive=1,", "03:00.0,permissive=1,,",
            // names
            "name=gpu0", "name=", "name=a,name=b", "name=gpu0,permissive=1", "03:00.0,name=x", "name=a,bogus=1",
            "name=gpu0,bdf=03:00.0", "name=gpu\u00e9", "name=a b", "name=a=b", "permissive=1",
            "name=gpu0,vslot=3", "name=gpu0,rdm_policy=bogus");

    private static final String[] HEX = {"0", "00", "0000", "3", "03", "1f", "1F", "20", "7", "8", "ff", "100",
            "ffff", "10000", "0x3", "0x", "+3", "-1", " 3", "g", "", "ffffffff", "100000003", "a"};
    private static final String[] FUNC = {"0", "1", "7", "8", "*", "0x1", " 2", "", "*5", "0x", "-0", "07"};
    private static final String[] KEYS = {"bdf", "vslot", "permissive", "msitranslate", "seize", "power_mgmt",
            "rdm_policy", "name", "bogus", "Permissive", ""};
    private static final String[] VALUES = {"0", "1", "2", "yes", "", "-1", " 1", "99999999999999999999",
            "4294967296", "strict", "RELAXED", "invalid", "bogus", "gpu0", "03:00.0", "0000:03:00.*", "4", "0x1f",
            "20", "03:00"};
    private static final String NOISE = ":.,@=*x0123456789abcdefg -+";

    /** {@code n} distinct generated specs from a fixed seed (so a failure reproduces). */
    static List<String> generated(long seed, int n) {
        Random r = new Random(seed);
        Set<String> out = new LinkedHashSet<>();
        while (out.size() < n) {
            StringBuilder s = new StringBuilder();
            int shape = r.nextInt(10);
            if (shape < 7) {
                if (r.nextInt(3) > 0) {
                    s.append(pick(r, HEX)).append(':');
                }
                s.append(pick(r, HEX)).append(':').append(pick(r, HEX));
                s.append(r.nextInt(12) == 0 ? "" : ".").append(pick(r, FUNC));
                if (r.nextInt(4) == 0) {
                    s.append('@').append(pick(r, HEX));
                }
            }
            int options = r.nextInt(4);
            for (int i = 0; i < options; i++) {
                if (s.length() > 0 || r.nextBoolean()) {
                    s.append(',');
                }
                s.append(pick(r, KEYS)).append(r.nextInt(15) == 0 ? "" : "=").append(pick(r, VALUES));
            }
            if (r.nextInt(8) == 0) {
                s.append(',');
            }
            if (r.nextInt(4) == 0 && s.length() > 0) {
                int at = r.nextInt(s.length() + 1);
                char c = NOISE.charAt(r.nextInt(NOISE.length()));
                switch (r.nextInt(3)) {
                    case 0 -> s.insert(at, c);
                    case 1 -> { if (at < s.length()) { s.deleteCharAt(at); } }
                    default -> { if (at < s.length()) { s.setCharAt(at, c); } }
                }
            }
            out.add(s.toString());
        }
        return new ArrayList<>(out);
    }

    private static final String CHAOS = "0123456789abcdefABCDEFgxX:.,@=*+- \t\u00e9\u017fbdfnameslotpiv_";

    /** {@code n} distinct short strings drawn from the spec alphabet and a little beyond, without structure. */
    static List<String> chaos(long seed, int n) {
        Random r = new Random(seed);
        Set<String> out = new LinkedHashSet<>();
        while (out.size() < n) {
            int len = 1 + r.nextInt(24);
            StringBuilder s = new StringBuilder(len);
            for (int i = 0; i < len; i++) {
                s.append(CHAOS.charAt(r.nextInt(CHAOS.length())));
            }
            out.add(s.toString());
        }
        return new ArrayList<>(out);
    }

    private static String pick(Random r, String[] a) {
        return a[r.nextInt(a.length)];
    }
}
