# Scenario 5 (xl's half): live migration of a PVH guest to localhost with xl itself, timed, as the baseline
# xenhost's migration will be compared with. Evidence for RealXenTest.xlMigrateBaseline:
#   time-xl-migrate       seconds `xl migrate` took        heartbeat-before / heartbeats-after  the guest's counter
#   xl-list-after.txt     xl list afterwards (one rxguest, no --incoming / --migratedaway left)
. /share/lib.sh
fresh_start
log=/var/log/xen/console/guest-$GUEST.log
timed xl-create xl create /share/guest.cfg
wait_heartbeat $GUEST 2 300
heartbeat $GUEST > $OUT/heartbeat-before
lines=$(wc -l < $log)
# -s '': the "host" argument is the whole command xl runs to reach the receiver (xen-facts §7).
timed xl-migrate xl migrate -s '' $GUEST 'xl migrate-receive'
wait_heartbeat $GUEST "$(cat $OUT/heartbeat-before)" 120
sleep 3
tail -n +"$((lines + 1))" $log | grep -o 'heartbeat [0-9]*' | cut -d' ' -f2 > $OUT/heartbeats-after
xl list > $OUT/xl-list-after.txt
xl destroy $GUEST
