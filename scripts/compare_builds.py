#!/usr/bin/env python3
"""Two builds of `examples/bench_pipeline` side by side, rounds alternating, for the step tables
in BENCHMARKS.md (each step measured against the build before it on a noisy, shared machine):

    scripts/compare_builds.py OLD_BENCH_PIPELINE NEW_BENCH_PIPELINE FILE [ROUNDS]   (REPS=11)

Prints each build's medians (pipeline, decode, ceiling, pipeline / ceiling) and the median of the
per-round ratios new / old. Build the old one from a worktree, e.g.
`git worktree add /tmp/old REV && CARGO_TARGET_DIR=/tmp/old-target cargo build --profile profiling
--example bench_pipeline` in it.
"""

import json
import os
import statistics
import subprocess
import sys


def main() -> int:
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    old, new, path = sys.argv[1:4]
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    reps = os.environ.get("REPS", "11")
    runs: dict[str, list[dict]] = {old: [], new: []}
    for _ in range(rounds):
        for exe in (old, new):
            out = subprocess.run([exe, path, reps], capture_output=True, text=True, check=True).stdout
            runs[exe].append(json.loads(out))
    med = statistics.median
    for exe in (old, new):
        r = runs[exe]
        print(f"{exe}: pipeline {med(x['pipeline_ms'] for x in r):.1f} ms, decode {med(x['decode_ms'] for x in r):.1f} ms, "
              f"ceiling {med(x['ceiling_ms'] for x in r):.1f} ms, pipeline / ceiling "
              f"{med(x['pipeline_ms'] / x['ceiling_ms'] for x in r):.2f}x")
    ratio = med(n["pipeline_ms"] / o["pipeline_ms"] for o, n in zip(runs[old], runs[new]))
    print(f"pipeline new / old: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
