#!/usr/bin/env bash
# `make fuzz`: runs every cargo-fuzz target for FUZZ_SECONDS (default 60) each, on stable Rust
# (`-s none`: libFuzzer's coverage, no sanitizer), and prints executions and coverage per target.
#
# The corpus grows in fuzz/corpus/<target> (not committed); fuzz/seeds/<target> holds the
# committed starting inputs. A crash stops the run with libFuzzer's report, and the input is kept
# in fuzz/artifacts/<target>/ (reproduce: cargo fuzz run -s none <target> <file>); turn it into a
# regression test before fixing it.
set -euo pipefail

cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"
targets=(payload subscription mapping json)
export PATH="$PWD/.tools/bin:$PATH"

cargo fuzz build -s none
summary=()
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t"
    log="fuzz/artifacts/$t.log"
    mkdir -p fuzz/artifacts
    echo "fuzz: $t for ${seconds}s"
    if ! cargo fuzz run -s none "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$log" 2>&1; then
        grep -E "panicked|ERROR|SUMMARY|Test unit written" "$log" || tail -30 "$log"
        echo "fuzz: $t FAILED (full log: $log)"
        exit 1
    fi
    done_line=$(grep -E "^#[0-9]+\s+DONE" "$log" | tail -1)
    runs=$(sed -nE 's/^Done ([0-9]+) runs in ([0-9]+) second.*/\1/p' "$log" | tail -1)
    cov=$(sed -nE 's/.*cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+).*/\1/p' <<<"$done_line")
    ft=$(sed -nE 's/.*cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+).*/\2/p' <<<"$done_line")
    corp=$(sed -nE 's/.*cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+).*/\3/p' <<<"$done_line")
    execs=$(sed -nE 's/.*exec\/s: ([0-9]+).*/\1/p' <<<"$done_line")
    summary+=("| $t | ${seconds} | ${runs:-?} | ${execs:-?} | ${cov:-?} | ${ft:-?} | ${corp:-?} |")
done
echo
echo "| target | seconds | executions | exec/s | coverage (edges) | features | corpus |"
echo "|---|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${summary[@]}"
