#!/usr/bin/env bash
# PCI enumeration against lspci on the same sysfs tree, in one invocation (issue 2's performance target):
#   1. JMH PciEnumeration (warm, in-JVM): scan (threads from the CPU count), scanOneThread, baselineNio; and
#      scanOneThread again with -Dorg.xenhost.pci.uring=false (file by file, no io_uring) for comparison;
#   2. whole processes, median of RUNS interleaved rounds (one run of each per round): `lspci -vmm -n -D -k -A linux-sysfs` against `./xenhost pci list --json`
#      exactly as an operator runs it (the launcher: staleness check, class-data-sharing archive, C1 only), each a
#      cold JVM; `./xenhost --version` alone so the JVM's start can be taken out and reported separately; the
#      launcher's first run (which makes the class-data archive) happens before and is reported on its own;
#      and, as a breakdown, one scan alone in a cold JVM (ScanRepeat 1 minus ScanRepeat 0: no JSON, no verdicts);
#   3. file-system calls per function (strace -f -c): lspci's whole run, and our reader alone
#      (ScanRepeat with 3 scans minus 1 scan, so JVM start-up and class loading cancel out).
# Prints µs per function for each and the ratios, with the load average before and after.
# Both trees are read where they are (the generated tree lives on the build's file system, ext4 here; real sysfs
# is kernfs, in memory, but its dentries are cached the same way and a system call costs the same to enter).
# Needs /usr/bin/time (Debian package time), strace and python3; the benchmark jar and the shaded CLI jar built
# from the same sources (mvn -B -q -pl jmh -am package -DskipTests; ./xenhost --version).
# Usage: jmh/pci-vs-lspci.sh [TREE] [RUNS]   (default TREE fixtures/target/sysfs-large, RUNS 3; 11 gives steadier medians)
# Environment: JMH=0 skips step 1; JMH_JAVA_OPTS (e.g. -Djmh.ignoreLock=true) goes to JMH's JVM.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tree=$(cd "${1:-$here/fixtures/target/sysfs-large}" && pwd)
runs=${2:-3}
jar="$here/daemon/target/xenhost.jar"
bench="$here/jmh/target/benchmarks.jar"
for f in "$jar" "$bench"; do
  [ -f "$f" ] || { echo "pci-vs-lspci: $f missing; build it first (see the header of this script)" >&2; exit 1; }
done
[ -d "$tree/sys/bus/pci/devices" ] || { echo "pci-vs-lspci: $tree has no sys/bus/pci/devices (build the fixtures module first)" >&2; exit 2; }
for tool in /usr/bin/time strace python3 lspci; do
  command -v "$tool" >/dev/null || { echo "pci-vs-lspci: $tool is missing" >&2; exit 1; }
done
n=$(ls "$tree/sys/bus/pci/devices" | wc -l)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
lspci_cmd=(lspci -vmm -n -D -k -A linux-sysfs -O "sysfs.path=$tree/sys/bus/pci")
ours_cmd=("$here/xenhost" pci list --json --sysfs-root "$tree")
launch_opts=(-XX:TieredStopAtLevel=1 -XX:+UseSerialGC) # what ./xenhost gives short commands (see its header)

echo "tree: $tree ($n functions); $(nproc) CPUs; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
# The launcher's first run after a build makes its class-data archive: measured here once, then excluded.
rm -f "$here/daemon/target/xenhost.jsa"
/usr/bin/time -o "$tmp/first" -f "%e %U %S" "$here/xenhost" --version >/dev/null
read -r fw fu fs <"$tmp/first"
echo "first ./xenhost run after a build (makes daemon/target/xenhost.jsa): ${fw} s wall, $(python3 -c "print(round($fu + $fs, 2))") s CPU (excluded below)"

# Both programs must list the same functions, or the comparison means nothing.
lc=$("${lspci_cmd[@]}" | grep -c '^Slot:')
oc=$("${ours_cmd[@]}" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$lc" = "$n" ] && [ "$oc" = "$n" ] || { echo "pci-vs-lspci: lspci lists $lc, xenhost $oc of $n functions" >&2; exit 1; }

if [ "${JMH:-1}" != 0 ]; then
  # shellcheck disable=SC2086
  java ${JMH_JAVA_OPTS:-} -jar "$bench" 'org.xenhost.jmh.pci.PciEnumeration' -p root="$tree" \
    -wi 5 -w 3s -i 6 -r 3s -f 2 -rf json -rff "$tmp/jmh.json" >"$tmp/jmh.log" 2>&1 \
    || { cat "$tmp/jmh.log" >&2; exit 1; }
  # shellcheck disable=SC2086
  java ${JMH_JAVA_OPTS:-} -jar "$bench" 'org.xenhost.jmh.pci.PciEnumeration.scanOneThread' -p root="$tree" \
    -jvmArgsAppend -Dorg.xenhost.pci.uring=false \
    -wi 5 -w 3s -i 6 -r 3s -f 2 -rf json -rff "$tmp/jmh-nouring.json" >"$tmp/jmh-nouring.log" 2>&1 \
    || { cat "$tmp/jmh-nouring.log" >&2; exit 1; }
  python3 - "$tmp/jmh.json" "$tmp/jmh-nouring.json" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))
for b in json.load(open(sys.argv[2])):
    b["benchmark"] += "FileByFile"
    runs.append(b)
json.dump(runs, open(sys.argv[1], "w"))
PY
  echo "JMH (warm JVM; wall: ms per tree -> us per function, error is JMH's 99.9% interval; CPU: process CPU per function;"
  echo "     scanOneThreadFileByFile = scanOneThread with -Dorg.xenhost.pci.uring=false):"
  python3 - "$tmp/jmh.json" "$n" <<'PY'
import json, sys
n = int(sys.argv[2])
for b in json.load(open(sys.argv[1])):
    m = b["primaryMetric"]
    name = b["benchmark"].rsplit(".", 1)[1]
    sec = b.get("secondaryMetrics", {})
    cpu = sec["cpuNanos"]["score"] / sec["functions"]["score"] / 1000 if sec.get("functions", {}).get("score") else float("nan")
    print(f"  {name:24s} {m['score']:9.1f} ms/tree  wall {m['score'] * 1000 / n:8.1f} us/function (+- {m['scoreError'] * 1000 / n:.1f})"
          f"  CPU {cpu:7.1f} us/function")
    open(sys.argv[1] + "." + name, "w").write(str(m["score"] * 1000 / n))
    open(sys.argv[1] + "." + name + ".cpu", "w").write(str(cpu))
PY
fi

# Whole processes, interleaved: each round runs every command once, so a drift in the machine's speed over the
# minutes this takes (seen here: lspci's own median moving 1.07 -> 1.33 s between blocks of runs) falls on all of
# them alike instead of on whichever ran last. Medians of RUNS rounds go to $tmp/NAME.{wall,cpu}.
names=(lspci ours jvm scan1 scan0)
run_one() { # name: one timed run of that command, appended to $tmp/NAME.runs as "wall cpu"
  local cmd
  case $1 in
    lspci) cmd=("${lspci_cmd[@]}") ;;
    ours) cmd=("${ours_cmd[@]}") ;;
    jvm) cmd=("$here/xenhost" --version) ;;
    scan1) cmd=(java "${launch_opts[@]}" -cp "$bench" org.xenhost.jmh.pci.ScanRepeat "$tree" 1) ;;
    scan0) cmd=(java "${launch_opts[@]}" -cp "$bench" org.xenhost.jmh.pci.ScanRepeat "$tree" 0) ;;
  esac
  /usr/bin/time -o "$tmp/time" -f "%e %U %S" "${cmd[@]}" >/dev/null 2>"$tmp/err" \
    || { echo "pci-vs-lspci: $1 failed:" >&2; cat "$tmp/err" >&2; exit 1; }
  tail -1 "$tmp/time" >>"$tmp/$1.runs"
}
for ((i = 0; i < runs; i++)); do
  for name in "${names[@]}"; do
    run_one "$name"
  done
done
for name in "${names[@]}"; do
  python3 - "$tmp/$name.runs" "$tmp/$name" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
open(sys.argv[2] + ".wall", "w").write(str(statistics.median(float(r[0]) for r in rows)))
open(sys.argv[2] + ".cpu", "w").write(str(statistics.median(float(r[1]) + float(r[2]) for r in rows)))
PY
done

fscalls() { # strace -c output file: the sum of file-system calls
  python3 - "$1" <<'PY'
import sys
fs = {"openat", "open", "read", "pread64", "close", "readlinkat", "readlink", "newfstatat", "fstat", "statx", "stat",
      "lstat", "getdents64", "lseek", "access", "faccessat2", "io_uring_enter"}
total = 0
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) >= 5 and p[-1] in fs and p[0][0].isdigit():
        total += int(p[3])
print(total)
PY
}
strace -f -c -o "$tmp/lspci.strace" "${lspci_cmd[@]}" >/dev/null
strace -f -c -o "$tmp/scan1.strace" java -cp "$bench" org.xenhost.jmh.pci.ScanRepeat "$tree" 1 >/dev/null
strace -f -c -o "$tmp/scan3.strace" java -cp "$bench" org.xenhost.jmh.pci.ScanRepeat "$tree" 3 >/dev/null
fs_lspci=$(fscalls "$tmp/lspci.strace")
fs_scan=$(( $(fscalls "$tmp/scan3.strace") - $(fscalls "$tmp/scan1.strace") ))

python3 - "$tmp" "$n" "$runs" "$fs_lspci" "$fs_scan" <<'PY'
import os, sys
tmp, n, runs, fs_lspci, fs_scan = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
def get(name):
    p = os.path.join(tmp, name)
    return float(open(p).read()) if os.path.exists(p) else None
us = lambda seconds: seconds * 1e6 / n
lw, lc = get("lspci.wall"), get("lspci.cpu")
ow, oc = get("ours.wall"), get("ours.cpu")
jw, jc = get("jvm.wall"), get("jvm.cpu")
print(f"whole processes, median of {runs} interleaved rounds (wall / CPU = user+sys):")
print(f"  lspci              {lw:6.2f} s / {lc:6.2f} s   {us(lw):7.1f} / {us(lc):7.1f} us per function")
print(f"  ./xenhost pci list {ow:6.2f} s / {oc:6.2f} s   {us(ow):7.1f} / {us(oc):7.1f} us per function")
print(f"  ./xenhost --version {jw:5.2f} s / {jc:6.2f} s   (launcher + JVM start + picocli; reported separately)")
print(f"  pci list minus JVM start: {us(ow - jw):7.1f} / {us(oc - jc):7.1f} us per function")
s1w, s1c, s0w, s0c = get("scan1.wall"), get("scan1.cpu"), get("scan0.wall"), get("scan0.cpu")
print(f"  reader alone, one scan in a cold JVM, JVM start taken out: {us(s1w - s0w):7.1f} / {us(s1c - s0c):7.1f} us per function")
print(f"file-system calls per function (io_uring_enter counted as one): lspci {fs_lspci / n:.1f}, xenhost reader {fs_scan / 2 / n:.1f}")
print("ratios (lspci / xenhost; above 1 means xenhost is faster):")
print(f"  whole process, wall {lw / ow:.2f}, CPU {lc / oc:.2f}; without JVM start, wall {lw / (ow - jw):.2f}, CPU {lc / (oc - jc):.2f}")
for name in ("scan", "scanOneThread", "scanOneThreadFileByFile", "baselineNio"):
    v, c = get("jmh.json." + name), get("jmh.json." + name + ".cpu")
    if v:
        print(f"  JMH {name:24s} wall {v:7.1f} us per function: lspci wall / this = {us(lw) / v:.2f};"
              f" CPU {c:7.1f} us per function: lspci CPU / this = {us(lc) / c:.2f}")
PY
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
