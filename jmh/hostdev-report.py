#!/usr/bin/env python3
"""Ratio for HostdevConcurrency: concurrent wall time vs the slowest single device, from the benchmark's output.

Usage: java -jar jmh/target/benchmarks.jar HostdevConcurrency ... | tee hostdev.txt
       python3 jmh/hostdev-report.py hostdev.txt

Reads the lines the benchmark prints for measured iterations only (warm-up lines come before the first
"Iteration" line of each benchmark): '# concurrent: W ms wall, C ms CPU' and '# slowest single device: S ms'.
Target: median concurrent <= 1.2 x median slowest single device.
"""
import re
import statistics
import sys


def measured(lines, pattern):
    """Values of `pattern` printed during measured iterations (after an 'Iteration N:' line)."""
    out, in_measure = [], False
    for line in lines:
        if line.startswith('# Benchmark:'):
            in_measure = False
        elif line.startswith('Iteration '):
            in_measure = True
        m = re.search(pattern, line)
        if m and in_measure:
            out.append(tuple(float(g) for g in m.groups()))
    return out


def main(path):
    lines = open(path, encoding='utf-8').read().splitlines()
    conc = measured(lines, r'^# concurrent: ([\d.]+) ms wall, ([\d.]+) ms CPU')
    slow = [s[0] for s in measured(lines, r'^# slowest single device: ([\d.]+) ms')]
    if not conc or not slow:
        sys.exit('no measured "# concurrent" or "# slowest single device" lines in ' + path
                 + ': run HostdevConcurrency.concurrent and .oneAtATime with at least one measured iteration')
    median_single = [s[0] for s in measured(lines, r'^# median single device: ([\d.]+) ms')]
    wall = [c[0] for c in conc]
    cpu = [c[1] for c in conc]
    print('concurrent wall ms   :', ' '.join(f'{w:.0f}' for w in wall), f'(median {statistics.median(wall):.0f})')
    print('concurrent CPU ms    :', ' '.join(f'{c:.0f}' for c in cpu), f'(median {statistics.median(cpu):.0f})')
    print('slowest single dev ms:', ' '.join(f'{s:.0f}' for s in slow), f'(median {statistics.median(slow):.0f})')
    if median_single:
        print('median single dev ms :', ' '.join(f'{s:.0f}' for s in median_single),
              f'(median {statistics.median(median_single):.0f})')
    ratio = statistics.median(wall) / statistics.median(slow)
    best = min(wall) / statistics.median(slow)
    print(f'ratio concurrent / slowest single: median {ratio:.2f}, best {best:.2f} (target <= 1.2: '
          + ('met' if ratio <= 1.2 else 'not met') + ')')
    if median_single:
        print(f'stricter, vs the median single device: {statistics.median(wall) / statistics.median(median_single):.2f}')


if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
