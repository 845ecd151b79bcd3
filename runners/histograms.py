"""Histograms of weights, gradients and activations, and the range checks run on them.

"Histograms of various quantities with known ranges to check that the initial values
and values over time remain within reasonable bounds" — from the method. Every
`hist_every` steps the trainer takes a snapshot: each tracked tensor binned into
edges + counts with summary numbers (mean, std, min, max, fraction of zeros,
fraction non-finite), stored as `histograms/step_XXXXXXXX.json` (see
docs/telemetry.md). `range_checks` turns a snapshot into flags a human should see:
exploding gradients, dead activations, values outside a configured range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

N_BINS = 30  # bins per histogram: enough to see shape, small enough for 1000s of snapshots


@dataclass(frozen=True)
class Limits:
    """Thresholds of the automatic range checks."""

    grad_norm: float = 1e3  # global gradient L2 norm above this = exploding
    dead_fraction: float = 0.99  # an activation layer with more zeros than this = dead
    value_abs: float = 1e3  # any weight or activation beyond ±this = out of range


def summarize(t: torch.Tensor, bins: int = N_BINS) -> dict:
    """Bin one tensor. Non-finite values are counted, then left out of the bins.

    Two device reads per tensor (the summary numbers together, then the counts), not one
    per number: on a GPU each read is a sync.
    """
    flat = t.detach().float().flatten()
    n = flat.numel()
    if n == 0:
        return {"frac_nonfinite": 0.0, "frac_zero": 0.0, "edges": [], "counts": [], "mean": math.nan,
                "std": math.nan, "min": math.nan, "max": math.nan}  # fmt: skip
    finite_mask = torch.isfinite(flat)
    finite = flat[finite_mask]
    k = finite.numel()
    head = [1.0 - finite_mask.float().mean(), (flat == 0).float().mean()]
    if k:
        std = finite.std() if k > 1 else finite.new_zeros(())
        head += [finite.min(), finite.max(), finite.mean(), std]
    values = torch.stack(head).tolist()
    out = {"frac_nonfinite": values[0], "frac_zero": values[1]}
    if not k:
        return {**out, "edges": [], "counts": [], "mean": math.nan, "std": math.nan,
                "min": math.nan, "max": math.nan}  # fmt: skip
    lo, hi, mean, std = values[2:]
    a, b = (lo - 0.5, hi + 0.5) if lo == hi else (lo, hi)
    counts = torch.histc(finite, bins=bins, min=a, max=b)
    edges = torch.linspace(a, b, bins + 1)
    return {
        **out,
        "edges": [round(e, 6) for e in edges.tolist()],
        "counts": [int(c) for c in counts.tolist()],
        "mean": mean,
        "std": std,
        "min": lo,
        "max": hi,
    }


class ActivationTap:
    """Forward hooks on the model's leaf modules; records outputs only while armed."""

    def __init__(self, model: nn.Module) -> None:
        self.armed = False
        self.outputs: dict[str, torch.Tensor] = {}
        self._handles = []
        for name, module in model.named_modules():
            if name and not list(module.children()):
                self._handles.append(module.register_forward_hook(self._hook(name)))

    def _hook(self, name: str):
        def hook(module, inputs, output):
            if self.armed and isinstance(output, torch.Tensor):
                self.outputs[name] = output.detach()

        return hook

    def remove(self) -> None:
        for h in self._handles:
            h.remove()


def snapshot(model: nn.Module, activations: dict[str, torch.Tensor], step: int) -> dict:
    """All histograms at one step: call after backward (gradients present), before the next zero_grad."""
    tensors = {}
    for name, p in model.named_parameters():
        tensors[f"weights/{name}"] = summarize(p)
        if p.grad is not None:
            tensors[f"grads/{name}"] = summarize(p.grad)
    for name, out in activations.items():
        tensors[f"acts/{name}"] = summarize(out)
    return {"step": step, "tensors": tensors}


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
                out[f"hist/{key}/{stat}"] = value
    return out


def range_checks(snap: dict, norm: float, limits: Limits, relu_layers: set[str]) -> list[tuple[str, str]]:
    """Flags worth a human's attention: (flag, one-line detail)."""
    flags = []
    step = snap["step"]
    if not math.isfinite(norm) or norm > limits.grad_norm:
        flags.append(("exploding_grad", f"gradient norm {norm:.3g} > {limits.grad_norm:g} at step {step}"))
    for key, h in snap["tensors"].items():
        kind, _, name = key.partition("/")
        if kind == "acts" and name in relu_layers and h["frac_zero"] > limits.dead_fraction:
            flags.append(
                ("dead_activations", f"{name}: {h['frac_zero']:.1%} of activations are zero at step {step}")
            )
        if kind in ("weights", "acts") and h["max"] == h["max"]:
            peak = max(abs(h["min"]), abs(h["max"]))
            if peak > limits.value_abs:
                flags.append(
                    ("out_of_range", f"{key}: |value| {peak:.3g} > {limits.value_abs:g} at step {step}")
                )
    return flags


def relu_layer_names(model: nn.Module) -> set[str]:
    return {n for n, m in model.named_modules() if isinstance(m, (nn.ReLU, nn.LeakyReLU, nn.GELU))}
