#!/usr/bin/env bash
# Run HERE (a machine with PyPI): the wheels the lent GPU machine lacks, in parts that each fit one
# `run` call's carry (64 MiB a call, working tree included), then the exact calls to make.
#
#   bash bench/gpu/bundle.sh                 # for the GPU machine (cp312), into .gpu-bundle/cp312/
#   PY_VERSION=3.11 CARRY_ALL=1 bash bench/gpu/bundle.sh   # a local check: every wheel, for this Python
#
# The GPU machine has torch (CUDA), pandas, scikit-learn and more (bench/gpu/image_packages.txt) but
# no mlflow, ray or streamlit, and no network: pip installs there with --no-index from these parts.
set -euo pipefail

# The GPU machine's Python: 3.12.3 as sessions saw it (KINDS.md: /opt/torch/.venv/bin/python3), and
# STACK.md carries Ray's cp312 wheel. To confirm at the cost of one short call: run `python3 -V`
# there; bench/gpu/suite.sh also prints it first and stops with one line if it is not this version.
PY_VERSION=${PY_VERSION:-3.12}
# 1: carry every wheel, also what the image has (a check on a machine with nothing installed).
CARRY_ALL=${CARRY_ALL:-0}
PART_MIB=${PART_MIB:-58}  # each part < 60 MiB: with the working tree (~2 MiB) under the 64 MiB a call carries
PYTHON=${PYTHON:-python3}  # any Python with pip >= 23 here: it only downloads
PLATFORMS=(manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64
           manylinux1_x86_64)
EXTRA=("pytest>=8.0" "pytest-xdist>=3.5")  # the suite's test runner (on the image; spares here)
# What the suite never runs there, left out so the set fits two parts: the board (streamlit, altair)
# and Ray's `default` extra (its dashboard: only the overnight queue's Ray Jobs need it).
LEAVE_OUT=${LEAVE_OUT:-"streamlit altair"}
RAY_EXTRAS=${RAY_EXTRAS:-tune}

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TAG="cp${PY_VERSION/./}"
OUT_REL=".gpu-bundle/$TAG"
OUT="$ROOT/$OUT_REL"
WORK="$ROOT/.gpu-bundle/.work-$TAG"
rm -rf "$OUT" "$WORK"
mkdir -p "$OUT" "$WORK/wheels"

# idealoop's own dependencies, from pyproject.toml (torch is the image's CUDA build: never carried).
mapfile -t DEPS < <("$PYTHON" - "$ROOT/pyproject.toml" "torch $LEAVE_OUT" "$RAY_EXTRAS" <<'EOF'
import re, sys, tomllib
leave_out, ray_extras = set(sys.argv[2].split()), sys.argv[3]
for dep in tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]:
    name = re.match(r"[A-Za-z0-9_.-]+", dep).group()
    if name not in leave_out:
        print(re.sub(r"^ray\[[^]]*\]", f"ray[{ray_extras}]", dep) if name == "ray" else dep)
EOF
)
TARGET=(--only-binary=:all: --python-version "$PY_VERSION" --implementation cp)
for p in "${PLATFORMS[@]}"; do TARGET+=(--platform "$p"); done

echo "bundle: resolving ${DEPS[*]} ${EXTRA[*]} for CPython $PY_VERSION (manylinux x86_64)"
"$PYTHON" -m pip install --dry-run --ignore-installed --quiet --report "$WORK/report.json" \
    "${TARGET[@]}" --target "$WORK/unused" "${DEPS[@]}" "${EXTRA[@]}" 2> >(grep -v "is ignored" >&2)
ALL=()
[ "$CARRY_ALL" = 1 ] && ALL=(--carry-all)
"$PYTHON" "$ROOT/bench/gpu/wheels.py" select "$WORK/report.json" "$ROOT/bench/gpu/image_packages.txt" \
    "${ALL[@]}" > "$WORK/pins.txt"
echo "bundle: $(grep -c ' missing$' "$WORK/pins.txt") missing on the image, $(grep -c ' spare$' "$WORK/pins.txt" || true) spares"
cut -d' ' -f1 "$WORK/pins.txt" > "$WORK/requirements.txt"
"$PYTHON" -m pip download --no-deps --quiet "${TARGET[@]}" -d "$WORK/wheels" -r "$WORK/requirements.txt" \
    2> >(grep -v "is ignored" >&2)
"$PYTHON" "$ROOT/bench/gpu/wheels.py" repack-ray "$WORK/wheels"
"$PYTHON" "$ROOT/bench/gpu/wheels.py" split "$WORK/wheels" "$OUT" --tag "$TAG" --part-mib "$PART_MIB" \
    --pins "$WORK/pins.txt"
rm -rf "$WORK"

parts=("$OUT"/part*)
n=${#parts[@]}
echo
echo "On the GPU machine, back to back (it is given back after ~30 s idle; files under /tmp survive"
echo "between warm calls, a fresh machine has none of them: then start again from call 1):"
for i in $(seq 1 "$n"); do
    cmd="bash bench/gpu/suite.sh stage $OUT_REL/part$i"
    [ "$i" = "$n" ] && cmd="$cmd && bash bench/gpu/suite.sh install"
    echo "  run(carry=[\"$OUT_REL/part$i\"], command=\"$cmd\", timeout_s=300)"
done
echo "  run(command=\"bash bench/gpu/suite.sh run\", timeout_s=580)   # the suite ends within 520 s"
