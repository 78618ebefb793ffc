#!/usr/bin/env bash
# A real Slurm job array on this machine: a one-node cluster (munged, slurmctld, slurmd) in a
# temporary folder, `sbatch --array=0-3 --wait` of `glimpse explain` (each task finds its shard
# in SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT, no --shard flag), `glimpse merge`, and a
# byte-for-byte comparison with a one-process run. Installs Debian's slurm-wlm and munge if they
# are missing (needs root). Exits non-zero on any failure or difference.
#
# usage: scripts/slurm_test.sh PATH/TO/glimpse
set -euo pipefail

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
    echo "usage: $0 PATH/TO/glimpse (an executable)" >&2
    exit 2
fi
glimpse=$(realpath "$1")
root=$(realpath "$(dirname "$0")/..")
model="$root/assets/models/lenet_mnist.onnx"
tasks=4
# Run inside a job or pod, the one-process run would otherwise take a shard of its own.
unset SLURM_ARRAY_TASK_ID SLURM_ARRAY_TASK_MIN SLURM_ARRAY_TASK_COUNT JOB_COMPLETION_INDEX
# Away from Slurm's default ports, so a cluster this machine may run is left alone.
port=${SLURM_TEST_PORT:-16817}

missing() {
    for c in munged slurmctld slurmd sbatch sinfo; do command -v "$c" >/dev/null || return 0; done
    return 1
}
if missing; then
    if [ "$(id -u)" != 0 ]; then
        echo "slurm_test: slurm-wlm and munge are missing and only root can install them" >&2
        exit 1
    fi
    echo "slurm_test: installing slurm-wlm and munge" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq slurm-wlm munge >/dev/null || true
    if missing; then
        echo "slurm_test: could not install slurm-wlm and munge (apt-get install -y slurm-wlm munge)" >&2
        exit 1
    fi
fi

work=$(mktemp -d /tmp/glimpse-slurm.XXXXXX)
chmod 755 "$work"
pids=()
reason=""
fail() {
    reason="$*"
    exit 1
}
stop() {
    local rc=$?
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ "$rc" != 0 ]; then
        for log in "$work"/*.log "$work"/job/*.out; do
            [ -f "$log" ] && { echo "--- $log"; tail -n 40 "$log"; }
        done >&2
        echo "slurm_test: FAILED (rc $rc): ${reason:-a command above failed}; files in $work" >&2
    else
        rm -rf "$work"
    fi
    exit "$rc"
}
trap stop EXIT
trap 'exit 143' TERM INT

# munge with its own key and socket, so that no system munged is needed or disturbed.
mkdir -p "$work/munge" "$work/spool" "$work/state" "$work/job"
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 711 "$work/munge"
chmod 400 "$work/munge/munge.key"
socket="$work/munge/munge.socket"
munged --foreground --force --key-file="$work/munge/munge.key" --socket="$socket" \
    --pid-file="$work/munge/munged.pid" --seed-file="$work/munge/munged.seed" \
    --log-file="$work/munged.log" >>"$work/munged.log" 2>&1 &
pids+=($!)

host=$(hostname)
# What slurmd detects, so the node is not drained for claiming more memory than it has.
memory=$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -n1)
[ -n "$memory" ] || memory=$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)
export SLURM_CONF="$work/slurm.conf"
cat >"$SLURM_CONF" <<EOF
ClusterName=glimpse-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MailProg=/bin/true
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

for _ in $(seq 50); do [ -S "$socket" ] && break; sleep 0.1; done
[ -S "$socket" ] || fail "munged did not start"
# In the foreground (-D), so that their ids are known here; their output goes to the logs.
slurmctld -D -i -f "$SLURM_CONF" >>"$work/slurmctld.log" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" >>"$work/slurmd.log" 2>&1 &
pids+=($!)
state=""
for _ in $(seq 120); do
    state=$(sinfo -h -N -n "$host" -o %T 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 0.5
done
if [ "$state" != idle ]; then
    fail "node $host is '${state:-unreachable}', not idle, after 60 s"
fi

# A handful of digits in sub-folders, and a one-process run to compare with.
inputs="$work/digits"
mkdir -p "$inputs/a" "$inputs/b/c"
cp "$root"/assets/images/mnist_{0,1,2}_*.png "$inputs/a/"
cp "$root"/assets/images/mnist_{3,4,5}_*.png "$inputs/b/c/"
cp "$root"/assets/images/mnist_0_label3.png "$inputs/b/zero.png"
"$glimpse" explain --model "$model" --batch 4 --out "$work/one" "$inputs" >/dev/null

cat >"$work/job/explain.sh" <<EOF
#!/bin/bash
exec "$glimpse" explain --model "$model" --batch 4 --out "$work/out" "$inputs"
EOF
chmod +x "$work/job/explain.sh"
# --wait: sbatch returns when every task has, with the highest exit code among them.
sbatch --wait --array=0-$((tasks - 1)) --job-name=glimpse-explain --chdir="$work" \
    --output="$work/job/task-%a.out" --ntasks=1 --cpus-per-task=1 "$work/job/explain.sh"

for i in $(seq 0 $((tasks - 1))); do
    shard=$(printf 'shard-%04d-of-%04d' "$i" "$tasks")
    [ -s "$work/out/$shard/summary.jsonl" ] || fail "task $i wrote no $shard"
done
"$glimpse" merge --out "$work/merged" "$work/out"
if ! diff -r "$work/one" "$work/merged"; then
    fail "the merged run differs from the one-process run"
fi
echo "slurm_test: $tasks Slurm array tasks merged into a run identical to one process ($(wc -l <"$work/merged/summary.jsonl") inputs)"
