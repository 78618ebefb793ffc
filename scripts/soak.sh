#!/usr/bin/env bash
# The full soak: EXPLANATIONS (default 10,000) LeNet explanations in one process — LRP,
# gradient × input and Grad-CAM in turn, each plan built, run for 8 batches and dropped — with
# the process's resident memory, glimpse's device count and wgpu's allocator report printed after
# every round, and the first batch explained again at the end compared bit for bit.
#
#   scripts/soak.sh [EXPLANATIONS] [BATCH] [lenet|resnet]
#
# The log goes to out/soak/soak-MODEL-EXPLANATIONS.log (the table at its end is what BENCHMARKS.md
# quotes). Exit status 1 when the last explanation differs from the first.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
B=${2:-16}
MODEL=${3:-lenet}
mkdir -p out/soak
cargo build --release -p glimpse-cli --example soak
/usr/bin/time -v target/release/examples/soak "$N" "$B" "$MODEL" 2>&1 | tee "out/soak/soak-$MODEL-$N.log"
exit "${PIPESTATUS[0]}"
