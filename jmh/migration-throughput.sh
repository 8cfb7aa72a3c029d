#!/bin/sh
# Issue 7's performance target in one command: MigrationThroughput (1 GiB idle and random guests, two in-JVM
# daemons over TLS on loopback) against TransportThroughput.tlsStream measured in the same invocation.
# Prints each benchmark's score, the ratio (target >= 0.90), CPU per GB of both, and the heap figures.
# Usage: jmh/migration-throughput.sh [JMH iteration options; default -wi 6 -i 4 -w 3s -r 5s]   (env: SKIP_BUILD=1 to reuse the jar)
set -eu
cd "$(dirname "$0")/.."
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    mvn -B -q -pl jmh -am package -DskipTests -Dexec.skip=true
fi
[ $# -gt 0 ] || set -- -wi 6 -i 4 -w 3s -r 5s
out=$(mktemp /tmp/migration-throughput.XXXXXX)
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
java -jar jmh/target/benchmarks.jar 'MigrationThroughput.migrate|TransportThroughput.tlsStream' \
     -p content=idle,random -p dirtyMiBps=0 -f 1 "$@" | tee "$out" \
     | grep -E '^# (migration|heap|tlsStream)|^(Benchmark|MigrationThroughput|TransportThroughput)'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$out" <<'PY'
import re, sys, statistics
text = open(sys.argv[1]).read()
tls = re.search(r'^TransportThroughput\.tlsStream\s.*?\s([\d.]+)\s+(?:±\s+\S+\s+)?ops/s', text, re.M)
if not tls:
    sys.exit("no tlsStream score in the JMH output (" + sys.argv[1] + ")")
tls_gbs = float(tls.group(1)) / 1000.0  # one op = 10^6 bytes: ops/s = MB/s
tls_cpu = re.search(r'# tlsStream CPU: ([\d.]+) s per GB', text)
print(f"\ntlsStream: {tls_gbs:.3f} GB/s" + (f", CPU {tls_cpu.group(1)} s per GB" if tls_cpu else ""))
# JMH prints every migration: warm-up ones first; the last -i of each content are the measured ones
iters = int(re.search(r'^# Measurement: (\d+) iterations', text, re.M).group(1))
for content in ("idle", "random"):
    runs = re.findall(rf'# migration {content} dirty=0 MiB/s: ([\d.]+) GB in ([\d.]+) s = ([\d.]+) GB/s \(stream alone [\d.]+ GB in [\d.]+ s = ([\d.]+) GB/s\).*?downtime (\d+) ms.*?CPU ([\d.]+) s per GB', text, re.M)
    if not runs:
        continue
    measured = runs[-iters:]
    whole = [float(r[2]) for r in measured]
    stream = [float(r[3]) for r in measured]
    cpu = [float(r[5]) for r in measured]
    scpu_all = re.findall(rf'# migration {content} dirty=0 MiB/s: .*stream alone CPU ([\d.]+) s per GB', text, re.M)
    scpu = [float(x) for x in scpu_all[-iters:]] if len(scpu_all) >= iters else []
    m_whole, m_stream, m_cpu = statistics.median(whole), statistics.median(stream), statistics.median(cpu)
    print(f"migrate {content}: stream {', '.join(f'{g:.3f}' for g in stream)} GB/s, median {m_stream:.3f} = "
          f"{m_stream / tls_gbs:.0%} of tlsStream (target >= 90%); whole migration (handshakes, commit, destroy of "
          f"the source copy included) median {m_whole:.3f} GB/s = {m_whole / tls_gbs:.0%}; downtime "
          f"{', '.join(r[4] for r in measured)} ms; CPU {m_cpu:.3f} s per GB"
          + (f" = {m_cpu / float(tls_cpu.group(1)):.2f}x tlsStream's" if tls_cpu else "")
          + (f"; stream alone CPU median {statistics.median(scpu):.3f} s per GB"
             + (f" = {statistics.median(scpu) / float(tls_cpu.group(1)):.2f}x tlsStream's" if tls_cpu else "") if scpu else ""))
heaps = re.findall(r'# heap \(both hosts, max (\d+) MiB\): live (\d+) MiB after GC, peak (\d+) MiB', text, re.M)
if heaps:
    print(f"heap, both daemons in one JVM of max {heaps[0][0]} MiB: live after GC <= {max(int(h[1]) for h in heaps)} MiB, "
          f"peak incl. garbage <= {max(int(h[2]) for h in heaps)} MiB (target: < 256 MiB each)")
print(f"full JMH output: {sys.argv[1]}")
PY
