#!/usr/bin/env bash
# Run THERE, on the lent GPU machine (PyTorch with CUDA, no mlflow/ray, no network), in the repo root:
#
#   bash bench/gpu/suite.sh stage DIR   # copy one carried part of bench/gpu/bundle.sh's wheels to /tmp
#   bash bench/gpu/suite.sh install     # a venv that sees the image's torch + the wheels + idealoop
#   bash bench/gpu/suite.sh run         # every GPU claim, one figure line each, JSON under $OUT
#   bash bench/gpu/suite.sh run sweep turnaround   # only these steps (a rerun with time left)
#
# bundle.sh prints the exact calls. Files under /tmp survive between back-to-back calls while the
# machine stays warm. `run` fits one 9-minute command: each step has its own `timeout`, and the
# whole run a budget (SUITE_BUDGET_S) that later steps shrink to. Without CUDA (a check anywhere
# else) `run` takes small CPU fallbacks of each step, so the suite itself is checked end to end.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STATE=${IDEALOOP_GPU_DIR:-/tmp/idealoop-gpu}   # outside the repo copy: survives warm calls
VENV=${IDEALOOP_GPU_VENV:-$STATE/venv}
PYTHON=${PYTHON:-python3}                      # the image's python3: the one that holds CUDA torch
BUDGET=${SUITE_BUDGET_S:-520}                  # `run` ends within this, whatever its steps do
WHEELS="$STATE/wheels"

die() { echo "suite: $*" >&2; exit 2; }

# The CPython tag of the interpreter the venv is (or will be) made from, e.g. cp312.
py_tag() {
    local py=$PYTHON
    [ -x "$VENV/bin/python" ] && py="$VENV/bin/python"
    "$py" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")'
}

stage() {
    local dir=${1:?usage: suite.sh stage DIR}
    [ -f "$dir/TAG" ] || die "$dir holds no part of bench/gpu/bundle.sh's wheels (no TAG file): was it carried?"
    echo "python: $("$PYTHON" -V 2>&1) at $(command -v "$PYTHON")"
    local want have
    want=$(cat "$dir/TAG")
    have=$(py_tag)
    [ "$want" = "$have" ] || die "the wheels are for $want but python here is $have: rerun bundle.sh with PY_VERSION=${have:2:1}.${have:3}"
    mkdir -p "$WHEELS"
    cp "$dir"/*.whl "$WHEELS"/ && cat "$dir/MANIFEST" >> "$STATE/MANIFEST"
    echo "staged $(ls "$dir"/*.whl | wc -l) wheels from $dir; $(ls "$WHEELS" | wc -l) in $WHEELS"
}

install() {
    [ -f "$STATE/MANIFEST" ] || die "no wheels staged in $WHEELS: run the stage calls first (a fresh machine has none)"
    if [ ! -x "$VENV/bin/python" ]; then
        "$PYTHON" -m venv --system-site-packages "$VENV" 2>/dev/null ||
            "$PYTHON" -m venv --without-pip --system-site-packages "$VENV" || die "cannot make a venv at $VENV"
    fi
    local vpy="$VENV/bin/python" site
    # The image's python3 is itself a venv: --system-site-packages reaches the Python under it, not
    # its site-packages (torch's). A .pth puts those after the venv's own, so the venv still wins.
    if ! "$vpy" -c "import torch" 2>/dev/null && "$PYTHON" -c "import torch" 2>/dev/null; then
        site=$("$vpy" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
        "$PYTHON" -c 'import site; print("\n".join(site.getsitepackages()))' > "$site/idealoop_image.pth"
    fi
    "$vpy" -c "import torch" 2>/dev/null || die "the venv at $VENV cannot import torch"
    local pip=("$vpy" -m pip)
    "$vpy" -m pip --version >/dev/null 2>&1 || pip=("$PYTHON" -m pip --python "$vpy")
    local missing=()
    while read -r kind whl; do
        [ "$kind" = missing ] && missing+=("$WHEELS/$whl")
    done < <(sort -u "$STATE/MANIFEST")  # a part staged twice (a retried call) counts once
    local opts=(--no-index --find-links "$WHEELS" --no-cache-dir --disable-pip-version-check -q)
    local log="$STATE/install.log"
    # Spares (packages the image has too) are taken only where the image's version does not fit.
    if ! "${pip[@]}" install "${opts[@]}" "${missing[@]}" pytest pytest-xdist >"$log" 2>&1; then
        echo "suite: pip could not resolve offline: $(grep -m1 -iE 'error|conflict' "$log")"
        echo "suite: installing the carried wheels as they are (--no-deps); pip check follows"
        "${pip[@]}" install "${opts[@]}" --no-deps "${missing[@]}" >>"$log" 2>&1 || { tail -5 "$log"; die "pip install failed"; }
    fi
    if ! "${pip[@]}" install "${opts[@]}" --no-deps --no-build-isolation -e "$ROOT" >>"$log" 2>&1; then
        site=$("$vpy" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
        echo "$ROOT" > "$site/idealoop_src.pth"  # the same, by hand: this checkout on the path
        echo "suite: idealoop put on the path by a .pth (pip -e failed: see $log)"
    fi
    "${pip[@]}" check 2>/dev/null | grep -v -E "requires (streamlit|altair)," | sed 's/^/pip check: /' | head -5
    "$vpy" - <<'EOF' || die "the venv does not import what the suite needs"
import mlflow, ray, torch, runners
gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device"
print(f"installed: mlflow {mlflow.__version__}, ray {ray.__version__}, torch {torch.__version__} ({gpu})")
EOF
}

# step NAME CAP_SECONDS COMMAND...: run it under `timeout`, log it, and record its figure.
step() {
    local name=$1 cap=$2
    shift 2
    if [ -n "$ONLY" ] && [[ " $ONLY " != *" $name "* ]]; then return; fi
    local left=$((BUDGET - (SECONDS - START)))
    local limit=$((cap < left - 5 ? cap : left - 5))
    local log="$LOGS/$name.log" rc t0=$SECONDS
    echo "-- $name (limit ${limit} s): $*"
    if [ "$limit" -lt 15 ]; then
        echo "skipped: ${left} s left of the suite's ${BUDGET} s" > "$log"
        rc=125
    else
        timeout -k 10 "$limit" "$@" > "$log" 2>&1
        rc=$?
    fi
    "$VPY" "$ROOT/bench/gpu/figures.py" "$name" "$log" "$rc" "$((SECONDS - t0))" "$OUT/suite.json" \
        --command "$*" | tee -a "$LOGS/figures.txt"
    cat "$log" >> "$OUT/suite.log"
}

run() {
    ONLY="$*"
    VPY="$VENV/bin/python"
    [ -x "$VPY" ] || die "no venv at $VENV: make the stage and install calls first (a fresh machine has none)"
    OUT=${OUT:-$STATE/out}
    LOGS="$STATE/logs"
    rm -rf "$LOGS" "$OUT/suite.json" "$OUT/suite.log"
    mkdir -p "$OUT" "$LOGS"
    START=$SECONDS
    export PYTHONPATH="$ROOT" PATH="$VENV/bin:$PATH" PYTHONUNBUFFERED=1 RAY_AUTH_MODE=disabled
    export MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false TQDM_DISABLE=1
    cd "$ROOT" || die "no $ROOT"
    echo "python: $("$VPY" -V 2>&1); $("$VPY" -c 'import torch; print("torch", torch.__version__)')"
    local cuda
    cuda=$("$VPY" -c 'import torch; print(int(torch.cuda.is_available()))')
    if [ "$cuda" = 1 ]; then
        nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null
    else
        echo "no CUDA device: the CPU fallback of every step (checks the suite, measures nothing)"
    fi
    step tests 150 "$VPY" -m pytest -q -n 0 -m gpu -p no:cacheprovider -rs \
        tests/runners/training/test_trainer_cuda.py tests/runners/stages/test_stages_cuda.py \
        tests/runners/cli/test_climb.py
    if [ "$cuda" = 1 ]; then
        step telemetry_digits 90 "$VPY" bench/telemetry_overhead.py --device cuda --modes bare,idealoop
        step telemetry_shapes 80 "$VPY" bench/telemetry_overhead.py --device cuda --task shapes --tile 8 \
            --epochs 2 --width 64 --depth 2 --modes bare,idealoop
        step gpu_fraction 110 "$VPY" bench/gpu_fraction.py --seconds 10
        step turnaround 110 "$VPY" bench/turnaround.py --device cuda --mode climb --max-concurrent 4
        step sweep 90 "$VPY" bench/gpu/sweep.py --num-samples 8 --gpus-per-trial 0.25 --max-concurrent 4
        step packed_seeds 120 "$VPY" bench/packed_seeds.py --device cuda --k 8 --k 32 --rounds 3
    else
        step telemetry_digits 90 "$VPY" bench/telemetry_overhead.py --device cpu --tile 2 --epochs 1 \
            --rounds 1 --modes bare,idealoop
        step telemetry_shapes 90 "$VPY" bench/telemetry_overhead.py --device cpu --task shapes --tile 1 \
            --epochs 1 --width 16 --depth 1 --rounds 1 --modes bare,idealoop
        step gpu_fraction 120 "$VPY" bench/gpu_fraction.py --smoke
        step turnaround 150 "$VPY" bench/turnaround.py --mode climb --num-samples 2 --seeds 1 \
            --max-iterations 2
        step sweep 120 "$VPY" bench/gpu/sweep.py --num-samples 2 --gpus-per-trial 0 --max-concurrent 2 \
            --max-iterations 2
        step packed_seeds 90 "$VPY" bench/packed_seeds.py --device cpu --k 2 --rounds 1 --steps 10
    fi
    echo
    echo "suite: $((SECONDS - START)) s; figures in $OUT/suite.json, every step's output in $OUT/suite.log"
    cat "$LOGS/figures.txt"
}

case "${1:-}" in
    stage) stage "${2:-}" ;;
    install) install ;;
    run) shift; run "$@" ;;
    *) die "usage: bash bench/gpu/suite.sh stage DIR | install | run" ;;
esac
