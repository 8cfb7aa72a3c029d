# Scenario 2 (first part; the rest needs the host-device manager): QEMU's e1000 through the real libxl's PCI
# assignable calls, as NativeLibxl makes them. Evidence for RealXenTest.passthroughAssignable:
#   lspci.txt             lspci -D -n -k in dom0         bdf                the e1000's BDF (8086:100e)
#   driver-before         its driver before (e1000)      assignable-add.json  NativeLibxl.assignableList() after add
#   xl-assignable.txt     xl pci-assignable-list after add   driver-assigned  the driver link then (pciback)
#   pciback-slots         /sys/bus/pci/drivers/pciback/slots
#   assignable-remove.json, xl-assignable-after.txt, driver-after: after assignableRemove(rebind): back on e1000
#   pci-list.json, lspci-vmm.txt                 xenhost pci list --json and lspci -vmm -n -D -k on dom0's real /sys
#   pci-list-assigned.json, lspci-vmm-assigned.txt   the same while the e1000 is on pciback
. /share/lib.sh
fresh_start
lspci -D -n -k > $OUT/lspci.txt
bdf=$(lspci -D -n | awk '$3 == "8086:100e" {print $1; exit}')
[ -n "$bdf" ] || { echo "no e1000 (8086:100e) in lspci:"; cat $OUT/lspci.txt; exit 1; }
echo "$bdf" > $OUT/bdf
drv() { basename "$(readlink /sys/bus/pci/devices/$bdf/driver)"; }
drv > $OUT/driver-before
timed jvms-up java_up
xh pci list --json > $OUT/pci-list.json
lspci -vmm -n -D -k > $OUT/lspci-vmm.txt
timed assignable-add probe assignable-add "$bdf" > $OUT/assignable-add.json
xh pci list --json > $OUT/pci-list-assigned.json
lspci -vmm -n -D -k > $OUT/lspci-vmm-assigned.txt
xl pci-assignable-list > $OUT/xl-assignable.txt
drv > $OUT/driver-assigned
cat /sys/bus/pci/drivers/pciback/slots > $OUT/pciback-slots
timed assignable-remove probe assignable-remove "$bdf" > $OUT/assignable-remove.json
xl pci-assignable-list > $OUT/xl-assignable-after.txt
drv > $OUT/driver-after
