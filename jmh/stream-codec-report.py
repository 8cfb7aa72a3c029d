#!/usr/bin/env python3
"""Summarise a StreamCodec JMH JSON result: GB/s of wall time and per CPU-second, and each codec path as a ratio
of its copy-only baseline measured in the same run. Usage: stream-codec-report.py RESULT.json"""
import json
import sys

rows = {}
for r in json.load(open(sys.argv[1])):
    name = r["benchmark"].rsplit(".", 1)[1]
    content = r["params"]["content"]
    sec = r["secondaryMetrics"]
    moved = sec["bytes"]["score"]
    cpu = sec["cpuNanos"]["score"]
    ops = r["primaryMetric"]["score"]
    wall = ops * int(r["params"]["guestMiB"]) * 2**20 / 1e9
    rows[(name, content)] = (wall, moved / cpu if cpu else float("nan"))

print("%-14s %-7s %12s %14s %16s" % ("benchmark", "content", "GB/s (wall)", "GB/s per CPU", "vs baseline (CPU)"))
for (name, content), (wall, cpu) in sorted(rows.items()):
    base = rows.get((name + "Baseline", content)) if not name.endswith("Baseline") else None
    ratio = "%.2f" % (cpu / base[1]) if base else ""
    print("%-14s %-7s %12.2f %14.2f %16s" % (name, content, wall, cpu, ratio))
