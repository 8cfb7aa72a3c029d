#!/usr/bin/env bash
# Boots Xen 4.17 with a Debian dom0 under QEMU (TCG) once and runs scenarios in dom0, in the order given.
#   realxen/run.sh [-t TIMEOUT_SECONDS] SCENARIO...
# SCENARIO names realxen/scenarios/SCENARIO.sh. Needs realxen/build.sh's artifacts, daemon/target/xenhost.jar and
# realxen/target/classes (mvn -pl realxen -am package). One boot serves all scenarios: under TCG a boot and a JVM
# start are the expensive parts, and the JVMs a scenario starts stay up for the next one.
# The run's 9p share is build/realxen/run/ (replaced on every run):
#   in:  dom0-init, scenarios/, lib.sh, guest configs, xenhost.jar, probe/ (realxen's classes)
#   out: out/NAME/exit-code, out/NAME/log (the scenario's output), out/NAME/* (evidence the Java tests assert on),
#        out/wall-seconds; console.log is Xen's and dom0's serial console
# Exit status: 0 when every scenario exited 0; 124 when the hard timeout killed QEMU; else 1. On failure the tail
# of the console log and of each failed scenario's log is printed. Only one QEMU runs at a time on this machine
# (flock on /tmp/realxen-qemu.lock): two TCG machines on two cores only slow each other down past their timeouts.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
build=${REALXEN_BUILD:-$root/build/realxen}
limit=600
if [ "${1:-}" = -t ]; then limit=$2; shift 2; fi
[ $# -gt 0 ] || { echo "usage: realxen/run.sh [-t TIMEOUT_SECONDS] SCENARIO..." >&2; exit 2; }
for name in "$@"; do
  [ -f "$here/scenarios/$name.sh" ] || { echo "realxen-run: no scenario $here/scenarios/$name.sh" >&2; exit 2; }
done
for f in xen vmlinux dom0.cpio.gz rootfs.img; do
  [ -f "$build/$f" ] || { echo "realxen-run: $build/$f is missing; run realxen/build.sh first" >&2; exit 2; }
done
jar="$root/daemon/target/xenhost.jar"
[ -f "$jar" ] && [ -d "$here/target/classes/org" ] || {
  echo "realxen-run: $jar or realxen/target/classes is missing; build them: mvn -B -q -pl realxen -am package -DskipTests" >&2; exit 2; }

share="$build/run"
rm -rf "$share"; mkdir -p "$share/out" "$share/scenarios"
cp "$here/dom0-init" "$here/scenarios/lib.sh" "$here"/scenarios/*.cfg "$share/"
for name in "$@"; do cp "$here/scenarios/$name.sh" "$share/scenarios/"; mkdir -p "$share/out/$name"; done
echo "$*" > "$share/scenario-list"
cp "$jar" "$share/xenhost.jar"
cp -r "$here/target/classes" "$share/probe"
console="$share/console.log"
# Class-data sharing for dom0's JVMs. Under TCG a JVM start in dom0 spent ~26 s of CPU in its main thread, much of it
# loading and verifying classes; an archive made here, by dom0's own JVM (build.sh unpacks it to $build/jre), from
# the class list in cds-classes.txt, lets dom0 map them instead. The archive records the jar's path and dom0 must
# name the jar by the same path: a name under /tmp that dom0 links to /share and this host links to the share for
# the dump only. Without the JVM, the list or a working dump, dom0 runs without the archive (slower, not wrong).
cds_root=/tmp/realxen-cds.$$
jre_java="$build/jre/usr/lib/jvm/java-17-openjdk-amd64/bin/java"
if [ -x "$jre_java" ] && [ -f "$here/cds-classes.txt" ]; then
  ln -sfn "$share" "$cds_root"
  if "$jre_java" -Xshare:dump -XX:SharedClassListFile="$here/cds-classes.txt" -XX:SharedArchiveFile="$share/xenhost.jsa" \
      -cp "$cds_root/xenhost.jar" > "$share/cds-dump.log" 2>&1; then
    echo "$cds_root" > "$share/cds-root"
  else
    echo "realxen-run: no class-data archive for dom0 (see $share/cds-dump.log); its JVMs start without one" >&2
  fi
  rm -f "$cds_root"
fi
# The migration scenarios' CA and certificates, made here by `xenhost pki` on the host's JVM: in dom0 under TCG the
# same three EC key pairs took 30-120 s of its one vCPU (pure-Java elliptic-curve arithmetic in a C1-only JVM).
if grep -qw -e xhmigrate -e xhlive "$share/scenario-list"; then
  for step in "init-ca" "issue --name rx-src --san 127.0.0.1" "issue --name rx-dst --san 127.0.0.1"; do
    # shellcheck disable=SC2086
    java -jar "$jar" pki $step --dir "$share/pki" > /dev/null
  done
fi

# Why each flag: real-xen-in-qemu.md in the shared reference. In short: TCG (KVM here is kvm_pvm, which cannot run
# Xen); -rdtscp because TCG cannot give SVM the next-RIP of an RDTSCP intercept (PVH guests hang); smap/smep off or
# dom0 faults at its first instruction; q35 + intel-iommu so Xen enables VT-d and PCI passthrough works; the e1000 is
# behind its own PCIe root port, because QEMU's e1000 has neither FLR nor a PM capability: on the root bus it would
# have no safe reset at all and the host-device manager refuses such a device for a managed start (as libvirt
# does); behind a port of its own a secondary bus reset touches nothing else. The e1000 is
# the device to pass through; -no-reboot so a crash ends the run instead of looping. Ours on top: Xen's null
# scheduler with dom0 (1 vCPU) pinned to pCPU 0 and -smp 3, because dom0 processes got a wrong FS base once a PVH
# guest had run on dom0's pCPU under TCG (README.md); thread=single booted faster on this loaded machine.
qemu=(qemu-system-x86_64 -accel tcg,thread=single -cpu max,-rdtscp -m 3072 -smp 3 -nographic -no-reboot
  -machine q35 -device intel-iommu,intremap=on
  -kernel "$build/xen"
  -append "sched=null dom0_max_vcpus=1 dom0_vcpus_pin dom0_mem=1024M,max:1024M console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all smap=0 smep=0"
  -initrd "$build/vmlinux console=hvc0 earlyprintk=xen rdinit=/init,$build/dom0.cpio.gz"
  -device pcie-root-port,id=rp1,chassis=1,slot=1 -device e1000,bus=rp1,netdev=n0 -netdev user,id=n0,restrict=on
  -drive "file=$build/rootfs.img,if=virtio,format=raw,snapshot=on"
  -virtfs "local,path=$share,mount_tag=host0,security_model=none")

start=$(date +%s.%N)
set +e
# waits at most as long as the run itself may take for another run's QEMU to finish (exit 75 from flock: gave up)
flock -E 75 -w "$limit" /tmp/realxen-qemu.lock timeout --kill-after=10 "$limit" "${qemu[@]}" < /dev/null > "$console" 2>&1
qrc=$?
if [ $qrc = 75 ]; then
  echo "realxen-run: another QEMU run held /tmp/realxen-qemu.lock for $limit s; nothing ran (see: ps -ef | grep qemu-system)" >&2
  exit 1
fi
set -e
secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}')
echo "$secs" > "$share/out/wall-seconds"
rc=0
for name in "$@"; do
  o="$share/out/$name"
  if [ -f "$o/exit-code" ]; then
    code=$(cat "$o/exit-code"); why="exit code $code"
  else
    code=-; why="did not finish"
  fi
  [ ! -f "$o/retried" ] || why="$why, after retries ($(tr "\n" ";" < "$o/retried") evidence of failed attempts in $o/attempt-N)"
  echo "realxen-run: scenario $name: $why; times: $(cd "$o" && for t in time-*; do [ -f "$t" ] && printf '%s=%ss ' "${t#time-}" "$(cat "$t")"; done)" >&2
  if [ "$code" != 0 ]; then
    rc=1
    echo "realxen-run: ---- last 30 lines of $o/log ----" >&2
    tail -n 30 "$o/log" 2>/dev/null >&2 || true
  fi
done
if [ $qrc -eq 124 ] || [ $qrc -eq 137 ]; then rc=124; echo "realxen-run: timed out after $limit s" >&2; fi
echo "realxen-run: $* in one boot: ${secs} s wall (QEMU exit $qrc)" >&2
if [ "$rc" != 0 ]; then
  echo "realxen-run: ---- last 60 lines of $console ----" >&2
  tail -n 60 "$console" >&2
fi
exit "$rc"
