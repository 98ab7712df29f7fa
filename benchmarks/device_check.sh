#!/usr/bin/env bash
# The GPU checks, for a machine with CUDA: one script, run from the repository root.
# Installs gdcli (wheels the machine lacks may be carried in .wheels/), runs the tests
# that need or touch CUDA, a few CLI runs on cuda, then the benchmarks with --device cuda.
# Each step is time-boxed so the whole fits in a few minutes; figures go to $OUT if set.
set -uo pipefail
OUT="${OUT:-/tmp/gdcli-device}"; mkdir -p "$OUT"
PY="${PYTHON:-python3}"
export MPLCONFIGDIR="$(mktemp -d)" NO_COLOR=1
step() { echo; echo "=== $*"; }

step setup
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
if compgen -G ".wheels/*.whl" >/dev/null; then "$PY" -m pip install -q --no-deps --no-index .wheels/*.whl; fi
"$PY" -m pip install -q --no-deps --no-build-isolation -e . 2>&1 | tail -1
"$PY" -c "import torch, gdcli; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'gdcli', gdcli.__version__)"

step "CUDA tests (device auto picks cuda here)"
# pytest-xdist spreads the tests over the machine's cores where it is installed (no extra brings it).
XDIST=$("$PY" -c "import xdist" 2>/dev/null && echo "-n 8" || true)
timeout 150 "$PY" -m pytest -q -p no:cacheprovider $XDIST tests/test_train.py tests/test_output_options.py \
  tests/test_stopping.py tests/test_schedules.py -k "cuda or device or stop or schedul or within or patience" 2>&1 | tail -15

step "CLI on cuda"
for args in "fit --device cuda" "fit --device cuda:0 --schedule onecycle --tol 1e-6 --patience 50 -q" \
            "sweep --device cuda --lr 1e-4:3e-2 --num 50 --tol 1e-5 --patience 50 --epochs 20000 -q --top 3" \
            "fit --device cuda:1"; do
  echo "\$ gdcli $args"; timeout 120 "$PY" -m gdcli $args 2>&1 | tail -12; echo "exit $?"
done

step "bench_stopping --device cuda"
PYTHONPATH=. timeout 120 "$PY" benchmarks/bench_stopping.py --device cuda --repeats 3 2>&1 | tee "$OUT/bench_stopping_cuda.txt" | tail -30

step "bench_scale --device cuda (epoch, sweep)"
PYTHONPATH=.:benchmarks timeout 170 "$PY" benchmarks/bench_scale.py --device cuda --sections epoch,sweep --skip-compile 2>&1 \
  | tee "$OUT/bench_scale_cuda.txt" | tail -45
