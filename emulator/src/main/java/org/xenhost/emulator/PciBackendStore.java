package org.xenhost.emulator;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.xenhost.emulator.xenstore.Xenstore;
import org.xenhost.libxl.LibxlDevicePci;
import org.xenhost.libxl.RdmPolicy;

/**
 * libxl's xenstore layout for PCI passthrough: {@code /libxl/pci/<dddd-bb-dd-f>/{driver_path,name,domid}} and
 * the PCI backend {@code /local/domain/0/backend/pci/<domid>/0} with its numbered {@code dev-N} entries.
 */
final class PciBackendStore {
    private PciBackendStore() {
    }

    static String libxlPci(LibxlDevicePci pci) {
        return "/libxl/pci/" + pci.xenstoreKey();
    }

    static String backend(int domid) {
        return "/local/domain/0/backend/pci/" + domid + "/0";
    }

    static String frontend(int domid) {
        return "/local/domain/" + domid + "/device/pci/0";
    }

    /** Appends a device to the domain's backend (libxl__create_pci_backend / libxl__device_pci_add_xenstore). */
    static void add(Xenstore.Tx tx, int domid, String domainName, LibxlDevicePci pci, boolean hotplug) {
        String be = backend(domid);
        int num = tx.read(be + "/num_devs").map(Integer::parseInt).orElse(0);
        if (num == 0) {
            tx.write(be + "/frontend", frontend(domid));
            tx.write(be + "/frontend-id", Integer.toString(domid));
            tx.write(be + "/online", "1");
            tx.write(be + "/state", "1");
            tx.write(be + "/domain", domainName);
            tx.write(frontend(domid) + "/backend", be);
            tx.write(frontend(domid) + "/backend-id", "0");
            tx.write(frontend(domid) + "/state", "1");
        }
        tx.write(be + "/key-" + num, pci.bdf());
        tx.write(be + "/dev-" + num, pci.bdf());
        tx.write(be + "/vdevfn-" + num, Integer.toHexString(pci.vdevfn()));
        if (pci.name() != null) {
            tx.write(be + "/name-" + num, pci.name());
        }
        tx.write(be + "/opts-" + num, opts(pci));
        tx.write(be + "/state-" + num, "1");
        tx.write(be + "/num_devs", Integer.toString(num + 1));
        if (hotplug) {
            // libxl sets Reconfiguring; the emulated pcifront/pciback pair completes it at once (Connected).
            tx.write(be + "/state", "4");
        }
    }

    static String opts(LibxlDevicePci pci) {
        RdmPolicy policy = pci.rdmPolicy() == RdmPolicy.INVALID ? RdmPolicy.STRICT : pci.rdmPolicy();
        return String.format(Locale.ROOT, "msitranslate=%d,power_mgmt=%d,permissive=%d,rdm_policy=%s",
                pci.msitranslate() ? 1 : 0, pci.powerMgmt() ? 1 : 0, pci.permissive() ? 1 : 0, policy.xlName());
    }

    /** libxl_device_pci_list: the devices recorded in the backend. */
    static List<LibxlDevicePci> list(Map<String, String> tree, int domid) {
        String be = backend(domid);
        int num = Integer.parseInt(tree.getOrDefault(be + "/num_devs", "0"));
        List<LibxlDevicePci> out = new ArrayList<>();
        for (int i = 0; i < num; i++) {
            String dev = tree.get(be + "/dev-" + i);
            if (dev == null) {
                continue;
            }
            String[] parts = dev.split("[:.]");
            int vdevfn = Integer.parseInt(tree.getOrDefault(be + "/vdevfn-" + i, "0"), 16);
            String opts = tree.getOrDefault(be + "/opts-" + i, "");
            out.add(new LibxlDevicePci(Integer.parseInt(parts[0], 16), Integer.parseInt(parts[1], 16),
                    Integer.parseInt(parts[2], 16), Integer.parseInt(parts[3], 16), vdevfn, 1,
                    opt(opts, "msitranslate"), opt(opts, "power_mgmt"), opt(opts, "permissive"), false,
                    opts.contains("rdm_policy=relaxed") ? RdmPolicy.RELAXED : RdmPolicy.STRICT,
                    tree.get(be + "/name-" + i)));
        }
        return out;
    }

    private static boolean opt(String opts, String key) {
        return opts.contains(key + "=1");
    }

    /** Removes entry {@code bdf}, shifting later entries down; deletes the backend when it was the last. */
    static void remove(Xenstore.Tx tx, int domid, String bdf) {
        String be = backend(domid);
        int num = tx.read(be + "/num_devs").map(Integer::parseInt).orElse(0);
        int index = -1;
        for (int i = 0; i < num; i++) {
            if (tx.read(be + "/dev-" + i).filter(bdf::equals).isPresent()) {
                index = i;
                break;
            }
        }
        if (index < 0) {
            return;
        }
        if (num == 1) {
            tx.rm("/local/domain/0/backend/pci/" + domid);
            tx.rm(frontend(domid));
            return;
        }
        String[] keys = {"key-", "dev-", "vdevfn-", "name-", "opts-", "state-"};
        for (int i = index; i < num - 1; i++) {
            for (String k : keys) {
                var next = tx.read(be + "/" + k + (i + 1));
                if (next.isPresent()) {
                    tx.write(be + "/" + k + i, next.get());
                } else {
                    tx.rm(be + "/" + k + i);
                }
            }
        }
        for (String k : keys) {
            tx.rm(be + "/" + k + (num - 1));
        }
        tx.write(be + "/num_devs", Integer.toString(num - 1));
        tx.write(be + "/state", "4");
    }
}
