"""Histograms, samples and per-class values: the artifacts a run stores beside its metrics.

Formats are docs/telemetry.md's:
- `histograms/step_{step:08d}.json`: `{"step", "grad_norm", "relu_layers", "tensors":
  {"<kind>/<name>": {"edges", "counts", "mean", "std", "min", "max", "frac_zero",
  "frac_nonfinite"}}}`;
- `samples/epoch_{epoch:04d}.png`, `samples/confusion_epoch_{epoch:04d}.json|.png`;
- `metrics/per_class.jsonl`: one `{"epoch", "metric", "class", "value"}` a line (a task's
  slices too: metric `slice/<metric>`, class the slice's name).

Why artifacts and not metrics: MLflow's own UI lists every metric key of a run as a
column and a chart, so a run's few headline metrics (losses, the target, timings)
drowned among per-class F1s and per-tensor histogram summaries. Those live here, in
files the board reads. MLflow has no native histograms; the board turns the files into
one heatmap per tensor (bins × step), with the range-check flags
(tracker/range_checks.py) each tensor raised. `histogram_cells`, `flags_over_time`,
`split_per_class` and `parse_per_class` are pure so they are tested without a store.
"""

from __future__ import annotations

import json
import logging
import math
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from tracker import keys, range_checks
from tracker.store import Store

HIST_DIR = "histograms"
SAMPLES_DIR = "samples"
PER_CLASS_DIR = "metrics"
PER_CLASS_FILE = f"{PER_CLASS_DIR}/per_class.jsonl"  # per-class values of every epoch, see PerClassFile
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


# -- per-class values ------------------------------------------------------------

_log = logging.getLogger(__name__)
_ROW_FIELDS = (keys.EPOCH, "metric", "class", "value")  # a row's fields, in the file's order


def split_per_class(metrics: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """(headline, per class) of one evaluation's metrics: a name `<metric>/<class>` is per class.

    Task metrics carry no `val/` prefix (runners/tasks/kinds.py): `accuracy` is a headline
    metric, `f1/7` and `iou/circle` are per class. Any task metric with a slash in its name
    counts as a breakdown and goes to the per-class file.
    """
    head, per = {}, {}
    for name, value in metrics.items():
        (per if "/" in name else head)[name] = value
    return head, per


class PerClassFile:
    """A run's per-class values, built up epoch by epoch and stored whole as `PER_CLASS_FILE`.

    MLflow cannot append to an artifact, so every epoch stores the whole file again; the
    rows of earlier epochs stay encoded, so an epoch costs encoding its own rows and one
    write of the file (10 classes x 100 epochs: ~70 kB). One JSON object a line: a file
    cut short by a crash mid-write loses its last line, not the rest. The file a run
    leaves when it dies mid-epoch is the one stored at the end of the last whole epoch; a
    resumed run adds the epochs its checkpoint holds first (`add` again replaces an epoch's
    rows), so its file never holds an epoch twice.
    """

    def __init__(self, prefix: str = keys.VAL_PREFIX) -> None:
        self.prefix = prefix  # rows name the metric as its key used to read: val/f1 (class 7) = val/f1/7
        self._epochs: dict[int, list[str]] = {}

    def add(self, epoch: int, per_class: dict[str, float]) -> None:
        """The per-class values of one epoch, named `<metric>/<class>` (`split_per_class`'s second half)."""
        rows = []
        for name, value in per_class.items():
            metric, cls = self.row_name(name)
            row = dict(zip(_ROW_FIELDS, (int(epoch), metric, cls, float(value)), strict=True))
            rows.append(json.dumps(row))
        self._epochs[int(epoch)] = rows

    def row_name(self, name: str) -> tuple[str, str]:
        """(metric, class) of a row: `f1/7` -> (`val/f1`, `7`); a slice's `slice/<name>/<metric>`
        -> (`slice/<metric>`, `<name>`), so a slice reads like a class (its name may hold a slash)."""
        if name.startswith(keys.SLICE_PREFIX):
            part, _, metric = name[len(keys.SLICE_PREFIX) :].rpartition("/")
            return keys.SLICE_PREFIX + metric, part
        metric, _, cls = name.partition("/")
        return self.prefix + metric, cls

    def __len__(self) -> int:
        return sum(len(rows) for rows in self._epochs.values())

    def payload(self) -> bytes:
        return "".join(line + "\n" for epoch in sorted(self._epochs) for line in self._epochs[epoch]).encode()

    def writer(self) -> Callable[[str], None]:
        """write(path) of the file as it is now, for TelemetryWriter.log_artifact."""
        payload = self.payload()
        return lambda path: Path(path).write_bytes(payload)


def parse_per_class(text: str, source: str = "the per-class file") -> list[dict]:
    """Rows `{"epoch", "metric", "class", "value"}` of a per-class file, in its order.

    Tolerant, as a file a crash cut short must be: a line that is not a whole row (torn,
    hand-edited, another format) is skipped, and one WARNING log line says how many were
    skipped in `source`; the rest is returned. A row seen twice keeps its last value.
    """
    rows: dict[tuple, dict] = {}
    bad = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        row = _row(line)
        if row is None:
            bad += 1
            continue
        rows[(row[keys.EPOCH], row["metric"], row["class"])] = row
    if bad:
        _log.warning("idealoop: %s: %d damaged line(s) skipped, %d row(s) read", source, bad, len(rows))
    return list(rows.values())


def _row(line: str) -> dict | None:
    try:
        raw = json.loads(line)
        epoch, metric, cls, value = (raw[f] for f in _ROW_FIELDS)
    except (ValueError, TypeError, KeyError):
        return None
    if not (isinstance(epoch, int) and isinstance(metric, str) and isinstance(cls, str)):
        return None
    if value is None:  # a non-finite value written by a strict JSON encoder
        value = math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return dict(zip(_ROW_FIELDS, (epoch, metric, cls, float(value)), strict=True))


def load_per_class(store: Store, run_id: str) -> list[dict]:
    """The run's per-class rows (`parse_per_class`): [] when the run stored none (a regression
    task, a run older than the file, one that died before its first evaluation)."""
    if PER_CLASS_FILE not in _list(store, run_id, PER_CLASS_DIR):
        return []
    data = _load_bytes(store, run_id, PER_CLASS_FILE)
    return parse_per_class(data.decode("utf-8", errors="replace"), f"{PER_CLASS_FILE} of run {run_id}")
