"""Seed a real MLflow store with board data, exactly as docs/telemetry.md specifies it.

The stages that will write this data (baseline, generalize, scale, tune) are being
built elsewhere; the contract doc binds both sides, so the seed writes what the doc
says and nothing more: run kinds and nesting tags, gates, end reasons, ASHA rungs,
range-check flags, per-batch and per-epoch metrics, histogram JSON files, sample
PNGs and confusion matrices. Writes go through MlflowClient (log_batch), like the
telemetry writer.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field

from mlflow.entities import Metric, Param, RunStatus, RunTag

from tracker.estimates import Estimates
from tracker.ideas import add_idea, update_idea
from tracker.store import Store

T0 = 1_700_000_000_000  # fixed base timestamp (ms): start times order the runs


def series(n: int, start: float = 2.0, floor: float = 0.01, spike_at: int | None = None) -> list[float]:
    """A decaying loss curve with an optional single-step spike (what downsampling must keep)."""
    out = [floor + (start - floor) * math.exp(-5 * i / max(n, 1)) for i in range(n)]
    if spike_at is not None:
        out[spike_at] = 50.0
    return out


def log_metrics(client, run_id: str, points: dict[str, list[tuple[int, float]]]) -> None:
    metrics = [Metric(k, float(v), T0 + s, int(s)) for k, pts in points.items() for s, v in pts]
    for i in range(0, len(metrics), 1000):  # log_batch takes at most 1000 metrics
        client.log_batch(run_id, metrics=metrics[i : i + 1000])


def make_run(
    store: Store,
    *,
    idea_id: str,
    kind: str = "stage",
    stage: str = "overfit",
    name: str | None = None,
    parent: str | None = None,
    status: str = "FINISHED",
    end_reason: str | None = "completed",
    gates: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
    metrics: dict[str, list[tuple[int, float]]] | None = None,
    start: int = 0,
    params: dict[str, object] | None = None,
) -> str:
    """One run made for an idea, tagged and nested per docs/telemetry.md."""
    client = store.client
    all_tags = {
        "idealoop.kind": kind,
        "idealoop.idea_id": idea_id,
        "mlflow.parentRunId": parent or idea_id,
        "idealoop.task": "digits",
        **({"idealoop.stage": stage} if stage else {}),
        **{f"idealoop.gate.{g}": v for g, v in (gates or {}).items()},
        **({"idealoop.end_reason": end_reason} if end_reason and status != "RUNNING" else {}),
        **(tags or {}),
    }
    run = client.create_run(
        store.experiment_id,
        run_name=name or (f"stage_{stage}" if kind == "stage" else kind),
        start_time=T0 + start,
        tags=all_tags,
    )
    run_id = run.info.run_id
    if params:
        client.log_batch(run_id, params=[Param(k, str(v)) for k, v in params.items()])
    log_metrics(client, run_id, metrics or {})
    if status != "RUNNING":
        client.set_terminated(run_id, status, end_time=T0 + start + 1000)
    return run_id


def log_histograms(store: Store, run_id: str, steps: list[int], *, nonfinite_at: int | None = None) -> None:
    """Histogram files of weights, grads and acts of two layers, drifting over the steps."""
    for step in steps:
        tensors = {}
        for kind in ("weights", "grads", "acts"):
            for layer, scale in (("0.weight", 1.0), ("2.weight", 0.5)):
                spread = scale * (1 + step / 1000)
                edges = [-spread + 2 * spread * i / 10 for i in range(11)]
                counts = [int(100 * math.exp(-(((i - 4.5) / 2.5) ** 2))) for i in range(10)]
                tensors[f"{kind}/{layer}"] = {
                    "edges": edges,
                    "counts": counts,
                    "mean": 0.0,
                    "std": spread / 2,
                    "min": -spread,
                    "max": spread,
                    "frac_zero": 0.995 if kind == "acts" and layer == "2.weight" else 0.0,
                    "frac_nonfinite": 0.1 if step == nonfinite_at and kind == "grads" else 0.0,
                }
        norm = math.inf if step == nonfinite_at else 1.0 + step / 1000
        snap = {"step": step, "grad_norm": norm, "relu_layers": ["2.weight"], "tensors": tensors}
        store.client.log_dict(run_id, snap, f"histograms/step_{step:08d}.json")
        summary = {
            f"hist/{name}/{stat}": t[stat]
            for name, t in tensors.items()
            for stat in ("mean", "std", "frac_zero", "frac_nonfinite")
        }
        log_metrics(store.client, run_id, {k: [(step, v)] for k, v in summary.items()})


def png(color: tuple[int, int, int], size: tuple[int, int] = (64, 32)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def log_samples(store: Store, run_id: str, epochs: list[int]) -> None:
    """Per epoch: a samples grid PNG, a confusion-matrix PNG and its JSON."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        for epoch in epochs:
            shade = min(255, 40 * epoch)
            Path(tmp, f"epoch_{epoch:04d}.png").write_bytes(png((shade, 100, 200)))
            Path(tmp, f"confusion_epoch_{epoch:04d}.png").write_bytes(png((200, shade, 50), (32, 32)))
            matrix = [[10 + epoch, 2], [3, 9 + epoch]]
            Path(tmp, f"confusion_epoch_{epoch:04d}.json").write_text(
                json.dumps({"labels": ["0", "1"], "matrix": matrix})
            )
        store.client.log_artifacts(run_id, tmp, "samples")


def per_batch(n: int, spike_at: int | None = None) -> dict[str, list[tuple[int, float]]]:
    """The per-batch keys of the contract for steps 0..n-1."""
    loss = series(n, spike_at=spike_at)
    return {
        "train/loss": list(enumerate(loss)),
        "val/loss_batch": [(i, v * 1.2 + 0.05) for i, v in enumerate(series(n))],
        "time/data_s": [(i, 0.002) for i in range(n)],
        "time/compute_s": [(i, 0.006) for i in range(n)],
        "throughput/samples_per_s": [(i, 8 / 0.008) for i in range(n)],
    }


def per_epoch(epochs: int, steps_per_epoch: int, acc0: float = 0.6, gain: float = 0.05) -> dict:
    """The per-epoch keys of the contract (step = global step at the end of the epoch)."""
    ends = [(e, e * steps_per_epoch - 1) for e in range(1, epochs + 1)]
    return {
        "epoch": [(s, e) for e, s in ends],
        "val/loss": [(s, 1.5 / e) for e, s in ends],
        "val/accuracy": [(s, min(0.99, acc0 + gain * e)) for e, s in ends],
        "val/f1_macro": [(s, min(0.99, acc0 - 0.02 + gain * e)) for e, s in ends],
        "train/lr": [(s, 1e-3) for e, s in ends],
    }


OVERFIT_PARAMS = {"one_threshold": 0.01, "few_threshold": 0.02, "few_samples": 8}  # OverfitConfig fields


@dataclass
class Seeded:
    """Ids of everything `seed_board` made."""

    ideas: dict[str, str] = field(default_factory=dict)  # title -> id
    runs: dict[str, str] = field(default_factory=dict)  # role -> run id
    trials: list[str] = field(default_factory=list)


def seed_board(store: Store) -> Seeded:
    """Three ideas: one through baseline, overfit, generalize and a sweep; one mid-run; one untouched.

    Ranking by score (likelihood × impact / effective hours):
      "Tune learning rate" 0.5*0.02/2 = 0.005 > "Wider model" 0.4*0.03/(4*1.25) = 0.0024
      > "Curriculum" 0.15*0.01/(8*1.75) ≈ 0.000107
    """
    s = Seeded()
    est = lambda h, c, i, p: Estimates.parse(hours=h, complexity=c, impact=i, likelihood=p)  # noqa: E731
    s.ideas["Curriculum"] = add_idea(store, "Curriculum", est(8, 4, 0.01, 0.15), category="curriculum")
    s.ideas["Tune learning rate"] = add_idea(
        store, "Tune learning rate", est(2, 1, 0.02, 0.4), category="optimization"
    )
    s.ideas["Wider model"] = add_idea(store, "Wider model", est(4, 2, 0.03, 0.4), category="architecture")
    lr = s.ideas["Tune learning rate"]
    update_idea(store, lr, changes={"likelihood": 0.5}, note="a paper reports the same gain", source="test")

    s.runs["baseline"] = make_run(
        store,
        idea_id=lr,
        stage="baseline",
        gates={"baseline": "recorded"},
        metrics={"baseline/accuracy": [(0, 0.85)], "baseline/f1_macro": [(0, 0.84)]},
        start=1000,
    )
    overfit = per_batch(400, spike_at=123)
    overfit.update({"overfit_one/final_loss": [(399, 0.004)], "overfit_few/final_loss": [(399, 0.015)]})
    overfit.update({"overfit_one/steps": [(399, 150)], "overfit_few/steps": [(399, 250)]})
    s.runs["overfit"] = make_run(
        store,
        idea_id=lr,
        stage="overfit",
        gates={"overfit_one": "passed", "overfit_few": "passed"},
        metrics=overfit,
        start=2000,
        params=OVERFIT_PARAMS,
    )
    log_histograms(store, s.runs["overfit"], [0, 100, 200, 300], nonfinite_at=300)
    gen = {**per_batch(300), **per_epoch(3, 100)}
    gen["generalize/val_loss_start"] = [(0, 2.3)]
    gen["generalize/val_loss_best"] = [(299, 0.5)]
    s.runs["generalize"] = make_run(
        store,
        idea_id=lr,
        stage="generalize",
        gates={"generalize": "failed"},
        metrics=gen,
        tags={
            "idealoop.flags": "exploding_grad,slow_batch",
            "idealoop.flag.exploding_grad": "grads/0.weight at step 120: max |g| 3.2e4",
            "idealoop.flag.slow_batch": "step 7 took 2.1 s",
        },
        start=3000,
    )
    log_samples(store, s.runs["generalize"], [1, 2, 3])
    s.runs["sweep"] = make_run(
        store, idea_id=lr, kind="sweep", stage="generalize", name="tune_generalize", start=4000
    )
    trial_specs = [
        ("completed", None, 0.05, 4100),
        ("stopped_by_asha", "2", 0.01, 4200),
        ("completed", None, 0.08, 4300),
    ]
    for i, (reason, rung, gain, start) in enumerate(trial_specs):
        s.trials.append(
            make_run(
                store,
                idea_id=lr,
                kind="trial",
                stage="generalize",
                name=f"trial_{i}",
                parent=s.runs["sweep"],
                end_reason=reason,
                tags={"idealoop.asha_iteration": rung} if rung else {},
                metrics={**per_batch(100), **per_epoch(2 if rung else 3, 33, gain=gain)},
                start=start,
            )
        )
    store.client.log_batch(
        s.runs["sweep"],
        metrics=[Metric("best/val_accuracy", 0.84, T0, 0)],
        tags=[RunTag("idealoop.best_trial", s.trials[2])],
    )
    s.runs["running"] = make_run(
        store,
        idea_id=s.ideas["Wider model"],
        stage="overfit",
        status="RUNNING",
        gates={"overfit_one": "passed"},
        metrics=per_batch(50),
        start=5000,
    )
    return s


def finish(store: Store, run_id: str, gates: dict[str, str]) -> None:
    """End a RUNNING run the way a stage does: gates, end reason, FINISHED."""
    tags = [RunTag(f"idealoop.gate.{g}", v) for g, v in gates.items()]
    store.client.log_batch(run_id, tags=[*tags, RunTag("idealoop.end_reason", "completed")])
    store.client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))
