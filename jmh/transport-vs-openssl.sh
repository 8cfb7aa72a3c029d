#!/usr/bin/env bash
# TransportThroughput.tlsStream against OpenSSL itself, measured in the same invocation.
# 1. builds jmh/target/benchmarks.jar (when missing) and the C baseline jmh/target/tls_stream (gcc + libssl-dev),
# 2. runs the baseline (one TLS 1.3 stream, sender and receiver processes over loopback, 1 MiB writes),
# 3. runs JMH tlsStream and plainStream (heap -Xmx256m, set by the benchmark's @Fork),
# 4. runs the baseline again and prints tlsStream / mean(baseline).
# Extra arguments go to JMH (e.g. -i 5 -r 10); JMH_JAVA_OPTS goes to the JMH runner JVM (e.g. -Djmh.ignoreLock=true). BASELINE_MIB (default 2048) sets the baseline's transfer size;
# BASELINE_SUITE (default TLS_AES_128_GCM_SHA256, what xenhost's BoringSSL negotiates) its cipher suite.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
target="$here/target"
jar="$target/benchmarks.jar"
mib=${BASELINE_MIB:-2048}
suite=${BASELINE_SUITE:-TLS_AES_128_GCM_SHA256}

if [ ! -f "$jar" ]; then
  (cd "$root" && mvn -B -q -pl jmh -am package -DskipTests)
fi
mkdir -p "$target"
gcc -O2 -Wall -o "$target/tls_stream" "$here/baseline/tls_stream.c" -lssl -lcrypto
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
  -subj /CN=tls-stream-baseline -days 1 2>/dev/null

baseline() {
  "$target/tls_stream" "$work/cert.pem" "$work/key.pem" "$mib" "$suite" | tee -a "$work/baseline.txt"
}

echo "== OpenSSL baseline (before JMH)"
baseline
baseline
echo "== JMH"
java ${JMH_JAVA_OPTS:-} -jar "$jar" TransportThroughput -rf csv -rff "$work/jmh.csv" "$@" | tee "$work/jmh.txt"
echo "== OpenSSL baseline (after JMH)"
baseline
baseline

base=$(awk '{for (i = 1; i <= NF; i++) if ($i == "MB/s;") {s += $(i-1); n++}} END {printf "%.1f", s / n}' "$work/baseline.txt")
basecpu=$(awk '{for (i = 1; i <= NF; i++) if ($i == "CPU") {s += $(i+1); n++}} END {printf "%.3f", s / n}' "$work/baseline.txt")
tlscpu=$(awk '/# tlsStream CPU:/ {print $4}' "$work/jmh.txt")
plaincpu=$(awk '/# plainStream CPU:/ {print $4}' "$work/jmh.txt")
score() { awk -F, -v b="\"org.xenhost.jmh.TransportThroughput.$1\"" '$1 == b {printf "%.1f", $5}' "$work/jmh.csv"; }
tls=$(score tlsStream)
plain=$(score plainStream)
echo "== Summary (MB/s = 10^6 bytes/s)"
echo "OpenSSL baseline mean ($suite): $base MB/s, CPU $basecpu s per GB (sender + receiver processes)"
[ -n "$plain" ] && echo "plainStream (no TLS, ceiling): $plain MB/s, CPU ${plaincpu:-?} s per GB (whole JVM)"
if [ -n "$tls" ]; then
  echo "tlsStream: $tls MB/s, CPU ${tlscpu:-?} s per GB (whole JVM)"
  awk -v t="$tls" -v b="$base" 'BEGIN {printf "ratio tlsStream / OpenSSL throughput = %.2f (target >= 1.0)\n", t / b}'
  [ -n "$tlscpu" ] && awk -v t="$tlscpu" -v b="$basecpu" 'BEGIN {printf "ratio OpenSSL / tlsStream CPU per byte = %.2f (1.0 = as efficient as OpenSSL)\n", b / t}'
fi
