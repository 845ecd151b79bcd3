"""Histograms and samples: the artifacts a run stores beside its metrics, read for the board.

Formats are docs/telemetry.md's:
- `histograms/step_{step:08d}.json`: `{"step", "grad_norm", "relu_layers", "tensors":
  {"<kind>/<name>": {"edges", "counts", "mean", "std", "min", "max", "frac_zero",
  "frac_nonfinite"}}}`;
- `samples/epoch_{epoch:04d}.png`, `samples/confusion_epoch_{epoch:04d}.json|.png`.

MLflow has no native histograms; the board turns the files into one heatmap per
tensor (bins × step), with the range-check flags (tracker/range_checks.py) each tensor
raised. `histogram_cells` and `flags_over_time` are pure so they are tested without a store.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from tracker import range_checks
from tracker.store import Store

HIST_DIR = "histograms"
SAMPLES_DIR = "samples"
MAX_HIST_STEPS = 60  # histogram files read for one heatmap, evenly spread, first and last kept

_HIST_RE = re.compile(r"step_(\d+)\.json$")
_SAMPLE_RE = re.compile(r"epoch_(\d+)\.png$")


def _list(store: Store, run_id: str, path: str) -> list[str]:
    try:
        return [a.path for a in store.client.list_artifacts(run_id, path) if not a.is_dir]
    except Exception:  # noqa: BLE001 - a run without artifacts (or a missing dir) has none
        return []


def histogram_steps(store: Store, run_id: str) -> list[tuple[int, str]]:
    """(step, artifact path) of every histogram file of the run, by step."""
    out = []
    for path in _list(store, run_id, HIST_DIR):
        m = _HIST_RE.search(path)
        if m:
            out.append((int(m.group(1)), path))
    return sorted(out)


def spread(items: list, k: int) -> list:
    """At most `k` items evenly spread over the list, first and last always kept."""
    if len(items) <= k:
        return list(items)
    if k == 1:
        return [items[-1]]
    idx = sorted({round(i * (len(items) - 1) / (k - 1)) for i in range(k)})
    return [items[i] for i in idx]


def _load_json(store: Store, run_id: str, path: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        local = store.client.download_artifacts(run_id, path, tmp)
        return json.loads(Path(local).read_text())


def _load_bytes(store: Store, run_id: str, path: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        local = store.client.download_artifacts(run_id, path, tmp)
        return Path(local).read_bytes()


def load_histograms(store: Store, run_id: str, max_steps: int = MAX_HIST_STEPS) -> list[dict]:
    """The run's histogram files (at most `max_steps`, spread over the run), oldest first."""
    return [_load_json(store, run_id, path) for _, path in spread(histogram_steps(store, run_id), max_steps)]


def histogram_cells(histograms: list[dict], tensor: str) -> list[dict]:
    """Heatmap cells of one tensor: a rectangle per (step, bin) with its count.

    A cell spans from its step to the next histogram's step (the last one gets the
    previous gap), and from the bin's low edge to its high edge: bins may move between
    steps as the weights move, so each column keeps its own edges.
    """
    steps = [h["step"] for h in histograms if tensor in h.get("tensors", {})]
    gaps = [b - a for a, b in zip(steps, steps[1:], strict=False)] or [1]
    cells = []
    for i, h in enumerate(h for h in histograms if tensor in h.get("tensors", {})):
        t = h["tensors"][tensor]
        step = h["step"]
        width = gaps[min(i, len(gaps) - 1)] or 1
        for lo, hi, count in zip(t["edges"], t["edges"][1:], t["counts"], strict=False):
            cells.append({"step": step, "step_end": step + width, "low": lo, "high": hi, "count": count})
    return cells


def tensor_names(histograms: list[dict]) -> list[str]:
    """Every `<kind>/<name>` that appears in any histogram file, in first-seen order."""
    seen: dict[str, None] = {}
    for h in histograms:
        for name in h.get("tensors", {}):
            seen.setdefault(name, None)
    return list(seen)


def flags_over_time(histograms: list[dict], tensor: str) -> dict[str, int]:
    """For each flag the range checks raise on a tensor: the first step it was raised at.

    The checks are tracker/range_checks.py's, the ones training ran on the same snapshots,
    so the board's verdict per step is training's; a run-wide flag (exploding_grad, a
    global norm) is shown on the gradient it names.
    """
    first: dict[str, int] = {}
    for h in sorted(histograms, key=lambda h: h["step"]):
        for flag in range_checks.check_snapshot(h):
            if flag.tensor == tensor:
                first.setdefault(flag.name, flag.step)
    return first


def sample_epochs(store: Store, run_id: str) -> list[int]:
    """Epochs that have a samples grid, in order."""
    out = []
    for path in _list(store, run_id, SAMPLES_DIR):
        m = _SAMPLE_RE.search(path)
        if m and "/confusion_" not in path and not path.split("/")[-1].startswith("confusion_"):
            out.append(int(m.group(1)))
    return sorted(out)


def load_samples(store: Store, run_id: str, epoch: int) -> dict:
    """An epoch's samples grid (PNG bytes) and confusion matrix (dict), where they exist."""
    out: dict = {"grid": None, "confusion": None, "confusion_png": None}
    paths = set(_list(store, run_id, SAMPLES_DIR))
    grid = f"{SAMPLES_DIR}/epoch_{epoch:04d}.png"
    conf = f"{SAMPLES_DIR}/confusion_epoch_{epoch:04d}.json"
    conf_png = f"{SAMPLES_DIR}/confusion_epoch_{epoch:04d}.png"
    if grid in paths:
        out["grid"] = _load_bytes(store, run_id, grid)
    if conf in paths:
        out["confusion"] = _load_json(store, run_id, conf)
    if conf_png in paths:
        out["confusion_png"] = _load_bytes(store, run_id, conf_png)
    return out
