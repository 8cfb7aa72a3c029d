# Scenario 4, part 1: xenhost's migration over its TLS channel between two xenhostd in this one dom0 (separate
# state directories, sockets, ports and certificates; localhost, as xl's own tests do), with a PV guest migrated
# non-live: a PV guest never runs under the SVM code whose TCG emulation kills PVH guests now and then (README.md,
# "Guest crashes under TCG"), so the failure paths are tested without that noise. xhlive.sh (part 2) live-migrates
# a PVH guest between the same two daemons. Evidence for SameHostMigrationRealXenTest:
#   abort-*          a non-live migration throttled to 4 MiB/s, aborted with domjobabort once streaming:
#                    .jsonl/.err/.rc the migrate command's events and exit, jobinfo.json domjobinfo mid-stream,
#                    xl-list.txt, heartbeat-before / heartbeats-after (the guest ran on at the source)
#   kill-*           the same, but the destination daemon is killed (-9) mid-stream; xl-list.txt right after,
#                    xl-list-restarted.txt once the restarted destination settled its journal
#   nonlive.jsonl    a complete non-live migration (time-nonlive); heartbeat-before / heartbeats-after (on the destination),
#                    xl-list-after.txt, list-src.json / list-dst.json
# The daemons stay up for xhlive.sh; their logs are xenhostd-src.log / xenhostd-dst.log here.
. /share/lib.sh
fresh_start
trap 'cp /run/cli-server.log $OUT/ 2>/dev/null || true' EXIT
mark scenario-xhmigrate
# the other scenarios' daemon has nothing to do here; on dom0's one vCPU it would only slow the two below
if alive /run/xenhostd.pid; then kill "$(cat /run/xenhostd.pid)"; fi
log=/var/log/xen/console/guest-$GUEST.log
cli_start
pair_fresh
mark daemons-up
timed create xs create /share/guest-pv.cfg
wait_heartbeat $GUEST 2 300
mark guest-alive

# 1. abort during the stream: the source guest keeps running, the destination keeps no copy
heartbeat $GUEST > $OUT/abort-heartbeat-before
lines=$(wc -l < $log)
# (sh -e: a failing command would end the subshell before it wrote the exit code, hence `|| rc=$?`)
( rc=0; xs migrate $GUEST $DEST --no-live --bandwidth 4 --json > $OUT/abort.jsonl 2> $OUT/abort.err || rc=$?; echo $rc > $OUT/abort.rc ) &
wait_streaming $SRC $OUT/abort.rc
xs domjobinfo $GUEST --json > $OUT/abort-jobinfo.json
xs domjobabort $GUEST
wait_file $OUT/abort.rc 180
mark aborted
wait_heartbeat $GUEST "$(cat $OUT/abort-heartbeat-before)" 120
sleep 3
heartbeats_since $GUEST $lines > $OUT/abort-heartbeats-after
xl list > $OUT/abort-xl-list.txt

# 2. kill -9 of the destination daemon mid-stream: the source guest keeps running; the restarted destination
#    destroys the paused copy the killed one left (its journal says it never got "go")
heartbeat $GUEST > $OUT/kill-heartbeat-before
lines=$(wc -l < $log)
( rc=0; xs migrate $GUEST $DEST --no-live --bandwidth 4 --json > $OUT/kill.jsonl 2> $OUT/kill.err || rc=$?; echo $rc > $OUT/kill.rc ) &
wait_streaming $SRC $OUT/kill.rc
kill -9 "$(cat /run/xenhostd-dst.pid)"
mark destination-killed
wait_file $OUT/kill.rc 180
wait_heartbeat $GUEST "$(cat $OUT/kill-heartbeat-before)" 120
sleep 3
heartbeats_since $GUEST $lines > $OUT/kill-heartbeats-after
xl list > $OUT/kill-xl-list.txt
mv $OUT/xenhostd-dst.log $OUT/xenhostd-dst-killed.log
daemon_start dst 7102
timed restart-dst daemons_wait dst
_i=0
while xl list | grep -q -- "$GUEST--incoming" && [ $_i -lt 120 ]; do nap 1; _i=$((_i + 1)); done
xl list > $OUT/kill-xl-list-restarted.txt
mark destination-restarted

# 3. a complete non-live migration: the guest pauses, moves, and counts on at the destination
migrate_and_record nonlive --no-live
mark scenario-xhmigrate-done
