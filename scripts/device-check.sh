#!/usr/bin/env bash
# The prepared check for a machine with a GPU and no network (issue 14): build here, carry the
# binaries and the peers' wheels there, run there, one report file back.
#
#   scripts/device-check.sh prepare [DIR]        # here: build and stage into DIR (default .device-check/)
#   scripts/device-check.sh run [DIR] [OUT_DIR]  # there, in the repository root: write OUT_DIR/report.md
#                                                # (OUT_DIR defaults to $OUT, else device-report/)
#
# `prepare` builds `glimpse` and the GPU test binary in release mode, downloads Zennit's and
# Captum's wheels (pure Python; PyTorch and torchvision must be on the GPU machine) and the Vulkan
# loader's Debian packages (the GPU machine may have a driver but no loader), and writes them to DIR
# (ignored by git through .git/info/exclude). `run` unpacks the loader if it is missing, installs the
# wheels into /tmp/site, and runs, each step under its own time limit (about 8 minutes in all):
#   `glimpse info`; the GPU tests; `glimpse bench` (LeNet, the fixture ResNet, VGG16 and
#   EfficientNet-Lite0 at batch 1 and 16, kernel table and matmul ceiling); Zennit EpsilonPlusFlat
#   and Captum's gradient family on PyTorch with CUDA on the same card (benches/peers, --device
#   cuda; on the CPU where PyTorch sees no GPU).
# For a trial on a machine without a GPU: SKIP_TESTS=1 BENCH_MODELS=lenet PEER_MODELS=lenet.
#
# The GPU test binary reads the assets at the path it was built in; `run` links that path to the
# repository root when they differ. With this workplace's device tool, the working tree travels
# with DIR (`carry: [".device-check"]`); the tool limits what travels to 64 MiB, and the tracked
# tree alone is about 79 MB (goldens and models), so the goldens must be left out first.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
dir=${2:-.device-check}

prepare() {
    mkdir -p "$dir/bin" "$dir/wheels" "$dir/debs"
    grep -qxF "/$dir/" .git/info/exclude 2>/dev/null || echo "/$dir/" >>.git/info/exclude
    cargo build --release --bin glimpse
    local tests
    tests=$(cargo test --release --test gpu --no-run 2>&1 |
        sed -n 's/.*Executable tests\/gpu\/main.rs (\(.*\))/\1/p' | tail -n 1)
    [ -n "$tests" ] || { echo "device-check: no GPU test binary was built" >&2; exit 1; }
    cp target/release/glimpse "$dir/bin/glimpse"
    cp "$tests" "$dir/bin/gpu-tests"
    pwd >"$dir/built_in"
    python3 -m pip download -q --no-deps --only-binary=:all: -d "$dir/wheels" zennit==0.5.1 captum==0.9.0
    (cd "$dir/debs" && apt-get download libvulkan1 >/dev/null)
    du -sh "$dir"
}

# One step of the report: a heading, the command's output (its tail when long), its time.
step() {
    local title=$1 limit=$2
    shift 2
    local t0=$SECONDS rc=0
    {
        echo
        echo "## $title"
        echo
        echo '```'
    } >>"$report"
    timeout "$limit" "$@" >"$out/step.log" 2>&1 || rc=$?
    tail -n 60 "$out/step.log" >>"$report"
    {
        echo '```'
        echo
        echo "(exit $rc after $((SECONDS - t0)) s; limit $limit s)"
    } >>"$report"
    echo "device-check: $title: exit $rc after $((SECONDS - t0)) s"
}

run() {
    out=${3:-${OUT:-device-report}}
    mkdir -p "$out"
    report="$out/report.md"
    if ! ldconfig -p 2>/dev/null | grep -q libvulkan && [ "$(id -u)" = 0 ]; then
        for f in "$dir"/debs/*.deb; do dpkg -x "$f" /; done
        ldconfig
    fi
    local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    [ -f "$icd" ] && export VK_DRIVER_FILES=$icd
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site "$dir"/wheels/*.whl
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
    local built_in
    built_in=$(cat "$dir/built_in")
    if [ "$built_in" != "$(pwd)" ] && [ ! -e "$built_in" ]; then
        mkdir -p "$(dirname "$built_in")"
        ln -s "$(pwd)" "$built_in"
    fi
    local device=cpu
    python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' && device=cuda
    {
        echo "# glimpse device check"
        echo
        echo "$(date -u) on $(uname -n); $(nvidia-smi -L 2>/dev/null | head -n 1 || echo 'no nvidia-smi')"
        echo "PyTorch peers on: $device"
    } >"$report"
    local models=${BENCH_MODELS:-lenet,resnet,vgg16,efficientnet-lite0}
    local peers=${PEER_MODELS:-lenet,resnet,vgg16}
    step "glimpse info" 60 "$dir/bin/glimpse" info
    [ -n "${SKIP_TESTS:-}" ] || step "GPU tests" 240 "$dir/bin/gpu-tests"
    step "glimpse bench (EpsilonPlusFlat)" 180 "$dir/bin/glimpse" bench --models "$models" --batches 1,16
    step "Zennit EpsilonPlusFlat" 60 python3 benches/peers/zennit_bench.py --device "$device" \
        --models "$peers" --batches 1,16 --reps 5
    step "Captum" 60 python3 benches/peers/captum_bench.py --device "$device" \
        --models "$peers" --batches 1,16 --reps 3
    rm -f "$out/step.log"
    echo "device-check: wrote $report"
}

case $mode in
prepare) prepare ;;
run) run "$@" ;;
*)
    sed -n '2,8p' "$0" >&2
    exit 2
    ;;
esac
