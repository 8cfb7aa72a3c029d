# Scenario 2 (second part): xenhostd on the real libxl gives QEMU's e1000 to a PV guest as a managed device, keeps
# its ownership across a kill -9 of the daemon, and gives it back to e1000 when the guest is destroyed.
# Evidence for RealXenTest.managedPassthroughSurvivesDaemonKill:
#   bdf                         the e1000's BDF          guest-pci.cfg       the config (guest-pv.cfg + pci = [...])
#   create.txt                  xenhost create's output  driver-in-guest     the driver link while the guest has it
#   guest-sees.txt              the guest's own "guest-pci: ..." and "guest-net: ..." lines (its PCI functions, NICs)
#   xl-pci-list.txt             xl pci-list of the guest (the real toolstack's view of the assignment)
#   nodedev-before-kill.json    xenhost nodedev-list --json before the kill
#   nodedev-after-restart.json  the same from the restarted daemon     list-after-restart.json  xenhost list then
#   heartbeat-after-restart     the guest kept running                 driver-after-destroy  e1000 again
#   xl-assignable-after.txt     xl pci-assignable-list after the destroy (empty: the device went home)
# and first, xenhostd dying between two steps of the hand-over (XENHOST_HOSTDEV_HALT_AT=managed-start:4: after the
# e1000 left its driver, before its reset), then restarted:
#   driver-at-halt              the driver link when it died (pciback)   xenhostd-halted.log  its last words
#   driver-after-halt-restart   after the restart (e1000 again)          nodedev-after-halt-restart.json
#   list-after-halt-restart.json  xenhost list --all then (shut-off)      xl-list-after-halt-restart.txt  Xen's list
. /share/lib.sh
fresh_start
bdf=$(lspci -D -n | awk '$3 == "8086:100e" {print $1; exit}')
[ -n "$bdf" ] || { echo "no e1000 (8086:100e) in lspci"; exit 1; }
echo "$bdf" > $OUT/bdf
drv() { basename "$(readlink /sys/bus/pci/devices/$bdf/driver)"; }
{ cat /share/guest-pv.cfg; echo "pci = [ '$bdf,managed=yes' ]"; } > $OUT/guest-pci.cfg
# part 1: the daemon dies mid hand-over; the restarted one settles it
if alive /run/xenhostd.pid; then
  kill "$(cat /run/xenhostd.pid)"
  while alive /run/xenhostd.pid; do nap 0.2; done
fi
rm -f "$SOCK"
export XENHOST_HOSTDEV_HALT_AT=managed-start:4
timed jvms-up java_up
unset XENHOST_HOSTDEV_HALT_AT
xh define $OUT/guest-pci.cfg
if xh create $GUEST > $OUT/create-halted.txt 2>&1; then echo "create succeeded although xenhostd should have halted"; exit 1; fi
while alive /run/xenhostd.pid; do nap 0.2; done
drv > $OUT/driver-at-halt
cp /run/xenhostd.log $OUT/xenhostd-halted.log
rm -f "$SOCK"
timed restart-after-halt java_up
drv > $OUT/driver-after-halt-restart
xh nodedev-list --json > $OUT/nodedev-after-halt-restart.json
xh list --all --json > $OUT/list-after-halt-restart.json
xl list > $OUT/xl-list-after-halt-restart.txt
# part 2: a managed device in a running guest, kill -9, restart, destroy
timed create xh create $GUEST > $OUT/create.txt
wait_heartbeat $GUEST 2 300
drv > $OUT/driver-in-guest
# inside the guest: pcifront shows the function and e1000 makes it a network interface (guest-init prints both
# every fifth heartbeat); the Java test asserts on what it saw
log=/var/log/xen/console/guest-$GUEST.log
i=0; while [ $i -lt 90 ] && ! grep -q 'guest-net: .*eth' $log; do nap 1; i=$((i + 1)); done
grep 'guest-pci:\|guest-net:' $log | tail -n 2 > $OUT/guest-sees.txt || true
xl pci-list $GUEST > $OUT/xl-pci-list.txt
xh nodedev-list --json > $OUT/nodedev-before-kill.json
mark kill-daemon
kill -9 "$(cat /run/xenhostd.pid)"
while alive /run/xenhostd.pid; do nap 0.2; done
rm -f "$SOCK"   # a killed daemon leaves its socket file behind; java_up waits for a fresh one
timed restart java_up
xh nodedev-list --json > $OUT/nodedev-after-restart.json
xh list --json > $OUT/list-after-restart.json
hb=$(heartbeat $GUEST); wait_heartbeat $GUEST "$hb" 60
heartbeat $GUEST > $OUT/heartbeat-after-restart
timed destroy xh destroy $GUEST
drv > $OUT/driver-after-destroy
xl pci-assignable-list > $OUT/xl-assignable-after.txt
xh undefine $GUEST   # the next scenario makes an xl guest of the same name
