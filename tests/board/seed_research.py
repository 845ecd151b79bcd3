"""A research-sized idea for the Idea page's charts: what they are judged on, in tests and screenshots.

`seed_board` (tests/board/seed.py) keeps its three small ideas and their counts; this
adds one more idea, "Label smoothing", when a test asks for it: a baseline that logs its
scores once, an overfit run whose loss jumps back up when the 8-sample phase starts
(with its phase steps and gate thresholds), and an 8-epoch generalize run over 10 digit
classes — accuracy 0.1 untrained then in the 0.90-0.95 band, per-class F1 with one
lagging class, histograms, sample grids the runner's size and 10-class confusion matrices.
"""

from __future__ import annotations

import io
import json
import math

from tests.board.seed import OVERFIT_PARAMS, Seeded, log_histograms, make_run
from tracker.estimates import Estimates
from tracker.ideas import add_idea
from tracker.store import Store

DIGITS = [str(i) for i in range(10)]


def _noise(i: int, scale: float) -> float:
    """Deterministic batch-to-batch jitter (no RNG: the same store every time)."""
    return scale * (math.sin(i * 12.9898) * 43758.5453 % 1 - 0.5)


def overfit_phases_run(one_steps: int = 120, few_steps: int = 280) -> dict[str, list[tuple[int, float]]]:
    """An overfit run as stage_overfit logs it: 1 sample memorised, then 8 (the loss jumps back up)."""
    one = [0.004 + 2.3 * math.exp(-8 * i / one_steps) + _noise(i, 0.02) * math.exp(-4 * i / one_steps)
           for i in range(one_steps)]  # fmt: skip
    few = [0.01 + 2.1 * math.exp(-7 * i / few_steps) + _noise(i, 0.1) * math.exp(-3 * i / few_steps)
           for i in range(few_steps)]  # fmt: skip
    loss = [abs(v) for v in one + few]
    n = one_steps + few_steps
    return {
        "train/loss": list(enumerate(loss)),
        "val/loss_batch": [(i, 2.3 + 0.004 * i + _noise(i, 0.3)) for i in range(n)],
        "time/data_s": [(i, 0.001) for i in range(n)],
        "time/compute_s": [(i, 0.004) for i in range(n)],
        "overfit_one/final_loss": [(one_steps, loss[one_steps - 1])],
        "overfit_one/steps": [(one_steps, one_steps)],
        "overfit_few/final_loss": [(n, loss[-1])],
        "overfit_few/steps": [(n, few_steps)],
    }


def trained_run(epochs: int = 8, steps_per_epoch: int = 50) -> dict[str, list[tuple[int, float]]]:
    """A generalize run as the trainer logs it: epoch 0 (before training) at step 0, epoch e at
    step e * steps_per_epoch; accuracy 0.1 untrained, then in the 0.90-0.95 band; per-class F1."""
    n = epochs * steps_per_epoch
    out: dict[str, list[tuple[int, float]]] = {
        "train/loss": [(i, 0.08 + 2.2 * math.exp(-8 * i / n) + abs(_noise(i, 0.15))) for i in range(n)],
        "val/loss_batch": [
            (i, 0.15 + 2.1 * math.exp(-7 * i / n) + abs(_noise(i + 7, 0.25))) for i in range(n)
        ],
        "time/data_s": [(i, 0.001) for i in range(n)],
        "time/compute_s": [(i, 0.003) for i in range(n)],
    }
    for e in range(epochs + 1):
        step = e * steps_per_epoch
        acc = 0.1 if e == 0 else 0.95 - 0.05 * math.exp(-(e - 1) / 2)
        points = {
            "epoch": e,
            "val/loss": 2.3 if e == 0 else 0.15 + 0.2 * math.exp(-(e - 1) / 2),
            "val/accuracy": acc,
            "val/f1_macro": acc - 0.004,
            "train/lr": 1e-3 * 0.5 * (1 + math.cos(math.pi * e / epochs)),
            "best/accuracy": max(acc, 0.1),
        }
        for c in DIGITS:  # class 8 lags: what one chart of every class should show
            points[f"val/f1/{c}"] = 0.0 if e == 0 else acc - (0.12 if c == "8" else 0.006 * int(c))
        for k, v in points.items():
            out.setdefault(k, []).append((step, v))
    return out


def grid_png(cols: int = 8, rows: int = 2, cell: int = 64) -> bytes:
    """A samples grid the size the runner draws (8 x 2 cells of 64 px, labels under each)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (cols * (cell + 4), rows * (cell + 18)), "white")
    draw = ImageDraw.Draw(img)
    for i in range(cols * rows):
        r, c = divmod(i, cols)
        ox, oy = c * (cell + 4), r * (cell + 18)
        ok = i % 5 != 3
        draw.rectangle([ox, oy, ox + cell + 3, oy + cell + 3], fill=(40, 170, 80) if ok else (210, 50, 50))
        draw.rectangle([ox + 2, oy + 2, ox + cell + 1, oy + cell + 1], fill=(20, 20, 20))
        draw.ellipse([ox + 18, oy + 12, ox + cell - 14, oy + cell - 10], outline=(230, 230, 230), width=5)
        draw.text((ox + 2, oy + cell + 4), f"p:{i % 10} t:{(i + (0 if ok else 1)) % 10}", fill=(0, 0, 0))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def confusion(epoch: int) -> list[list[int]]:
    """A 10-class confusion matrix: mostly right, 8 often taken for 3."""
    m = [[0] * 10 for _ in range(10)]
    for t in range(10):
        m[t][t] = 170 + 3 * epoch - (25 if t == 8 else 0)
        m[t][(t + 1) % 10] = 4
    m[8][3] = 21
    return m


def seed_research(store: Store) -> Seeded:
    """One idea, "Label smoothing", with a baseline, a two-phase overfit and an 8-epoch
    generalize run over 10 digit classes (per-class F1, histograms, samples). Called on its
    own: `seed_board`'s ideas and counts stay as they are."""
    s = Seeded()
    est = Estimates.parse(hours=3, complexity=1, impact=0.01, likelihood=0.5)
    idea = s.ideas["Label smoothing"] = add_idea(store, "Label smoothing", est, category="regularization")
    s.runs["baseline"] = make_run(
        store,
        idea_id=idea,
        stage="baseline",
        gates={"baseline": "recorded"},
        metrics={
            **{f"{ns}/accuracy": [(0, 0.913)] for ns in ("baseline", "val")},
            **{f"{ns}/f1_macro": [(0, 0.91)] for ns in ("baseline", "val")},
            "baseline/fit_seconds": [(0, 1.7)],
        },
        start=10_000,
    )
    s.runs["overfit"] = make_run(
        store,
        idea_id=idea,
        stage="overfit",
        gates={"overfit_one": "passed", "overfit_few": "passed"},
        metrics=overfit_phases_run(),
        start=11_000,
        params=OVERFIT_PARAMS,
    )
    log_histograms(store, s.runs["overfit"], [0, 50, 100, 150, 200, 250, 300, 350])
    s.runs["generalize"] = make_run(
        store,
        idea_id=idea,
        stage="generalize",
        gates={"generalize": "passed"},
        metrics=trained_run(),
        tags={"idealoop.target_metric": "accuracy", "idealoop.higher_is_better": "true"},
        start=12_000,
    )
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        for epoch in (1, 4, 8):
            Path(tmp, f"epoch_{epoch:04d}.png").write_bytes(grid_png())
            Path(tmp, f"confusion_epoch_{epoch:04d}.json").write_text(
                json.dumps({"labels": DIGITS, "matrix": confusion(epoch)})
            )
        store.client.log_artifacts(s.runs["generalize"], tmp, "samples")
    log_histograms(store, s.runs["generalize"], [0, 100, 200, 300, 399])
    return s
