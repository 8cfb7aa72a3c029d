#!/bin/sh
# Issue 4's performance figure in one command: 64 devices made assignable and returned, all at once vs one at a
# time, on the emulated host with 100 ms resets. Prints the ratio concurrent wall / slowest single device (target
# <= 1.2) and the load average around the run. Run from anywhere inside the repository; extra arguments go to JMH
# (e.g. -p resetMillis=50, -i 10).
set -eu
cd "$(dirname "$0")/.."
if [ ! -f jmh/target/benchmarks.jar ] || [ -n "$(find hostdev-manager/src emulator/src jmh/src pci/src -newer jmh/target/benchmarks.jar -type f | head -1)" ]; then
    mvn -B -q -pl jmh -am package -DskipTests -Dexec.skip=true
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
java -Djmh.ignoreLock=true -jar jmh/target/benchmarks.jar 'HostdevConcurrency.(concurrent|oneAtATime)' \
    -wi 3 -i 7 -f 1 "$@" > "$out" 2>&1 || { cat "$out"; exit 1; }
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
python3 jmh/hostdev-report.py "$out"
