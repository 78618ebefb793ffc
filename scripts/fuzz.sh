#!/usr/bin/env bash
# Fuzzes glimpse's file readers with cargo-fuzz (libFuzzer, AddressSanitizer, nightly Rust).
#
#   scripts/fuzz.sh onnx_loader 600     # one target for 600 s
#   scripts/fuzz.sh npy_reader 600
#   scripts/fuzz.sh all 600             # each target in turn, 600 s each
#
# Extra arguments after SECONDS go to libFuzzer (e.g. -jobs=2, -seed=1).
#
# The corpus lives in fuzz/corpus/TARGET (git-ignored): seeded at each start from the shipped
# assets (the small .onnx models; the small .npy files), fuzz/seeds/TARGET and every committed
# regression input. Each crash, timeout or out-of-memory input libFuzzer writes is copied into
# tests/fuzz_regressions/TARGET/, which `cargo test --test cpu fuzz_regressions` replays; fix the
# bug, commit the file. Exit status: 0 when no target found anything, 1 otherwise.
set -euo pipefail

cd "$(dirname "$0")/.."

usage() {
    echo "usage: $0 onnx_loader|npy_reader|all SECONDS [libFuzzer args...]" >&2
    exit 2
}
[ $# -ge 2 ] || usage
WHAT=$1
SECONDS_EACH=$2
shift 2
[[ $SECONDS_EACH =~ ^[0-9]+$ ]] || usage
case $WHAT in
    all) TARGETS=(onnx_loader npy_reader) ;;
    onnx_loader | npy_reader) TARGETS=("$WHAT") ;;
    *) usage ;;
esac

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

# Largest input libFuzzer builds; seeds larger than this are not copied (libFuzzer would cut
# them, and a cut protobuf or .npy is just one more malformed file).
max_len() {
    case $1 in
        onnx_loader) echo 8192 ;;
        npy_reader) echo 4096 ;;
    esac
}

seed() {
    local target=$1 corpus=$2 limit
    limit=$(max_len "$target")
    mkdir -p "$corpus"
    local files=()
    case $target in
        onnx_loader) mapfile -t files < <(find assets -name '*.onnx' -size -"$((limit + 1))"c | sort) ;;
        npy_reader) mapfile -t files < <(find assets tests -name '*.npy' -size -"$((limit + 1))"c | sort) ;;
    esac
    for dir in "fuzz/seeds/$target" "tests/fuzz_regressions/$target"; do
        [ -d "$dir" ] && mapfile -t -O "${#files[@]}" files < <(find "$dir" -type f | sort)
    done
    # Named by content, as libFuzzer names its own: the same seed is never copied twice.
    local f
    for f in "${files[@]}"; do
        cp "$f" "$corpus/seed-$(sha1sum "$f" | cut -c1-40)"
    done
    echo "${#files[@]}"
}

echo "== cargo +nightly fuzz build" >&2
for target in "${TARGETS[@]}"; do
    cargo +nightly fuzz build "$target" >&2
done

status=0
for target in "${TARGETS[@]}"; do
    corpus=fuzz/corpus/$target
    artifacts=fuzz/artifacts/$target
    mkdir -p "$artifacts"
    seeds=$(seed "$target" "$corpus")
    log=fuzz/artifacts/$target.log
    before=$(find "$artifacts" -type f | sort)
    echo "== $target: $SECONDS_EACH s, $seeds seeds, corpus $corpus, log $log" >&2
    set +e
    cargo +nightly fuzz run "$target" "$corpus" -- \
        -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=10 \
        -max_len="$(max_len "$target")" -print_final_stats=1 "$@" 2>&1 | tee "$log" |
        grep -E --line-buffered '^(#[0-9]+[[:space:]]+(INITED|DONE|pulse)|Done [0-9]+ runs|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written|thread .* panicked)' >&2
    rc=${PIPESTATUS[0]}
    set -e

    stat() { grep -oE "^stat::$1: +[0-9]+" "$log" | tail -n 1 | grep -oE '[0-9]+$' || echo "?"; }
    execs=$(stat number_of_executed_units)
    rate=$(stat average_exec_per_sec)
    peak=$(stat peak_rss_mb)
    # libFuzzer's own clock ("Done N runs in S second(s)"), not counting the build.
    elapsed=$(grep -oE '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1 | grep -oE '[0-9]+ second' | grep -oE '[0-9]+' || echo "?")
    size=$(find "$corpus" -type f | wc -l)
    # libFuzzer's own count: the inputs it keeps for the coverage they add.
    kept=$(grep -oE '^#[0-9]+[[:space:]]+DONE .*corp: [0-9]+/[0-9A-Za-z]+' "$log" | tail -n 1 | grep -oE '[0-9]+/[0-9A-Za-z]+$' || echo "?")

    found=0
    mkdir -p "tests/fuzz_regressions/$target"
    while IFS= read -r f; do
        [ -n "$f" ] || continue
        grep -qxF "$f" <<<"$before" && continue
        case $(basename "$f") in
            crash-* | timeout-* | oom-* | leak-*)
                cp "$f" "tests/fuzz_regressions/$target/"
                echo "   found: $f -> tests/fuzz_regressions/$target/$(basename "$f")" >&2
                found=$((found + 1))
                ;;
        esac
    done < <(find "$artifacts" -type f | sort)

    echo "== $target: ran ${elapsed} s, executions $execs ($rate exec/s), corpus $size files ($kept kept by libFuzzer), peak RSS ${peak} MB, new crashes/timeouts/OOMs $found (libFuzzer exit $rc)"
    if [ "$found" -gt 0 ] || [ "$rc" -ne 0 ]; then
        status=1
    fi
done
exit $status
