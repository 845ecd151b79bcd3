"""Histograms of weights, gradients and activations, and the range checks run on them.

"Histograms of various quantities with known ranges to check that the initial values
and values over time remain within reasonable bounds" — from the method. Every
`hist_every` steps the trainer takes a snapshot: each tracked tensor binned into
edges + counts with summary numbers (mean, std, min, max, fraction of zeros,
fraction non-finite), stored as `histograms/step_XXXXXXXX.json` (see
docs/telemetry.md) with the global gradient norm and the names of the ReLU-like
layers, which is all tracker/range_checks.py needs to turn it into flags a human should
see — the same verdict whether the trainer checks it live or the board reads it back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from tracker import keys

N_BINS = 30  # bins per histogram: enough to see shape, small enough for 1000s of snapshots


_EMPTY = {"edges": [], "counts": [], "mean": math.nan, "std": math.nan, "min": math.nan, "max": math.nan}


def summarize(t: torch.Tensor, bins: int = N_BINS) -> dict:
    """Bin one tensor. Non-finite values are counted, then left out of the bins."""
    return summarize_all({"t": t}, bins)["t"]


def summarize_all(tensors: dict[str, torch.Tensor], bins: int = N_BINS) -> dict[str, dict]:
    """Bin many tensors with two device reads in all, not two per tensor.

    A snapshot covers every weight, gradient and activation: dozens of small tensors,
    where per-op overhead dominates (7 ms a snapshot on a 4-layer MLP when each tensor
    was read back on its own; on a GPU each read is a sync). So each tensor gets a few
    fused reductions (aminmax, std_mean, zero count), all stacked into one read; then
    one histc each, stacked into the second read. NaN and inf propagate into min/max,
    so only a tensor whose min or max is not finite takes the slow path that masks
    its non-finite values out.
    """
    flats = {name: t.detach().flatten() for name, t in tensors.items()}
    out = {
        name: {"frac_nonfinite": 0.0, "frac_zero": 0.0, **_EMPTY}
        for name, f in flats.items()
        if not f.numel()
    }
    flats = {name: f if f.is_floating_point() else f.float() for name, f in flats.items() if f.numel()}
    heads = {}
    for name, f in flats.items():
        lo, hi = torch.aminmax(f)
        std, mean = torch.std_mean(f, correction=1 if f.numel() > 1 else 0)
        heads[name] = torch.stack([lo, hi, mean, std, (f == 0).sum().to(f.dtype)]).float()
    head_values = _read(heads)
    finite = {}
    for name, (lo, hi, mean, std, zeros) in head_values.items():
        f = flats[name]
        if not (math.isfinite(lo) and math.isfinite(hi)):
            out[name] = _summarize_nonfinite(f, bins)
            continue
        a, b = (lo - 0.5, hi + 0.5) if lo == hi else (lo, hi)
        finite[name] = torch.histc(f.float(), bins=bins, min=a, max=b)
        edges = [round(a + (b - a) * i / bins, 6) for i in range(bins + 1)]
        out[name] = {"frac_nonfinite": 0.0, "frac_zero": zeros / f.numel(), "edges": edges,
                     "mean": mean, "std": std, "min": lo, "max": hi}  # fmt: skip
    for name, counts in _read(finite).items():
        out[name]["counts"] = [int(c) for c in counts]
    return {name: out[name] for name in tensors}


def _read(tensors: dict[str, torch.Tensor]) -> dict[str, list[float]]:
    """Equal-length 1-d tensors back to Python lists: one transfer per device."""
    by_device: dict[torch.device, list[str]] = {}
    for name, t in tensors.items():
        by_device.setdefault(t.device, []).append(name)
    out = {}
    for names in by_device.values():
        rows = torch.stack([tensors[n] for n in names]).tolist()
        out.update(zip(names, rows, strict=True))
    return out


def _summarize_nonfinite(flat: torch.Tensor, bins: int) -> dict:
    """The rare tensor holding NaN or inf: count them, bin the finite rest."""
    flat = flat.float()
    finite_mask = torch.isfinite(flat)
    finite = flat[finite_mask]
    out = {
        "frac_nonfinite": 1.0 - finite_mask.float().mean().item(),
        "frac_zero": (flat == 0).float().mean().item(),
    }
    if not finite.numel():
        return {**out, **_EMPTY}
    return {**summarize_all({"f": finite}, bins)["f"], **out}  # fractions of the whole tensor


class ActivationTap:
    """Records the outputs of the model's leaf modules during one armed forward pass.

    Hooks exist only while armed: a registered forward hook, even one that returns at
    once, sends every call of its module down PyTorch's slow hooked path (~15% of a
    small MLP's step, measured on digits), so the tap is attached for the snapshot's
    step and removed right after.
    """

    def __init__(self, model: nn.Module) -> None:
        self.outputs: dict[str, torch.Tensor] = {}
        self._leaves = [(n, m) for n, m in model.named_modules() if n and not list(m.children())]
        self._handles: list = []

    @property
    def armed(self) -> bool:
        return bool(self._handles)

    @armed.setter
    def armed(self, on: bool) -> None:
        if on and not self._handles:
            self._handles = [m.register_forward_hook(self._hook(n)) for n, m in self._leaves]
        elif not on:
            self.remove()

    def _hook(self, name: str):
        def hook(module, inputs, output):
            if isinstance(output, torch.Tensor):
                self.outputs[name] = output.detach()

        return hook

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []


@dataclass
class SnapshotSchedule:
    """When a histogram snapshot is due: every `every` steps, spaced further apart when
    snapshots would take more than `budget` of the training time.

    A snapshot bins every weight, gradient and activation: on a small model it costs
    several training steps (4.6 ms against a 1.8 ms step on digits), so a fixed "every
    50 steps" would cost a fast loop 5% while a big one never notices. The budget keeps
    the seconds spent on snapshots at most `budget` × the seconds trained so far. The
    first `exempt` snapshots (steps 0, every, 2·every, …) always follow the cadence:
    initial values and the first steps are what the method checks first, and a short
    run keeps a readable histogram-over-time. `budget=0` keeps the exact cadence.
    """

    every: int
    budget: float = 0.01
    exempt: int = 5
    taken_count: int = 0
    spent_s: float = 0.0
    started: float | None = None  # time of the first step
    last: int | None = None  # step of the last snapshot
    stretched: bool = False  # a snapshot was postponed by the budget at least once

    def due(self, step: int, now: float) -> bool:
        if self.started is None:
            self.started = now
        if self.every <= 0:
            return False
        if self.last is not None and step - self.last < self.every:
            return False
        over = self.spent_s > self.budget * (now - self.started)
        if self.budget > 0 and self.taken_count >= self.exempt and over:
            self.stretched = True
            return False
        return True

    def taken(self, step: int, seconds: float) -> None:
        self.last = step
        self.spent_s += seconds
        self.taken_count += 1


def snapshot(model: nn.Module, activations: dict[str, torch.Tensor], step: int) -> dict:
    """All histograms at one step: call after backward (gradients present), before the next zero_grad."""
    tensors = {}
    for name, p in model.named_parameters():
        tensors[f"weights/{name}"] = p
        if p.grad is not None:
            tensors[f"grads/{name}"] = p.grad
    for name, out in activations.items():
        tensors[f"acts/{name}"] = out
    return {
        "step": step,
        "grad_norm": grad_norm(model),  # exploding_grad judges this, not single entries
        "relu_layers": relu_layer_names(model),  # dead_activations looks only at these outputs
        "tensors": summarize_all(tensors),
    }


def grad_norm(model: nn.Module) -> float:
    grads = [p.grad.detach().float().norm() for p in model.parameters() if p.grad is not None]
    return torch.stack(grads).norm().item() if grads else 0.0


def summary_metrics(snap: dict) -> dict[str, float]:
    """The per-tensor numbers logged as metrics `hist/<kind>/<name>/<stat>`."""
    out = {}
    for key, h in snap["tensors"].items():
        for stat in ("mean", "std", "frac_zero", "frac_nonfinite"):
            value = h[stat]
            if value == value:  # MLflow stores NaN poorly; the JSON keeps it
                out[f"{keys.HIST_PREFIX}{key}/{stat}"] = value
    return out


def relu_layer_names(model: nn.Module) -> list[str]:
    """ReLU-like modules: the outputs whose exact zeros the dead_activations check counts."""
    return [n for n, m in model.named_modules() if isinstance(m, (nn.ReLU, nn.LeakyReLU, nn.GELU))]
