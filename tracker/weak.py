"""Weak slices as idea seeds: the classes the best run gets most wrong, and what fixing them is worth.

The method: look where the model is weak (classes, slices, the data) for the next ideas.
From the project's best trained run (`source_run`: generalize, scale, trials; else a baseline):
- with a confusion matrix (classification), per class: recall = diagonal / row, share =
  row / total; a class below the mean recall is weak, and its impact estimate is the
  accuracy gained if its recall rose to the mean, `share × (mean − recall)`: figures
  anyone can check against the matrix by hand;
- otherwise from the per-class file (`f1/<class>`, `iou/<class>`, `slice/<name>` rows of
  `metrics/per_class.jsonl`, last epoch): each class weighs 1/C, gain `(mean − value) / C`.
The weakest come first (largest gain). `idea_seed` turns one into the fields of a new idea.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracker import artifacts, keys
from tracker.store import Store

TOP = 3  # weak classes shown


@dataclass(frozen=True)
class Weak:
    name: str  # the class (or slice)
    metric: str  # recall | f1 | iou | ...
    value: float
    mean: float  # the mean over classes the value falls short of
    share: float  # of the val data
    gain: float  # impact estimate: the target's gain if this class rose to the mean
    support: int = 0  # val samples of the class (confusion matrix only)


def from_confusion(labels: list[str], matrix: list[list[int]], top: int = TOP) -> list[Weak]:
    """Classes below the mean recall, weakest gain first. Rows are true classes. Pure."""
    rows = [sum(r) for r in matrix]
    total = sum(rows)
    present = [i for i, n in enumerate(rows) if n]
    if not total or not present:
        return []
    recall = {i: matrix[i][i] / rows[i] for i in present}
    mean = sum(recall.values()) / len(recall)
    weak = [
        Weak(
            str(labels[i]),
            "recall",
            recall[i],
            mean,
            rows[i] / total,
            rows[i] / total * (mean - recall[i]),
            rows[i],
        )
        for i in present
        if recall[i] < mean
    ]
    return sorted(weak, key=lambda w: -w.gain)[:top]


def from_per_class(rows: list[dict], top: int = TOP) -> list[Weak]:
    """Weak classes from per-class rows of the last epoch (one metric: the first one seen). Pure."""
    if not rows:
        return []
    last = max(r[keys.EPOCH] for r in rows)
    metric = next(r["metric"] for r in rows if r[keys.EPOCH] == last)
    values = {r["class"]: r["value"] for r in rows if r[keys.EPOCH] == last and r["metric"] == metric}
    values = {k: v for k, v in values.items() if v == v}
    if not values:
        return []
    mean, n = sum(values.values()) / len(values), len(values)
    name = metric.split("/", 1)[-1]
    weak = [Weak(k, name, v, mean, 1 / n, (mean - v) / n) for k, v in values.items() if v < mean]
    return sorted(weak, key=lambda w: -w.gain)[:top]


def source_run(rows: list, target) -> tuple[float, object] | None:
    """The run whose weak classes are read: the project's best trained model (generalize, scale,
    trials: they store a confusion matrix), else the best run of any kind (a baseline)."""
    from tracker.project import best_so_far

    trained = [r for r in rows if r.stage in ("generalize", "scale")]
    return best_so_far(trained, target) or best_so_far(rows, target)


def weak_of_run(store: Store, run_id: str, top: int = TOP) -> tuple[str, list[Weak]]:
    """(source of the figures, weak classes) of a run: its last confusion matrix, else per-class rows."""
    epochs = artifacts.sample_epochs(store, run_id)
    for epoch in reversed(epochs):
        conf = artifacts.load_samples(store, run_id, epoch).get("confusion")
        if conf:
            return f"confusion matrix of epoch {epoch}", from_confusion(conf["labels"], conf["matrix"], top)
    rows = artifacts.load_per_class(store, run_id)
    return "per-class values of the last epoch", from_per_class(rows, top)


def idea_seed(weak: Weak, metric: str) -> dict:
    """The prefilled fields of an idea that would lift this class: title, category, impact."""
    return {
        "title": f"Improve class {weak.name} ({weak.metric} {weak.value:.2f} vs mean {weak.mean:.2f})",
        "category": "weak class",
        "description": (
            f"Class {weak.name} is {weak.share:.0%} of the val data with {weak.metric} {weak.value:.3f} "
            f"(mean {weak.mean:.3f}). More or cleaner data for it, class weights, or augmentation "
            "aimed at it; "
            f"raising it to the mean would add ~{weak.gain:.4f} {metric}."
        ),
        "impact": round(max(weak.gain, 1e-4), 4),
    }
