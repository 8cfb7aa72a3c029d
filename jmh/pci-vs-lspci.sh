#!/usr/bin/env bash
# Whole-process comparison: `xenhost pci list --json` (shaded jar, cold JVM each run) against
# `lspci -vmm -n -D -k` (linux-sysfs back end) on the same sysfs tree. Prints wall and CPU (user+sys) seconds per
# run and per function for each, median of RUNS. The warm in-JVM figure is PciEnumeration (JMH) in this directory.
# Needs /usr/bin/time (Debian package time) and bc.
# Usage: jmh/pci-vs-lspci.sh [TREE] [RUNS]   (default TREE fixtures/target/sysfs-large, RUNS 5)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tree=$(cd "${1:-$here/fixtures/target/sysfs-large}" && pwd)
runs=${2:-5}
jar="$here/daemon/target/xenhost.jar"
[ -f "$jar" ] || { echo "pci-vs-lspci: $jar missing; run ./xenhost --version once to build it" >&2; exit 1; }
[ -d "$tree/sys/bus/pci/devices" ] || { echo "pci-vs-lspci: $tree has no sys/bus/pci/devices (build the fixtures module first)" >&2; exit 2; }
n=$(ls "$tree/sys/bus/pci/devices" | wc -l)
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

measure() { # label, command...: prints "label median_wall median_cpu"
  local label=$1; shift
  local walls=() cpus=()
  for ((i = 0; i < runs; i++)); do
    /usr/bin/time -o "$tmp" -f "%e %U %S" "$@" >/dev/null 2>&1 || echo "pci-vs-lspci: $label exited non-zero (tree changing under it?)" >&2
    tail -1 "$tmp" >"$tmp.last"; mv "$tmp.last" "$tmp"
    read -r w u s <"$tmp"
    walls+=("$w"); cpus+=("$(echo "$u + $s" | bc -l)")
  done
  local mw mc
  mw=$(printf '%s\n' "${walls[@]}" | sort -g | sed -n "$(( (runs + 1) / 2 ))p")
  mc=$(printf '%s\n' "${cpus[@]}" | sort -g | sed -n "$(( (runs + 1) / 2 ))p")
  printf '%-8s wall %6.2f s (%7.1f us/function)   cpu %6.2f s (%7.1f us/function)\n' "$label" "$mw" \
    "$(echo "$mw * 1000000 / $n" | bc -l)" "$mc" "$(echo "$mc * 1000000 / $n" | bc -l)"
}

echo "tree: $tree ($n functions), median of $runs runs"
measure lspci lspci -vmm -n -D -k -A linux-sysfs -O "sysfs.path=$tree/sys/bus/pci"
measure xenhost java -jar "$jar" pci list --json --sysfs-root "$tree"
