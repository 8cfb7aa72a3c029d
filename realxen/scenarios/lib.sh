# Helpers for scenario scripts (busybox sh in dom0, sourced with `. /share/lib.sh`).
# Evidence goes to $OUT (set by dom0-init: /share/out/NAME, i.e. build/realxen/run/out/NAME on the host); the Java
# tests assert on it. The JVMs and the guest name are shared by all scenarios of a boot.
: "${OUT:?dom0-init sets OUT}"
GUEST=rxguest
SOCK=/run/xenhost/xenhostd.sock
# The JVM under TCG is ~10x slower than on the host: C1 only and the serial collector start fastest.
JAVA_OPTS="-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto -Xmx256m"
# run.sh's class-data archive of xenhost's classes (if it made one) records the jar by the path in /share/cds-root,
# so the JVMs name the jar by that path (a link to /share) and map the archive from tmpfs.
JAR=/share/xenhost.jar
if [ -s /share/cds-root ] && [ -f /share/xenhost.jsa ]; then
  read -r _cds_root < /share/cds-root
  [ -e "$_cds_root" ] || ln -s /share "$_cds_root"
  [ -f /run/xenhost.jsa ] || { cp /share/xenhost.jsa /run/xenhost.jsa.tmp && mv /run/xenhost.jsa.tmp /run/xenhost.jsa; }
  JAR=$_cds_root/xenhost.jar
  JAVA_OPTS="$JAVA_OPTS -XX:SharedArchiveFile=/run/xenhost.jsa"
fi
CP=$JAR:/share/probe

# Waiting must not fork. In this PV dom0 under TCG every fork+exec is dear (page tables built through Xen, all of it
# emulated), and dom0 has one vCPU: the old 10 Hz wait loop of `_request` (sleep, cat, grep: 40 fork+execs a second)
# made an `xenhost save` of a PV guest take 9.9 s where the same save waited on by a 1 s loop took 6.9 s.
# `nap SECONDS` sleeps in the shell itself: a read with a timeout on a FIFO nobody writes to.
NAP_FIFO=/run/realxen-nap.$$
[ -p $NAP_FIFO ] || mkfifo $NAP_FIFO
nap() { read -t "$1" _ <> $NAP_FIFO || true; }

# Whether the process in pid file $1 runs (busybox's `kill -0 ""` succeeds, so the file must hold a number). A
# zombie does not count: a daemon this shell started and that died stays one until the shell reaps it. Builtins
# only (see nap): the state is the third field of /proc/PID/stat.
alive() {
  [ -s "$1" ] || return 1
  read -r _apid < "$1"
  kill -0 "$_apid" 2>/dev/null || return 1
  read -r _ _ _astate _ 2>/dev/null < "/proc/$_apid/stat" || return 1
  [ "$_astate" != Z ]
}

mark() { echo "MARK $* $(cut -d' ' -f1 /proc/uptime)"; }

# Runs a command, recording how long it took in $OUT/time-NAME (seconds, 2 decimals).
timed() {
  _name=$1; shift
  _t0=$(cut -d' ' -f1 /proc/uptime)
  "$@"; _rc=$?
  awk -v a="$_t0" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN{printf "%.2f\n", b - a}' > "$OUT/time-$_name"
  return $_rc
}

# All xenhost CLI commands and probes of a scenario run in one JVM (Probe serve): under TCG on a busy machine a JVM
# start costs minutes. `xh ARGS` is the real CLI (picocli, RemoteDriver, the admin socket), only not a new process.
Q=/run/realxen-cli
_seq=0
_request() {
  # a random tail keeps ids unique across subshells ($(...) and `&` copy _seq), so no answer is read twice
  _seq=$((_seq + 1)); _id=$(basename $OUT)-$(printf %04d $_seq)-$(cut -c1-8 /proc/sys/kernel/random/uuid)
  printf '%s\n' "$@" > $Q/$_id.tmp && mv $Q/$_id.tmp $Q/$_id.req
  while [ ! -f $Q/$_id.rc ]; do
    alive /run/realxen-cli.pid || { echo "the CLI server died:"; cat /run/cli-server.log; return 1; }
    nap 0.1
  done
  cat $Q/$_id.out; cat $Q/$_id.err >&2
  return "$(cat $Q/$_id.rc)"
}
xh() { _request xenhost -c "$SOCK" "$@"; }
probe() { _request probe "$@"; }

# Starts the CLI server and xenhostd on the real libxl (both JVMs at once) unless an earlier scenario of this boot
# did; waits until both answer (up to 600 s). Their logs: /run/cli-server.log, /run/xenhostd.log (copied to $OUT).
cli_start() {
  mkdir -p /run/xenhost $Q
  if ! alive /run/realxen-cli.pid; then
    java $JAVA_OPTS -cp "$CP" org.xenhost.realxen.Probe serve $Q > /run/cli-server.log 2>&1 &
    echo $! > /run/realxen-cli.pid
  fi
}

java_up() {
  mkdir -p /var/lib/xenhost
  cli_start
  if ! alive /run/xenhostd.pid; then
    java $JAVA_OPTS -jar "$JAR" daemon --hypervisor native --state-dir /var/lib/xenhost \
      --admin-socket "$SOCK" > /run/xenhostd.log 2>&1 &
    echo $! > /run/xenhostd.pid
  fi
  _i=0
  while [ $_i -lt 600 ]; do
    [ -S "$SOCK" ] && [ -f $Q/ready ] && return 0
    alive /run/xenhostd.pid || { echo "xenhostd exited:"; cat /run/xenhostd.log; return 1; }
    alive /run/realxen-cli.pid || { echo "the CLI server exited:"; cat /run/cli-server.log; return 1; }
    nap 1; _i=$((_i + 1))
  done
  echo "xenhostd or the CLI server not up in 600 s"; cat /run/xenhostd.log /run/cli-server.log; return 1
}

# Destroys the test guest if an earlier (maybe failed) scenario left it and empties the guests' console logs
# (xenconsoled appends to a log across domains of the same name: an old guest's heartbeats, or its panic, must not
# count for the new one); copies the JVMs' logs on exit.
fresh_start() {
  trap 'cp /run/xenhostd.log /run/cli-server.log $OUT/ 2>/dev/null || true' EXIT
  for d in $GUEST $GUEST--incoming $GUEST--migratedaway; do
    # through xenhostd first when it runs, so it lets go of a guest an earlier attempt left (its kernel panicked, so
    # its save failed) at once; it would also settle one xl destroyed, but only when next asked
    if alive /run/xenhostd.pid && alive /run/realxen-cli.pid; then xh destroy $d > /dev/null 2>&1 || true; fi
    xl destroy $d 2>/dev/null || true
  done
  for _f in /var/log/xen/console/guest-*.log; do [ ! -f "$_f" ] || : > "$_f"; done
}

# The highest heartbeat number a guest has printed so far (-1 if none yet).
heartbeat() {
  _n=$(grep -o 'heartbeat [0-9]*' "/var/log/xen/console/guest-$1.log" 2>/dev/null | tail -n 1 | cut -d' ' -f2)
  echo "${_n:--1}"
}

# Whether guest $1's kernel has died (its console shows a panic). Under TCG a PVH guest's kernel now and then
# faults on a corrupted TSS/GS state (README.md, "Guest crashes under TCG"): that is the emulator's, not ours.
guest_panicked() { grep -q 'Kernel panic' "/var/log/xen/console/guest-$1.log" 2>/dev/null; }

# Prints guest $1's console from its first oops line on (or its tail), for a failure message.
guest_console_excerpt() {
  _log="/var/log/xen/console/guest-$1.log"
  _first=$(grep -n -m1 -E 'BUG:|Oops|general protection|double fault|Kernel panic' "$_log" 2>/dev/null | cut -d: -f1)
  if [ -n "$_first" ]; then tail -n +"$_first" "$_log" | head -n 60; else tail -n 20 "$_log" 2>/dev/null; fi
}

# Waits until guest $1 prints a heartbeat above $2 (default -1: any), at most $3 seconds (default 120); gives up at
# once when the guest's kernel panicked.
wait_heartbeat() {
  _above=${2:--1}; _limit=${3:-120}; _i=0
  while [ $_i -lt "$_limit" ]; do
    [ "$(heartbeat "$1")" -gt "$_above" ] && return 0
    guest_panicked "$1" && break
    nap 1; _i=$((_i + 1))
  done
  if guest_panicked "$1"; then
    echo "guest $1 printed no heartbeat above $_above: its kernel panicked; its console from the first oops:"
  else
    echo "guest $1 printed no heartbeat above $_above in $_limit s; its console log:"
  fi
  guest_console_excerpt "$1"
  return 1
}

# ---- more daemons in this dom0 (scenario 4: two toolstacks on one Xen, as xl's own localhost migration tests) ----
# Daemon NAME keeps its state in /var/lib/xenhost-NAME, logs to $OUT/xenhostd-NAME.log (on the share, so it can be
# read while the scenario runs), answers on /run/xenhost/NAME.sock, listens for migrations
# on 127.0.0.1:PORT with the TLS identity rx-NAME from one CA in $PKI, and accepts peers rx-*. Under TCG a cold
# JVM's first TLS connection took 110 s (the transport's default limit is 10 s), hence --peer-timeout.
PKI=/var/lib/xenhost-pki

# The CA and the daemons' certificates (rx-NAME): run.sh made them with `xenhost pki` on the host (/share/pki);
# without that, `xenhost pki` makes them here. Once per boot.
pki_up() {
  [ -f $PKI/ca-cert.pem ] && return 0
  if [ -f /share/pki/ca-cert.pem ]; then mkdir -p $PKI && cp /share/pki/* $PKI/ && chmod 600 $PKI/*key* && return 0; fi
  _request xenhost pki init-ca --dir $PKI > /dev/null || return 1
  for _n in "$@"; do _request xenhost pki issue --dir $PKI --name rx-$_n --san 127.0.0.1 > /dev/null || return 1; done
}

# Starts daemon NAME on migration port PORT (returns at once; daemons_wait waits).
daemon_start() {
  mkdir -p /var/lib/xenhost-$1 /run/xenhost
  java $JAVA_OPTS -Dorg.slf4j.simpleLogger.showDateTime=true -Dorg.slf4j.simpleLogger.log.org.xenhost.transport=debug \
    -jar "$JAR" daemon --hypervisor native --state-dir /var/lib/xenhost-$1 \
    --admin-socket /run/xenhost/$1.sock --listen 127.0.0.1:$2 --tls-dir $PKI --tls-name rx-$1 --allow-peer 'CN=rx-*' \
    --peer-timeout 300 \
    > $OUT/xenhostd-$1.log 2>&1 &
  echo $! > /run/xenhostd-$1.pid
}

# Waits (up to 600 s) until each named daemon answers on its socket and listens for migrations.
daemons_wait() {
  for _n in "$@"; do
    _i=0
    until [ -S /run/xenhost/$_n.sock ] && grep -q 'migration listener on' $OUT/xenhostd-$_n.log; do
      alive /run/xenhostd-$_n.pid || { echo "xenhostd $_n exited:"; cat $OUT/xenhostd-$_n.log; return 1; }
      [ $_i -lt 600 ] || { echo "xenhostd $_n not up in 600 s:"; cat $OUT/xenhostd-$_n.log; return 1; }
      nap 1; _i=$((_i + 1))
    done
  done
}

# The pair of scenario 4: daemon src (this host's guests) and dst (listening on $DEST); `xs`/`xd` talk to each.
SRC=/run/xenhost/src.sock
DST=/run/xenhost/dst.sock
DEST=127.0.0.1:7102
xs() { _request xenhost -c $SRC "$@"; }
xd() { _request xenhost -c $DST "$@"; }

# Starts src and dst with empty state directories, killing an earlier pair first (a retried attempt after a guest
# panic must not inherit the failed attempt's journals), and waits until both answer; logs go to this $OUT.
pair_fresh() {
  for _d in src dst; do
    if alive /run/xenhostd-$_d.pid; then kill -9 "$(cat /run/xenhostd-$_d.pid)"; fi
    rm -rf /var/lib/xenhost-$_d /run/xenhost/$_d.sock
  done
  timed pki pki_up src dst
  daemon_start src 7101
  daemon_start dst 7102
  timed daemons-up daemons_wait src dst
}

# Migrates $GUEST from src to dst with the xenhost migrate flags given ($1 names the evidence: $OUT/$1.jsonl, time-$1),
# then records what the test asserts: the heartbeat before and after (heartbeat-before, heartbeats-after), xl list
# (xl-list-after.txt), both daemons' lists (list-src.json, list-dst.json); destroys the guest at the destination.
migrate_and_record() {
  _what=$1; shift
  heartbeat $GUEST > $OUT/heartbeat-before
  _lines=$(wc -l < /var/log/xen/console/guest-$GUEST.log)
  timed "$_what" xs migrate $GUEST $DEST "$@" --json > $OUT/$_what.jsonl
  mark migrated
  wait_heartbeat $GUEST "$(cat $OUT/heartbeat-before)" 120
  sleep 2
  heartbeats_since $GUEST $_lines > $OUT/heartbeats-after
  xl list > $OUT/xl-list-after.txt
  xs list --json > $OUT/list-src.json
  xd list --json > $OUT/list-dst.json
  xl vcpu-list $GUEST > $OUT/vcpu-list-after.txt 2>&1 || true
  xd destroy $GUEST
}

# Waits until the migration job of $GUEST on the daemon at socket $1 has sent more than 1 MiB (at most 120 s);
# gives up at once when file $2 appears (the migrate command ended before that).
wait_streaming() {
  _i=0
  while [ $_i -lt 240 ]; do
    [ ! -f "$2" ] || { echo "the migration of $GUEST ended before streaming:"; cat "${2%.rc}.err"; return 1; }
    [ $_i -ne 200 ] || dump_jvms   # 100 s without a byte: record where everything waits
    _b=$(_request xenhost -c "$1" domjobinfo $GUEST --json 2>/dev/null | grep -o '"bytes" *: *[0-9]*' | head -n 1 | grep -o '[0-9]*$' || true)
    [ "${_b:-0}" -gt 1048576 ] && return 0
    nap 0.5; _i=$((_i + 1))
  done
  echo "the migration of $GUEST sent no data within 120 s"; dump_jvms; return 1
}

# Every JVM here prints its threads (SIGQUIT, into its log), so a hang can be read afterwards.
dump_jvms() {
  echo "thread dumps of the JVMs follow in their logs"
  for _p in /run/realxen-cli.pid /run/xenhostd*.pid; do ! alive "$_p" || kill -QUIT "$(cat "$_p")"; done
  sleep 10; cp /run/cli-server.log $OUT/ 2>/dev/null || true
}

wait_file() {
  _i=0
  while [ ! -f "$1" ]; do
    if [ $_i -ge $(($2 * 2)) ]; then
      echo "$1 did not appear within $2 s"; dump_jvms
      return 1
    fi
    nap 0.5; _i=$((_i + 1))
  done
}

# The heartbeat numbers guest $1 printed after console line $2.
heartbeats_since() {
  tail -n +"$(($2 + 1))" "/var/log/xen/console/guest-$1.log" | grep -o 'heartbeat [0-9]*' | cut -d' ' -f2
}
