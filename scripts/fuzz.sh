#!/usr/bin/env bash
# Fuzzes wirecall with cargo-fuzz on the stable toolchain (no sanitizer: `-s none`).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 60; the targets default to all of fuzz/fuzz_targets/.
# Each target runs (one at a time, one worker) on a copy of its kept corpus,
# fuzz/corpus/<target>/, so the committed corpus does not grow. Prints, per target, the
# executions done; exits non-zero if any target crashed, timed out or ran out of memory,
# printing where the input that did it was written (fuzz/artifacts/<target>/).
#
# Built with `-O --debug-assertions`: optimized (the executions per second are what find
# bugs) but with overflow checks and debug_assert!s on, so that an arithmetic overflow on
# a length or an offset is a crash rather than a silently wrong value.
#
# Environment:
#   FUZZ_WORK_DIR  where the corpus copies go (default: a fresh temporary directory)
#   FUZZ_RSS_MB    libFuzzer's -rss_limit_mb (default 2048)
#   FUZZ_TIMEOUT   libFuzzer's -timeout, seconds per input (default 10)
#   WIRECALL_FUZZ_IGNORE_TASK_LEAKS  set: server_connection counts connections that leave
#                  tasks behind instead of failing (see fuzz/fuzz_targets/server_connection.rs)
set -euo pipefail

seconds="${1:-60}"
shift || true
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
    echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2
    exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fuzz_dir="$root/fuzz"
cd "$root"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cd "$fuzz_dir" && cargo fuzz list)
fi

# `-s none` keeps to stable Rust; libfuzzer-sys builds libFuzzer itself with the C++ compiler.
build_flags=(-s none -O --debug-assertions)

echo "== building ${targets[*]}"
(cd "$fuzz_dir" && cargo fuzz build "${build_flags[@]}")

work="${FUZZ_WORK_DIR:-$(mktemp -d -t wirecall-fuzz.XXXXXX)}"
rss="${FUZZ_RSS_MB:-2048}"
per_input="${FUZZ_TIMEOUT:-10}"
failed=()
summary=()

for target in "${targets[@]}"; do
    corpus="$work/corpus/$target"
    artifacts="$fuzz_dir/artifacts/$target"
    log="$work/$target.log"
    mkdir -p "$corpus" "$artifacts"
    if [ -d "$fuzz_dir/corpus/$target" ]; then
        cp -R "$fuzz_dir/corpus/$target/." "$corpus/"
    fi
    echo "== fuzzing $target for ${seconds}s (log: $log)"
    started=$(date +%s)
    status=0
    (cd "$fuzz_dir" && cargo fuzz run "${build_flags[@]}" "$target" "$corpus" -- \
        -max_total_time="$seconds" -rss_limit_mb="$rss" -timeout="$per_input" \
        -print_final_stats=1 -artifact_prefix="$artifacts/") >"$log" 2>&1 || status=$?
    wall=$(($(date +%s) - started))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    inputs=$(find "$corpus" -type f | wc -l)
    line="$target: ${execs:-?} executions, ${rate:-?} exec/s, ${wall}s, corpus ${inputs} inputs"
    if [ "$status" -ne 0 ]; then
        line="$line, FAILED (exit $status)"
        failed+=("$target")
        echo "-- $target failed; the end of its log:" >&2
        tail -n 40 "$log" >&2
        grep -h -o "Test unit written to .*" "$log" >&2 || true
        grep -h -o "^artifact_prefix=.*" "$log" >&2 || true
        echo "-- reproduce: (cd fuzz && cargo fuzz run ${build_flags[*]} $target <artifact>)" >&2
    fi
    echo "$line"
    summary+=("$line")
done

echo "== summary"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "== FAILED: ${failed[*]} (inputs under $fuzz_dir/artifacts/)" >&2
    exit 1
fi
