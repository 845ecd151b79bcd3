"""The model's isolated checks before any training: what stage_check runs, one function a check.

From the method: test new layers in isolation, look at the first batches, "verify loss at
init", check that every parameter learns and that samples in a batch do not leak into each
other. Each function takes the task and a freshly built model (or a builder) and returns a
`CheckResult`: passed or not, one line saying why, and the numbers it measured (metric keys
from tracker/keys.py). Nothing here logs; `runners/stages/check.py` turns results into gates.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from runners.tasks import kinds
from runners.tasks.base import Split, Task
from runners.tasks.first_batch import first_batch_problem
from runners.training.trainer import seed_everything
from tracker import keys
from tracker.learning import improves

SHOW = 4  # parameter names listed in a reason before "and N more"


@dataclass
class CheckResult:
    name: str  # the gate is idealoop.gate.check_<name>
    passed: bool
    reason: str
    values: dict[str, float] = field(default_factory=dict)


def _names(names: list[str]) -> str:
    more = f" and {len(names) - SHOW} more" if len(names) > SHOW else ""
    return ", ".join(names[:SHOW]) + more


def outputs(task: Task, model: nn.Module, batch: Split) -> CheckResult:
    """Shapes agree with the targets without broadcasting; output, loss and gradients are finite."""
    model.train()
    model.zero_grad(set_to_none=True)
    out = model(batch.x)
    loss, problem = first_batch_problem(task, task.loss, out, batch.y)
    if problem is None:
        loss.backward()
        bad = [
            n for n, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()
        ]
        problem = f"non-finite gradients in {_names(bad)}" if bad else None
    values = {keys.CHECK_FIRST_LOSS: float(loss.detach())} if loss is not None and loss.numel() == 1 else {}
    if problem:
        return CheckResult("outputs", False, problem, values)
    return CheckResult(
        "outputs", True, f"outputs {tuple(out.shape)} fit targets {tuple(batch.y.shape)}", values
    )


def perfect_outputs(task: Task, y: torch.Tensor, n_classes: int) -> torch.Tensor | None:
    """Outputs a perfect model would give for targets `y` (None where the kind has no such notion)."""
    if task.kind == "classification" and not y.is_floating_point():
        return nn.functional.one_hot(y, n_classes).float() * 20
    if task.kind == "segmentation":
        return nn.functional.one_hot(y, n_classes).movedim(-1, 1).float() * 20
    if task.kind in ("image2image", "regression"):
        return y.clone().float()
    return None


@torch.no_grad()
def target_metric(task: Task, model: nn.Module, batch: Split) -> CheckResult:
    """The target metric is produced, finite, and scores perfect outputs better than an untrained model."""
    model.eval()
    out = model(batch.x)
    fn, target = kinds.metrics_fn(task), task.target_metric
    init = fn(out, batch.y)
    if target not in init or not math.isfinite(init[target]):
        got = init.get(target, "missing")
        return CheckResult("target_metric", False, f"target metric {target!r} is {got} on a val batch")
    values = {keys.CHECK_TARGET_INIT: init[target]}
    perfect = perfect_outputs(task, batch.y, out.shape[1] if out.dim() > 1 else 1)
    if perfect is None:
        return CheckResult("target_metric", True, f"{target} {init[target]:.4g} at init", values)
    best = fn(perfect, batch.y).get(target, math.nan)
    values[keys.CHECK_TARGET_PERFECT] = best
    direction = "higher" if task.higher_is_better else "lower"
    if not improves(best, init[target], task.higher_is_better):
        return CheckResult(
            "target_metric", False,
            f"{target} of perfect outputs ({best:.4g}) is not better than the untrained model's "
            f"({init[target]:.4g}) with {direction} is better: check higher_is_better and the metric",
            values,
        )  # fmt: skip
    return CheckResult(
        "target_metric", True, f"{target}: untrained {init[target]:.4g}, perfect {best:.4g}", values
    )


@torch.no_grad()
def init_loss(task: Task, model: nn.Module, batch: Split, tolerance: float) -> CheckResult:
    """Loss at init near what the task predicts: ln C for C classes, or `Task.expected_init_loss`."""
    model.eval()
    out = model(batch.x)
    loss = float(task.loss(out, batch.y))
    expected = task.expected_init_loss
    if expected is None and task.kind in ("classification", "segmentation") and out.dim() > 1:
        expected = math.log(out.shape[1])
    if expected is None:
        why = f"loss at init {loss:.4g}; no expectation for kind {task.kind} (set Task.expected_init_loss)"
        return CheckResult("init_loss", True, why, {keys.CHECK_INIT_LOSS: loss})
    values = {keys.CHECK_INIT_LOSS: loss, keys.CHECK_INIT_LOSS_EXPECTED: expected}
    near = abs(loss - expected) <= tolerance * abs(expected)
    what = f"loss at init {loss:.4g}, expected {expected:.4g} (within {tolerance:.0%})"
    hint = "" if near else ": scale down the last layer's init, check the loss and the targets"
    return CheckResult("init_loss", near, what + hint, values)


def gradients(task: Task, model: nn.Module, batch: Split, lr: float) -> CheckResult:
    """Every parameter gets a non-zero gradient, and one optimizer step changes it."""
    model.train()
    named = list(model.named_parameters())
    frozen = [n for n, p in named if not p.requires_grad]
    opt = torch.optim.Adam([p for _, p in named if p.requires_grad], lr=lr)
    opt.zero_grad(set_to_none=True)
    task.loss(model(batch.x), batch.y).backward()
    dead = [n for n, p in named if p.requires_grad and (p.grad is None or not p.grad.abs().max() > 0)]
    before = {n: p.detach().clone() for n, p in named}
    opt.step()
    unchanged = [n for n, p in named if torch.equal(before[n], p.detach())]
    values = {keys.CHECK_NO_GRAD: len(dead) + len(frozen), keys.CHECK_UNCHANGED: len(unchanged)}
    if frozen or dead or unchanged:
        parts = [f"frozen (requires_grad=False): {_names(frozen)}"] if frozen else []
        parts += [f"no gradient: {_names(dead)}"] if dead else []
        extra = [n for n in unchanged if n not in dead and n not in frozen]
        parts += [f"unchanged by a step: {_names(extra)}"] if extra else []
        return CheckResult("gradients", False, f"{len(set(frozen + dead + unchanged))} of {len(named)} "
                           f"parameter tensors do not learn; " + "; ".join(parts), values)  # fmt: skip
    return CheckResult(
        "gradients", True, f"all {len(named)} parameter tensors get gradients and move", values
    )


def batch_independence(task: Task, model: nn.Module, batch: Split) -> CheckResult:
    """In eval mode (batchnorm on running statistics), sample i's output depends on no other sample."""
    model.eval()
    x, n = batch.x, len(batch.x)
    if n < 2:
        return CheckResult("batch_independence", True, "a batch of 1: nothing to mix")
    leak = 0.0
    for i in (0, n - 1):
        others = torch.arange(n) != i
        if x.is_floating_point():
            xg = x.detach().clone().requires_grad_(True)
            model(xg)[i].float().sum().backward()
            grad = xg.grad if xg.grad is not None else torch.zeros_like(xg)
            leak = max(leak, float(grad[others].abs().max()))
        else:  # token ids and other integer inputs: change the other samples, watch sample i
            with torch.no_grad():
                changed = x.clone()
                changed[others] = (x[others] + 1) % (int(x.max()) + 1)  # other ids, same vocabulary
                leak = max(leak, float((model(changed)[i] - model(x)[i]).abs().max()))
    model.zero_grad(set_to_none=True)
    values = {keys.CHECK_BATCH_LEAK: leak}
    if leak > 1e-6:
        why = f"sample outputs depend on other samples of the batch (leak {leak:.3g}): a reshape or a "
        return CheckResult("batch_independence", False, why + "reduction across the batch dimension?", values)
    return CheckResult(
        "batch_independence", True, "each sample's output depends on that sample alone", values
    )


def custom_layers(task: Task) -> CheckResult:
    """torch.autograd.gradcheck in float64 on each layer the task lists as custom (`Task.custom_layers`)."""
    layers = task.custom_layers or {}
    if not layers:
        return CheckResult("gradcheck", True, "no custom layers listed (Task.custom_layers)")
    failed = []
    for name, (layer, example) in layers.items():
        fn = copy.deepcopy(layer).double() if isinstance(layer, nn.Module) else layer
        inputs = example if isinstance(example, tuple) else (example,)
        inputs = tuple(
            t.detach().double().requires_grad_(True) if torch.is_tensor(t) and t.is_floating_point() else t
            for t in inputs
        )
        try:
            ok = torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-4, raise_exception=False)
        except Exception:  # noqa: BLE001 - a layer gradcheck cannot even run fails it too
            ok = False
        if not ok:
            failed.append(name)
    values = {keys.CHECK_GRADCHECK_FAILED: len(failed)}
    if failed:
        why = f"backward disagrees with finite differences: {_names(failed)}"
        return CheckResult("gradcheck", False, why, values)
    return CheckResult("gradcheck", True, f"{len(layers)} custom layer(s) pass gradcheck", values)


def determinism(
    task: Task, build: Callable[[], nn.Module], batch: Split, seed: int, steps: int = 3
) -> CheckResult:
    """The same seed gives the same first losses: two seeded runs of `steps` Adam steps agree."""

    def losses() -> list[float]:
        seed_everything(seed)
        model = build()
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        out = []
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            loss = task.loss(model(batch.x), batch.y)
            loss.backward()
            opt.step()
            out.append(float(loss.detach()))
        return out

    first, second = losses(), losses()
    diff = max(abs(a - b) for a, b in zip(first, second, strict=True))
    values = {keys.CHECK_DETERMINISM: diff}
    if not diff <= 1e-6 * max(1.0, abs(first[0])):
        why = f"the same seed gave different first losses ({first[0]:.6g} vs {second[0]:.6g}): a layer draws "
        return CheckResult("determinism", False, why + "randomness the seed does not fix", values)
    return CheckResult("determinism", True, f"the same seed gives the same {steps} first losses", values)


def task_checks(task: Task, model: nn.Module) -> list[CheckResult]:
    """The task's own checks (`Task.checks`): check(task, model) -> (passed, reason)."""
    results = []
    for check in task.checks or []:
        name = getattr(check, "__name__", "custom").strip("_") or "custom"
        try:
            passed, reason = check(task, model)
        except Exception as exc:  # noqa: BLE001 - a check that crashes fails, saying how
            passed, reason = False, f"the check raised {type(exc).__name__}: {exc}"
        results.append(CheckResult(name, bool(passed), str(reason)))
    return results
