"""stage_overfit: can the model memorise 1 training sample, then a few?

From the method: with every regularizer off, train loss on a single sample must go
to ~0 (this debugs the output side; the input is effectively ignored), then on
5-10 samples it must still go to ~0 (now the output must depend on the input).
Either failing points at the data pipeline, the loss or the optimisation, long
before a full training run would reveal it.

Gates (tags on the run): `idealoop.gate.overfit_one` and `idealoop.gate.overfit_few`
= passed | failed, passed when the train loss falls below the threshold within the
step budget.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import torch

from runners.stages.config import OverfitConfig, as_dict
from runners.stages.packed import packed_trainer
from runners.tasks.base import ModelSpec, Split, Task, load_task
from runners.training.checkpoint import say_replay
from runners.training.trainer import Trainer, pick_device, seed_everything
from tracker import keys
from tracker.runs import StageRun

STAGE = "overfit"


@dataclass
class GateResult:
    name: str
    passed: bool
    final_loss: float
    steps: int
    threshold: float
    max_steps: int

    def summary(self) -> str:
        mark = "PASSED" if self.passed else "FAILED"
        return (
            f"{self.name}: {mark}  loss {self.final_loss:.4g} "
            f"(threshold {self.threshold:g}) after {self.steps}/{self.max_steps} steps"
        )


def _memorise(trainer: Trainer, x, y, threshold: float, max_steps: int, progress) -> tuple[float, int]:
    steps = 0
    loss = float("inf")
    while steps < max_steps:
        trainer.step(x, y)
        steps += 1
        if steps % trainer.check_every == 0 or steps == max_steps:
            loss = trainer.sync()
            if progress is not None:
                progress.update(
                    trainer.check_every if steps % trainer.check_every == 0 else steps % trainer.check_every
                )
                progress.set_postfix(loss=f"{loss:.3g}")
            if loss < threshold:
                break
    return loss, steps


def run_overfit(
    cfg: OverfitConfig, run: StageRun, *, task: Task | None = None, progress: bool = True, **_: object
) -> list[GateResult]:
    """Run both checks inside an open stage run; sets the gate tags and returns the results.

    With `cfg.seeds` > 1 every seed memorises its own samples (picked by its own generator),
    packed in this process; the gates judge the mean loss over the seeds.
    """
    if run.resumed:
        say_replay(run.run_id)
    task = task or load_task(cfg.task, seed=cfg.seed)
    spec = ModelSpec(width=cfg.width, depth=cfg.depth)
    if cfg.seeds > 1:
        with packed_trainer(cfg, run, task, stage=STAGE, spec=spec, make_optimizer=_plain_adam) as pt:
            orders = [torch.randperm(len(task.train), generator=g) for g in pt.gens]
            return _checks(cfg, run, pt, lambda n: _stack([task.train.take(o[:n]) for o in orders]), progress)
    gen = seed_everything(cfg.seed)
    device = pick_device(cfg.device)
    run.log_params({**as_dict(cfg), "stage": STAGE, "device_resolved": str(device)})
    run.log_dict(as_dict(cfg), "config.json")
    model = task.build_model(spec).to(device)
    run.log_params({"model_parameters": sum(p.numel() for p in model.parameters())})
    trainer = Trainer(
        task, model, _plain_adam(model.parameters(), cfg), run.writer, device=device, generator=gen,
        val_batch_size=cfg.val_batch_size, check_every=cfg.check_every, hist_every=cfg.hist_every,
        hist_budget=cfg.hist_budget, on_flag=run.flag,
        replay_until=run.last_stored(keys.TRAIN_LOSS),  # resumed: no checkpoint, trained again from 0
    )  # fmt: skip
    order = torch.randperm(len(task.train), generator=gen)
    return _checks(cfg, run, trainer, lambda n: task.train.take(order[:n]), progress)


def _plain_adam(params, cfg: OverfitConfig) -> torch.optim.Optimizer:
    # Plain Adam: no weight decay, no schedule. Regularization is the enemy of memorising.
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=0.0)


def _stack(samples: list) -> Split:
    """Each seed's samples as one (K, n, ...) batch for the packed trainer."""
    return Split(torch.stack([s.x for s in samples]), torch.stack([s.y for s in samples]))


def _checks(cfg: OverfitConfig, run: StageRun, trainer, samples, progress: bool) -> list[GateResult]:
    """The two memorisation checks on `samples(n)` (the first n of the shuffled training data)."""
    checks = [
        ("overfit_one", 1, cfg.one_threshold, cfg.one_max_steps,
         keys.OVERFIT_ONE_LOSS, keys.OVERFIT_ONE_STEPS),
        ("overfit_few", cfg.few_samples, cfg.few_threshold, cfg.few_max_steps,
         keys.OVERFIT_FEW_LOSS, keys.OVERFIT_FEW_STEPS),
    ]  # fmt: skip
    results = []
    for name, n, threshold, max_steps, loss_key, steps_key in checks:
        sample = samples(n)
        x, y = sample.x.to(trainer.device), sample.y.to(trainer.device)
        bar = _progress(f"{name} ({n} sample{'s' if n > 1 else ''})", max_steps, progress)
        try:
            loss, steps = _memorise(trainer, x, y, threshold, max_steps, bar)
        finally:
            if bar is not None:
                bar.close()
        result = GateResult(name, loss < threshold, loss, steps, threshold, max_steps)
        run.writer.log_dict({loss_key: loss, steps_key: steps}, trainer.step_count)
        for w, own in zip(
            getattr(trainer, "seed_writers", ()), getattr(trainer, "last_losses", ()), strict=False
        ):
            w.log_dict({loss_key: own, steps_key: steps}, trainer.step_count)  # each seed's own loss
        run.set_gate(name, result.passed)
        print(result.summary(), file=sys.stderr)
        results.append(result)
    return results


def _progress(desc: str, total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="step", leave=False, file=sys.stderr)
