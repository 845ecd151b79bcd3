"""The epoch loop for K seeds packed in one process: `fit` (fit.py) for a `PackedTrainer`.

Per epoch, as `fit`: each seed's shuffled batches (its own generator, so its own data
order; augmentation on training batches only), stacked into (K, B, ...) and stepped
together; then a full val pass of every seed. Logged per epoch:
- in each seed's run: its `val/*` metrics (per-class rows in its `metrics/per_class.jsonl`)
  and its `best/<target>`;
- in the stage run or trial: the mean over the seeds of every val metric under the usual
  keys, their standard deviation (`val_std/<metric>`), `best/<target>` = the best epoch of
  the mean curve with `best_std/<target>` beside it, the learning rate, and seed 0's
  sample images. Gates, ASHA (through the checkpoint's reported history) and the evidence
  all read the mean.
A checkpoint after every epoch holds the whole pack, so a resumed run or restarted trial
continues every seed exactly.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from runners.tasks import kinds
from runners.tasks.base import Split, Task
from runners.training.checkpoint import Checkpoints, epoch_state, restore
from runners.training.fit import FitResult, log_samples, log_val, train_batches
from runners.training.packed_trainer import PackedTrainer
from tracker import keys
from tracker.artifacts import PerClassFile, split_per_class


@torch.no_grad()
def evaluate_seeds(
    pack, task: Task, split: Split, device, batch_size: int = 512
) -> tuple[list[dict], torch.Tensor]:
    """Full pass of every seed over a split, never augmented: (per-seed metrics, (K, N, ...) outputs)."""
    outs, totals, n = [], [0.0] * pack.k, 0
    for i in range(0, len(split), batch_size):
        x = split.x[i : i + batch_size].to(device)
        y = split.y[i : i + batch_size].to(device)
        out = pack.outputs(x)
        for k in range(pack.k):  # summed as `evaluate` sums one model's: the same number for each seed
            totals[k] += task.loss(out[k], y).item() * len(x)
        n += len(x)
        outs.append(out.float().cpu())
    outputs = torch.cat(outs, dim=1)
    metrics_fn = kinds.metrics_fn(task)
    return [{"loss": totals[k] / n, **metrics_fn(outputs[k], split.y)} for k in range(pack.k)], outputs


def mean_std(per_seed: list[dict]) -> tuple[dict, dict]:
    """Mean of every metric over the seeds, and the (sample) std of each headline one."""
    mean = {k: statistics.fmean(m[k] for m in per_seed) for k in per_seed[0]}
    head, _ = split_per_class(per_seed[0])
    std = {k: statistics.stdev([m[k] for m in per_seed]) if len(per_seed) > 1 else 0.0 for k in head}
    return mean, std


@dataclass
class PackedResult(FitResult):
    """`FitResult` of the mean over the seeds, with each seed's own history and the std."""

    start_std: dict = field(default_factory=dict)
    seed_starts: list[dict] = field(default_factory=list)  # each seed's metrics before training
    std_history: list[dict] = field(default_factory=list)
    seed_histories: list[list[dict]] = field(default_factory=list)

    def best_std(self, metric: str, higher_is_better: bool = True) -> float:
        """The std across seeds at the epoch `best_value` comes from."""
        values = [h.get(metric) for h in self.history]
        if not values:
            return float("nan")
        i = values.index(self.best_value(metric, higher_is_better))
        return self.std_history[i].get(metric, float("nan"))


def _log_epoch(pt: PackedTrainer, result: PackedResult, per_seed, per_class, epoch: int) -> None:
    step, task = pt.step_count, pt.task
    mean, std = mean_std(per_seed)
    for k, w in enumerate(pt.seed_writers):
        log_val(w, per_seed[k], epoch, step, per_class[k])
    log_val(pt.writer, mean, epoch, step, per_class[-1])
    pt.writer.log_dict({f"{keys.VAL_STD_PREFIX}{m}": v for m, v in std.items()}, step)
    if epoch == 0:
        return
    target, higher = task.target_metric, task.higher_is_better
    result.add({keys.EPOCH: epoch, **mean}, target, higher)
    result.std_history.append(std)
    for k, w in enumerate(pt.seed_writers):
        result.seed_histories[k].append({keys.EPOCH: epoch, **per_seed[k]})
        w.log(f"{keys.BEST_PREFIX}{target}", _best(result.seed_histories[k], target, higher), step)
    best = f"{keys.BEST_PREFIX}{target}"
    pt.writer.log_dict(
        {
            best: result.best_value(target, higher),
            f"{keys.BEST_STD_PREFIX}{target}": result.best_std(target, higher),
        },
        step,
    )


def _best(history: list[dict], metric: str, higher: bool) -> float:
    return (max if higher else min)(h[metric] for h in history)


def fit_packed(
    pt: PackedTrainer,
    *,
    epochs: int,
    batch_size: int,
    augment: Callable | None = None,
    n_samples: int = 16,
    checkpoints: Checkpoints | None = None,
    progress: bool = True,
) -> PackedResult:
    task, device, pack = pt.task, pt.device, pt.pack
    state = checkpoints.load() if checkpoints is not None else None
    per_class = [PerClassFile() for _ in range(pack.k + 1)]  # each seed's, then the mean's
    if state is None:
        starts, _ = evaluate_seeds(pack, task, task.val, device)
        mean, std = mean_std(starts)
        result = PackedResult(
            start=mean, start_std=std, seed_starts=starts, seed_histories=[[] for _ in range(pack.k)]
        )
        _log_epoch(pt, result, starts, per_class, 0)
        done = 0
    else:
        done = restore(pt, None, state)
        result = PackedResult(
            start=state["start"], start_std=state["start_std"], seed_starts=state["seed_starts"]
        )
        result.seed_histories = state["seed_histories"]
        for metrics, std in zip(state["history"], state["std_history"], strict=True):
            result.add(metrics, task.target_metric, task.higher_is_better)
            result.std_history.append(std)
        starts = [*result.seed_starts, result.start]  # the per-class file is stored again whole next epoch
        for k, history in enumerate([*state["seed_histories"], state["history"]]):
            for epoch, metrics in enumerate([starts[k], *history]):
                per_class[k].add(epoch, split_per_class(metrics)[1])
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, initial=done, desc=f"epochs ({pack.k} seeds)", leave=False, file=sys.stderr)
    try:
        for epoch in range(done + 1, epochs + 1):
            streams = [train_batches(task.train, batch_size, g, augment) for g in pt.gens]
            for batches in zip(*streams, strict=True):
                xs = torch.stack([b[0] for b in batches])
                ys = torch.stack([b[1] for b in batches])
                pt.step(xs, ys, sum(b[2] for b in batches))
            pt.sync()
            lr = pt.lr
            for scheduler in pack.schedulers:
                scheduler.step()
            per_seed, outputs = evaluate_seeds(pack, task, task.val, device)
            _log_epoch(pt, result, per_seed, per_class, epoch)
            pt.writer.log(keys.TRAIN_LR, lr, pt.step_count)
            if n_samples > 0:
                log_samples(pt.writer, task, outputs[0], epoch, n_samples)  # seed 0's, on the parent
            if bar is not None:
                bar.update(1)
                bar.set_postfix(val_loss=f"{result.history[-1]['loss']:.3g}")
            if checkpoints is not None:
                pt.flush()  # every seed's points stored before Ray may tear this process down
                state = epoch_state(pt, None, epoch, result.start, result.history)
                state.update(start_std=result.start_std, std_history=result.std_history)
                state["seed_starts"] = result.seed_starts
                state["seed_histories"] = result.seed_histories
                checkpoints.save(state)
    finally:
        if bar is not None:
            bar.close()
    return result
