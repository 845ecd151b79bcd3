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
# What a generalize run logs as params (runners/stages/config.py's fields), and its judge's tags.
GENERALIZE_CONFIG = {
    "task": "digits", "seed": 0, "lr": 0.001, "width": 128, "depth": 2, "batch_size": 64, "epochs": 3,
    "val_batch_size": 64, "check_every": 10, "hist_every": 50, "hist_budget": 0.01, "n_samples": 16,
    "device": "auto", "stage": "generalize", "device_resolved": "cpu", "model_parameters": 26122,
}  # fmt: skip
OVERFIT_CONFIG = {
    "task": "digits", "seed": 0, "lr": 0.001, "width": 128, "depth": 2, "few_samples": 8,
    "one_threshold": 0.01, "few_threshold": 0.02, "one_max_steps": 300, "few_max_steps": 1000,
    "stage": "overfit", "device": "auto",
}  # fmt: skip
JUDGED_BY = {"idealoop.target_metric": "accuracy", "idealoop.higher_is_better": "true"}
SEED_SPACE = {"lr": {"loguniform": [1e-4, 1e-1]}, "width": {"choice": [64, 128, 256]}, "hist_every": 0}


def log_config(store: Store, run_id: str, params: dict) -> None:
    store.client.log_batch(run_id, params=[Param(k, str(v)) for k, v in params.items()])


def sweep_params(space: dict, **settings: object) -> dict:
    """A sweep run's params: `sweep.<setting>`, `sweep.space`, `sweep.base` (docs/telemetry.md)."""
    out = {f"sweep.{k}": v for k, v in {"stage": "generalize", "num_samples": 3, **settings}.items()}
    return {**out, "sweep.space": json.dumps(space), "sweep.base": json.dumps({"epochs": 3})}


def trial_params(sampled: dict) -> dict:
    """A trial's params: the stage's config with the sampled values, and `trial.<key>` for each."""
    fixed = {k: v for k, v in SEED_SPACE.items() if not isinstance(v, dict)}
    config = {**GENERALIZE_CONFIG, **fixed, **sampled}
    return {**config, **{f"trial.{k}": v for k, v in {**fixed, **sampled}.items()}}


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
    log_config(store, s.runs["overfit"], OVERFIT_CONFIG)
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
            **JUDGED_BY,
        },
        start=3000,
    )
    log_config(store, s.runs["generalize"], GENERALIZE_CONFIG)
    log_samples(store, s.runs["generalize"], [1, 2, 3])
    s.runs["sweep"] = make_run(
        store, idea_id=lr, kind="sweep", stage="generalize", name="tune_generalize", start=4000
    )
    log_config(store, s.runs["sweep"], sweep_params(SEED_SPACE))
    trial_specs = [
        ("completed", None, 0.05, 4100, {"lr": 0.001, "width": 128}),
        ("stopped_by_asha", "2", 0.01, 4200, {"lr": 0.03, "width": 64}),
        ("completed", None, 0.08, 4300, {"lr": 0.003, "width": 256}),
    ]
    for i, (reason, rung, gain, start, sampled) in enumerate(trial_specs):
        epochs = per_epoch(2 if rung else 3, 33, gain=gain)
        s.trials.append(
            make_run(
                store,
                idea_id=lr,
                kind="trial",
                stage="generalize",
                name=f"trial_{i}",
                parent=s.runs["sweep"],
                end_reason=reason,
                tags={**({"idealoop.asha_iteration": rung} if rung else {}), **JUDGED_BY},
                metrics={**per_batch(100), **epochs, "best/accuracy": epochs["val/accuracy"]},
                start=start,
            )
        )
        log_config(store, s.trials[-1], trial_params(sampled))
    store.client.log_batch(
        s.runs["sweep"],
        metrics=[Metric("best/accuracy", 0.84, T0, 0)],
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


SWEEP_SPACE = {
    "lr": {"loguniform": [1e-4, 1e-1]},
    "width": {"choice": [64, 128, 256]},
    "depth": {"randint": [1, 4]},
    "batch_size": {"choice": [32, 64]},
    "hist_every": 0,
}
TRAIN_SAMPLES = 2112  # the seeded sweep's training set: 66 steps an epoch at batch 32, 33 at 64


def seed_sweep(store: Store, idea_id: str, n: int = 10, start: int = 10_000) -> tuple[str, list[str]]:
    """A sweep of `n` trials named as `idealoop tune` names them (`lr=3e-3 width=256 depth=2
    batch_size=64`), whose accuracy peaks near lr=3e-3 and grows with width; the batch size sets
    the steps per epoch; every third trial is stopped by ASHA after 2 epochs. Returns (sweep id,
    trial ids); the sweep names its best trial."""
    import random

    from tracker.run_config import trial_name

    rng = random.Random(7)
    sweep = make_run(
        store, idea_id=idea_id, kind="sweep", stage="generalize", name="sweep-generalize", start=start
    )
    log_config(store, sweep, sweep_params(SWEEP_SPACE, num_samples=n))
    trials, scores = [], []
    for i in range(n):
        sampled = {
            "lr": 10 ** rng.uniform(-4, -1),
            "width": rng.choice([64, 128, 256]),
            "depth": rng.randint(1, 3),
            "batch_size": rng.choice([32, 64]),
        }
        quality = max(0.0, 1 - abs(math.log10(sampled["lr"]) + 2.5) / 2.5)  # 1 at lr = 3e-3
        gain = 0.02 + 0.06 * quality + 0.01 * (sampled["width"] / 256)
        stopped = i % 3 == 2
        n_epochs, per = (2 if stopped else 4), TRAIN_SAMPLES // sampled["batch_size"]
        epochs = per_epoch(n_epochs, per, acc0=0.55, gain=gain)
        epochs["val/loss"] = [(s, v * (1.4 - quality / 2)) for s, v in epochs["val/loss"]]
        batches = per_batch(n_epochs * per)
        decay = 2 + 4 * quality  # a good learning rate brings the loss down faster
        batches["train/loss"] = [
            (s, 0.01 + 2 * math.exp(-decay * s / (4 * per))) for s, _ in batches["train/loss"]
        ]
        run_id = make_run(
            store,
            idea_id=idea_id,
            kind="trial",
            stage="generalize",
            name=trial_name(sampled, sampled, f"train_trial_{i:05d}"),
            parent=sweep,
            end_reason="stopped_by_asha" if stopped else "completed",
            tags={**({"idealoop.asha_iteration": "2"} if stopped else {}), **JUDGED_BY},
            metrics={**batches, **epochs, "best/accuracy": epochs["val/accuracy"]},
            start=start + 100 * (i + 1),
        )
        log_config(store, run_id, {**trial_params(sampled), "epochs": 4})  # the sweep's max iterations
        trials.append(run_id)
        scores.append(epochs["val/accuracy"][-1][1])
    best = max(range(n), key=lambda i: scores[i])
    store.client.log_batch(
        sweep,
        metrics=[Metric("best/accuracy", scores[best], T0, 0)],
        tags=[RunTag("idealoop.best_trial", trials[best])],
    )
    return sweep, trials
