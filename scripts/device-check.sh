#!/usr/bin/env bash
# The prepared check for a machine with a GPU and no network (issue 14): build here, carry the
# binaries, the assets and the peers' wheels there, run there, one report file back.
#
#   scripts/device-check.sh prepare [DIR]        # here: build and stage into DIR (default .device-check/)
#   scripts/device-check.sh run [DIR] [OUT_DIR]  # there, in the repository root: write OUT_DIR/report.md
#                                                # (OUT_DIR defaults to $OUT, else device-report/)
#
# `prepare` builds `glimpse` and the GPU test binary in release mode, strips them, packs them with
# every tracked file under assets/ into DIR/bundle.tar.xz (76 MB of models and goldens pack to about
# 50), downloads Zennit's and Captum's wheels (pure Python; PyTorch and torchvision must be on the
# GPU machine) and the Debian packages of the Vulkan loader and libglvnd (the GPU machine may have a
# driver but neither; NVIDIA's Vulkan driver needs libGLdispatch), into DIR (ignored by git through
# .git/info/exclude). `run` unpacks the bundle, the packages (as root) and the wheels (into
# /tmp/site), and runs, each step under its own time limit (under 8 minutes in all), the benches
# first so that a GPU test that loses the device costs no figures: `glimpse info`; `glimpse tune`
# on VGG16 at batch 16 (every kernel family's variants timed, the fastest cached in
# OUT_DIR/kernel-cache/ and used by every later step but the per-flavour ones); `glimpse bench
# --methods` (LeNet, the fixture ResNet, VGG16 and EfficientNet-Lite0 at batch 1 and 16, kernel
# table, matmul ceiling, gradient family); Zennit EpsilonPlusFlat on PyTorch with CUDA on the same
# card as PyTorch runs it by default (cuDNN convolutions in TF32) and in strict fp32 (glimpse's
# arithmetic); Captum's gradient family; the GPU tests (on a failure the golden tests again under
# the other two flavours); VGG16 batch 16 per kernel flavour and with Winograd off. On a machine
# where PyTorch sees no GPU the peers run on the CPU.
# For a trial on a machine without a GPU:
#   SKIP_TESTS=1 SKIP_FLAVOURS=1 BENCH_MODELS=lenet PEER_MODELS=lenet (SKIP_PEERS=1: no peers).
#
# The GPU test binary reads the assets at the path it was built in; `run` links that path to the
# repository root when they differ. With this workplace's device tool the tracked tree (about 79 MB,
# most of it assets/) is over the 64 MiB that may travel, so the tool is called from a throwaway
# branch that drops assets/ and docs/ (`git switch -c device-run && git rm -rq assets docs &&
# git commit -qm 'device run: no assets'`), with `carry: [".device-check"]`; back on main after.
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
    strip "$dir/bin/glimpse" "$dir/bin/gpu-tests"
    pwd >"$dir/built_in"
    { git ls-files assets; echo "$dir/bin"; } | XZ_OPT='-9 -T0' tar -cJf "$dir/bundle.tar.xz" -T -
    rm -rf "$dir/bin"
    python3 -m pip download -q --no-deps --only-binary=:all: -d "$dir/wheels" zennit==0.5.1 captum==0.9.0
    (cd "$dir/debs" && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 \
        libgles2 >/dev/null)
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
    step_rc=$rc
    tail -n 150 "$out/step.log" >>"$report"
    { echo "## $title"; cat "$out/step.log"; } >>"$out/full.log"
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
    # The Vulkan loader and libglvnd (NVIDIA's Vulkan driver is libGLX_nvidia, which needs
    # libGLdispatch): a machine with the driver mounted may have neither.
    if [ "$(id -u)" = 0 ]; then
        for f in "$dir"/debs/*.deb; do dpkg -x "$f" /; done
        ldconfig
    fi
    local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    [ -f "$icd" ] && export VK_DRIVER_FILES=$icd
    local egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
    [ -f "$egl" ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$egl
    # Python's tarfile, since the GPU machine may have no xz.
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(".", filter="tar")' \
        "$dir/bundle.tar.xz"
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
    local zennit=${ZENNIT_MODELS:-$peers,efficientnet_lite0} k
    export GLIMPSE_CACHE_DIR="$out/kernel-cache"
    step "glimpse info" 30 "$dir/bin/glimpse" info
    [ "$step_rc" = 0 ] || step "Vulkan loader diagnostics" 30 sh -c "ldconfig -p | grep -E 'vulkan|GLdispatch|nvidia';
            ls -l /usr/local/nvidia/share/vulkan/icd.d /usr/share/vulkan/icd.d /etc/vulkan/icd.d;
            VK_LOADER_DEBUG=error,warn,driver $dir/bin/glimpse info"
    step "glimpse tune (VGG16, batch 16)" 60 "$dir/bin/glimpse" tune --model vgg16 --batch 16 \
        --reps 3
    step "glimpse bench (EpsilonPlusFlat)" 120 "$dir/bin/glimpse" bench --models "$models" \
        --batches 1,16 --methods
    if [ -z "${SKIP_PEERS:-}" ]; then
        step "Zennit EpsilonPlusFlat (PyTorch defaults)" 60 python3 benches/peers/zennit_bench.py \
            --device "$device" --models "$zennit" --batches 1,16 --reps 5
        [ "$device" = cpu ] || step "Zennit EpsilonPlusFlat (strict fp32)" 40 \
            python3 benches/peers/zennit_bench.py --device "$device" --strict-fp32 \
            --models "$peers" --batches 1,16 --reps 5
        step "Captum" 50 python3 benches/peers/captum_bench.py --device "$device" \
            --models "$peers" --batches 1,16 --reps 3
    fi
    if [ -z "${SKIP_TESTS:-}" ]; then
        step "GPU tests" 120 env GLIMPSE_TUNE=off "$dir/bin/gpu-tests" --test-threads 16
        # A failure that follows the device rather than the flavor is the driver's rounding.
        if [ "$step_rc" != 0 ]; then
            for k in subgroup registers; do
                step "golden tests, $k kernels" 60 env GLIMPSE_TUNE=off GLIMPSE_KERNELS=$k \
                    "$dir/bin/gpu-tests" \
                    golden_ --test-threads 16
            done
        fi
    fi
    if [ -z "${SKIP_FLAVOURS:-}" ]; then
        for k in tiled subgroup registers; do
            step "VGG16 batch 16, $k kernels" 20 env GLIMPSE_KERNELS=$k "$dir/bin/glimpse" bench \
                --models vgg16 --batches 16 --no-kernels
        done
        step "VGG16 batch 16, Winograd off" 20 env GLIMPSE_WINOGRAD=0 "$dir/bin/glimpse" bench \
            --models vgg16 --batches 16 --no-kernels
    fi
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
