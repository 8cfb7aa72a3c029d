# Scenario 3: save and restore on the real libxl, xenhost's of a PVH guest (guest.cfg; the guest lives only as long
# as the save and restore need: README.md, "Guest crashes under TCG"), xl's of a PV guest (so our reader meets both
# guest types from a real writer: ours is checked by verify-stream-v2). Evidence for RealXenTest.saveAndRestore:
#   xenhost.save               what `xenhost save` wrote (xl save-file format); the host runs verify-stream-v2 on it
#   save.json                  xenhost save's reply       xl-list-saved.txt   xl list while the guest is saved
#   heartbeat-before-save      the last heartbeat before the save
#   heartbeats-after-restore   heartbeat numbers the guest printed after `xenhost restore` (must continue, not restart)
#   list-restored.json         xenhost list after the restore
#   xl.save                    a save file written by the real `xl save`, for our stream reader on the host
. /share/lib.sh
fresh_start
mark scenario-saverestore
timed jvms-up java_up
timed create xh create /share/guest.cfg
wait_heartbeat $GUEST 2 300   # a few beats, so "continues" and "restarted" differ
mark guest-alive
log=/var/log/xen/console/guest-$GUEST.log
timed save xh save $GUEST $OUT/xenhost.save --json > $OUT/save.json
heartbeat $GUEST > $OUT/heartbeat-before-save
wc -l < $log > $OUT/console-lines-at-save
xl list > $OUT/xl-list-saved.txt
mark saved
timed restore xh restore $OUT/xenhost.save > $OUT/restore.txt
wait_heartbeat $GUEST "$(cat $OUT/heartbeat-before-save)" 120
sleep 3
tail -n +"$(( $(cat $OUT/console-lines-at-save) + 1 ))" $log | grep -o 'heartbeat [0-9]*' | cut -d' ' -f2 > $OUT/heartbeats-after-restore
xh list --json > $OUT/list-restored.json
mark restored
xh destroy $GUEST
# The real writer: xl save of the same guest, read back on the host by xenhost's StreamReader.
: > $log
timed xl-create xl create /share/guest-pv.cfg
wait_heartbeat $GUEST 2 300
# Not straight onto the 9p share: libxc writes guest pages from their foreign mapping, and 9p's zero-copy path
# cannot pin those (write fails with EFAULT, "Failed to write page data to stream (14 = Bad address)").
timed xl-save xl save $GUEST /tmp/xl.save
cp /tmp/xl.save $OUT/xl.save && rm /tmp/xl.save
mark scenario-saverestore-done
