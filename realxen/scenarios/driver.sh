# Scenario 1: xenhostd on the real libxenlight. Evidence for RealXenTest.driverOnRealXen:
#   xl-info.txt         xl's view of the host            libxl.json       NativeLibxl.hostInfo/listDomains
#   host-info.json      the Driver's hostInfo via xenhostd's socket
#   list-before.json    xenhost list with only dom0       list-foreign.json  ... after `xl create` (foreign)
#   adopt.txt           xenhost adopt's reply             list-adopted.json  ... after the adoption
#   xl-list-after.txt   xl list after `xenhost destroy`   heartbeat-*      the guest's heartbeat around adopt
. /share/lib.sh
fresh_start
mark scenario-driver
xl info > $OUT/xl-info.txt
timed jvms-up java_up
timed probe-libxl probe libxl > $OUT/libxl.json
mark jvms-up
timed host-info probe host-info "$SOCK" > $OUT/host-info.json
xl info > $OUT/xl-info-2.txt   # free memory right after host-info, to bound it from both sides
xh list --json > $OUT/list-before.json
timed xl-create xl create /share/guest-pv.cfg
wait_heartbeat $GUEST -1 300
mark guest-alive
xl list > $OUT/xl-list.txt
xl domid $GUEST > $OUT/guest-domid
xh list --json > $OUT/list-foreign.json
timed adopt xh adopt "$(cat $OUT/guest-domid)" > $OUT/adopt.txt
xh list --json > $OUT/list-adopted.json
hb=$(heartbeat $GUEST); echo "$hb" > $OUT/heartbeat-after-adopt
wait_heartbeat $GUEST "$hb" 60   # adoption left the guest running
timed destroy xh destroy $GUEST
xl list > $OUT/xl-list-after.txt
mark scenario-driver-done
