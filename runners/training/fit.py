"""Epoch training shared by stage_generalize, stage_scale and every sweep trial.

`fit()` evaluates once before training (epoch 0: the bar the generalize gate must
clear), then per epoch: shuffled train batches through `Trainer.step` (per-batch
telemetry), a full val pass (headline `val/*` metrics; per-class values such as `f1/7`
and the task's slices, `slice/<name>/<metric>`, into the `metrics/per_class.jsonl` artifact,
tracker/artifacts.py), sample PNGs and, for classification,
a confusion matrix, `best/<target>` so far, and a checkpoint (`checkpoints.save`, see
`runners/training/checkpoint.py`; a sweep trial's reports to Ray there, and may be stopped
there). A run with a checkpoint to continue from (`checkpoints.load`) skips the epochs it
holds; one without starts over, and its writer drops what was stored already.

Augmentation is applied inside `train_batches` and nowhere else: `evaluate` takes
no augmentation argument at all, so val and test data are never augmented by
construction.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch

from runners.tasks import kinds, samples
from runners.tasks.base import Split, Task
from runners.tasks.slices import masks_of, slice_metrics
from runners.training.checkpoint import Checkpoints, epoch_state, restore
from runners.training.trainer import Trainer
from tracker import keys
from tracker.artifacts import PER_CLASS_FILE, PerClassFile, split_per_class
from tracker.learning import improves
from tracker.telemetry import TelemetryWriter


@torch.no_grad()
def evaluate(
    model, task: Task, split: Split, device, batch_size: int = 512, masks: dict | None = None
) -> tuple[dict, torch.Tensor]:
    """Full pass over a split, never augmented: ({'loss': …, metric: …}, outputs on CPU).

    With `masks` (the task's slices of this split, `slices.masks_of`), the metrics of each
    slice too, as `slice/<name>/<metric>`: computed from the outputs already in hand.
    """
    model.eval()
    outs, total, n = [], 0.0, 0
    for i in range(0, len(split), batch_size):
        x = split.x[i : i + batch_size].to(device)
        y = split.y[i : i + batch_size].to(device)
        out = model(x)
        total += task.loss(out, y).item() * len(x)
        n += len(x)
        outs.append(out.float().cpu())
    outputs = torch.cat(outs)
    metrics = {"loss": total / n, **kinds.metrics_fn(task)(outputs, split.y)}
    if masks:
        metrics.update(slice_metrics(task, outputs, split.y, masks))
    return metrics, outputs


def train_batches(
    split: Split, batch_size: int, gen: torch.Generator, augment: Callable | None
) -> Iterator[tuple[torch.Tensor, torch.Tensor, float]]:
    """Shuffled (x, y, seconds spent producing it); the only place augmentation runs."""
    order = torch.randperm(len(split), generator=gen)
    for i in range(0, len(split), batch_size):
        t0 = time.perf_counter()
        idx = order[i : i + batch_size]
        x, y = split.x[idx], split.y[idx]
        if augment is not None:
            x, y = augment(x, y, gen)
        yield x, y, time.perf_counter() - t0


@dataclass
class FitResult:
    start: dict  # val metrics before training (epoch 0)
    history: list[dict] = field(default_factory=list)  # val metrics per epoch
    best: dict = field(default_factory=dict)  # the epoch with the best target metric

    def best_value(self, metric: str, higher_is_better: bool = True) -> float:
        values = [h[metric] for h in self.history if metric in h]
        return (max if higher_is_better else min)(values) if values else float("nan")

    def add(self, metrics: dict, target: str, higher_is_better: bool) -> None:
        self.history.append(metrics)
        if not self.best or improves(metrics.get(target, 0), self.best.get(target, 0), higher_is_better):
            self.best = metrics


def log_val(writer: TelemetryWriter, metrics: dict, epoch: int, step: int, per_class: PerClassFile) -> None:
    """A full val pass: headline metrics as `val/<metric>`, per-class ones into the per-class file.

    MLflow's own UI shows every metric key as a column and a chart: per-class values
    (`f1/<class>`: ten keys on digits, one per class on any task) would bury the few that
    matter, so they are rows of one artifact, stored again whole every epoch.
    """
    head, per = split_per_class(metrics)
    writer.log_dict({keys.EPOCH: epoch, **{f"{keys.VAL_PREFIX}{k}": v for k, v in head.items()}}, step)
    if per:
        per_class.add(epoch, per)
        writer.log_artifact(per_class.writer(), PER_CLASS_FILE)


def log_samples(writer: TelemetryWriter, task: Task, outputs: torch.Tensor, epoch: int, n: int) -> None:
    """Sample grid (and confusion matrix) for this epoch: drawn here, encoded and stored by the writer.

    Drawn on the training thread (tens of ms, once an epoch) because renderers use torch:
    a torch op from the writer thread starts a second OpenMP team that fights the training
    thread's for the cores (measured on shapes, 2 cores: 17% of the training time).
    """
    render = kinds.samples_fn(task)
    grid = render(task.val.x[:n], outputs[:n], task.val.y[:n])
    writer.log_artifact(samples.png_writer(grid), f"samples/epoch_{epoch:04d}.png")
    if task.kind == "classification":
        n_classes = outputs.shape[1]
        labels = task.class_names or [str(i) for i in range(n_classes)]
        matrix = samples.confusion_matrix(outputs.argmax(1), task.val.y, n_classes)
        writer.log_json(
            {"labels": labels, "matrix": matrix.tolist()}, f"samples/confusion_epoch_{epoch:04d}.json"
        )
        writer.log_artifact(
            samples.png_writer(samples.confusion_image(matrix, labels)),
            f"samples/confusion_epoch_{epoch:04d}.png",
        )


def fit(
    trainer: Trainer,
    *,
    epochs: int,
    batch_size: int,
    augment: Callable | None = None,
    scheduler=None,
    n_samples: int = 16,
    checkpoints: Checkpoints | None = None,
    progress: bool = True,
) -> FitResult:
    task, writer, device = trainer.task, trainer.writer, trainer.device
    target, higher = task.target_metric, task.higher_is_better
    state = checkpoints.load() if checkpoints is not None else None
    per_class = PerClassFile()
    masks = masks_of(task, task.val)  # once: the val split does not change between epochs
    if state is None:
        start, _ = evaluate(trainer.model, task, task.val, device, masks=masks)
        log_val(writer, start, 0, 0, per_class)
        result, done = FitResult(start=start), 0
    else:  # continued from a checkpoint: epoch 0 and the epochs done are logged already
        done = restore(trainer, scheduler, state)
        result = FitResult(start=state["start"])
        per_class.add(0, split_per_class(result.start)[1])  # the file is stored again whole next epoch
        for epoch, metrics in enumerate(state["history"], 1):
            result.add(metrics, target, higher)
            per_class.add(metrics.get(keys.EPOCH, epoch), split_per_class(metrics)[1])
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, initial=done, desc="epochs", unit="epoch", leave=False, file=sys.stderr)
    try:
        for epoch in range(done + 1, epochs + 1):
            for x, y, data_s in train_batches(task.train, batch_size, trainer.gen, augment):
                trainer.step(x, y, data_s)
            trainer.sync()
            lr = trainer.opt.param_groups[0]["lr"]
            if scheduler is not None:
                scheduler.step()
            metrics, outputs = evaluate(trainer.model, task, task.val, device, masks=masks)
            log_val(writer, metrics, epoch, trainer.step_count, per_class)
            writer.log(keys.TRAIN_LR, lr, trainer.step_count)
            if n_samples > 0:
                log_samples(writer, task, outputs, epoch, n_samples)
            result.add({keys.EPOCH: epoch, **metrics}, target, higher)
            # After every epoch, so a run stopped or killed early has its best so far too.
            writer.log(f"{keys.BEST_PREFIX}{target}", result.best_value(target, higher), trainer.step_count)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(
                    val_loss=f"{metrics['loss']:.3g}", **{target: f"{metrics.get(target, 0):.3g}"}
                )
            if checkpoints is not None:
                checkpoints.save(epoch_state(trainer, scheduler, epoch, result.start, result.history))
    finally:
        if bar is not None:
            bar.close()
    return result
