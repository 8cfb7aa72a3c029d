# Scenario 4, part 2 (and xenhost's half of 5): a PVH guest live-migrates between the two xenhostd of xhmigrate.sh
# (reused when they still run; started fresh otherwise, and on every retry), with progress events and a reported
# downtime; its heartbeat continues on the destination and exactly one copy remains. The guest lives only as long
# as the migration needs: under TCG a PVH guest's kernel dies now and then 15-50 s into its life (README.md).
# Evidence for SameHostMigrationRealXenTest:
#   migrate.jsonl    the migrate command's --json events; time-migrate its wall time
#   heartbeat-before / heartbeats-after, xl-list-after.txt, list-src.json / list-dst.json
#   pinned-pcpus     the guest's cpus= (guest.cfg); vcpu-list-before.txt / vcpu-list-after.txt: xl vcpu-list of the
#                    guest before and after (real libxl applied xenhost's affinity, and the migration carried it)
. /share/lib.sh
fresh_start
trap 'cp /run/cli-server.log $OUT/ 2>/dev/null || true' EXIT
mark scenario-xhlive
if alive /run/xenhostd.pid; then kill "$(cat /run/xenhostd.pid)"; fi
cli_start
if [ -f /run/xhlive-attempted ] || ! alive /run/xenhostd-src.pid || ! alive /run/xenhostd-dst.pid \
    || ! xs list > /dev/null || ! xd list > /dev/null; then
  pair_fresh
fi
touch /run/xhlive-attempted
mark daemons-up
sed -n 's/^cpus = "\(.*\)"$/\1/p' /share/guest.cfg > $OUT/pinned-pcpus
timed create xs create /share/guest.cfg
xl vcpu-list $GUEST > $OUT/vcpu-list-before.txt
wait_heartbeat $GUEST 0 300
mark guest-alive
migrate_and_record migrate
mark scenario-xhlive-done
