"""Histograms of weights, gradients and activations, and the range checks run on them.

"Histograms of various quantities with known ranges to check that the initial values
and values over time remain within reasonable bounds" — from the method. Every
`hist_every` steps the trainer takes a snapshot: each tracked tensor binned into
edges + counts with summary numbers (mean, std, min, max, fraction of zeros,
fraction non-finite), stored as `histograms/step_XXXXXXXX.json` (see
docs/telemetry.md) with the global gradient norm and the names of the ReLU-like
layers, which is all tracker/range_checks.py needs to turn it into flags a human should
see — the same verdict whether the trainer checks it live or the board reads it back.
The snapshot is an artifact only: its per-tensor numbers are not MLflow metrics (a
4-layer MLP had 72 `hist/*` keys burying the run's losses in MLflow's UI); only the
global gradient norm is, as `train/grad_norm`.

Tensors are named by their module path (`acts/encoder.conv1`, `weights/fc.weight`); a
path step that is only an index in a container (`nn.Sequential`'s `3`) gets its module's
type (`3_relu`), so a heatmap title says what the layer is. `bounded` keeps names
unique and at most `MAX_NAME` characters.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import torch
from torch import nn

N_BINS = 30  # bins per histogram: enough to see shape, small enough for 1000s of snapshots
MAX_NAME = 80  # characters of a tensor name (after `<kind>/`); longer paths keep their head and tail


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


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a (Distributed)DataParallel wrapper: its names carry no `module.` prefix."""
    wrappers = (nn.DataParallel, nn.parallel.DistributedDataParallel)
    return model.module if isinstance(model, wrappers) else model


def module_names(model: nn.Module) -> dict[str, str]:
    """Module path -> the name its activations are stored under, for every submodule.

    The path is PyTorch's (`down.0.1`); its last step, when only an index, gets the
    module's type: `down.0.1_relu`, `3_linear`. Unique and bounded (`bounded`).
    """
    paths = [(path, m) for path, m in unwrap(model).named_modules() if path]
    return dict(zip([p for p, _ in paths], bounded([_readable(p, m) for p, m in paths]), strict=True))


def parameter_names(model: nn.Module) -> dict[str, str]:
    """Parameter path -> the name its weights and gradients are stored under: `<module name>.<param>`."""
    model = unwrap(model)
    mods = module_names(model)
    paths = [path for path, _ in model.named_parameters()]
    named = []
    for path in paths:
        owner, _, param = path.rpartition(".")
        named.append(f"{mods[owner]}.{param}" if owner else param)
    return dict(zip(paths, bounded(named), strict=True))


def _readable(path: str, module: nn.Module) -> str:
    head, _, last = path.rpartition(".")
    if last.isdigit():
        last = f"{last}_{type(module).__name__.lower().lstrip('_')}"
    return f"{head}.{last}" if head else last


def bounded(names: list[str], limit: int = MAX_NAME) -> list[str]:
    """The names, each at most `limit` characters and all distinct, in order.

    A long name keeps its head (the top-level block) and its tail (the layer itself) around
    a `…` and a short hash of the whole name; a clash gets `~2`, `~3`, … on the end.
    """
    out: list[str] = []
    seen: set[str] = set()
    for name in names:
        if len(name) > limit:
            mark = "…" + hashlib.sha1(name.encode()).hexdigest()[:6] + "…"
            head = (limit - len(mark)) // 3
            name = name[:head] + mark + name[len(name) - (limit - len(mark) - head) :]
        base, n = name, 1
        while name in seen:
            n += 1
            suffix = f"~{n}"
            name = base[: limit - len(suffix)] + suffix
        seen.add(name)
        out.append(name)
    return out


class ActivationTap:
    """Records the outputs of the model's leaf modules during one armed forward pass.

    Hooks exist only while armed: a registered forward hook, even one that returns at
    once, sends every call of its module down PyTorch's slow hooked path (~15% of a
    small MLP's step, measured on digits), so the tap is attached for the snapshot's
    step and removed right after.
    """

    def __init__(self, model: nn.Module) -> None:
        self.outputs: dict[str, torch.Tensor] = {}  # by `module_names`' name
        names = module_names(model)
        inner = unwrap(model)
        self._leaves = [(names[n], m) for n, m in inner.named_modules() if n and not list(m.children())]
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
    model = unwrap(model)
    weights = dict(model.named_parameters())
    grads = {path: p.grad for path, p in weights.items() if p.grad is not None}
    return snapshots([(weights, grads, activations)], parameter_names(model), relu_layer_names(model), step)[
        0
    ]


def snapshots(
    models: list[tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, torch.Tensor]]],
    names: dict[str, str],  # parameter path -> stored name (`parameter_names`)
    relu_layers: list[str],
    step: int,
) -> list[dict]:
    """`snapshot` of several models of one architecture at once, from their tensors: (weights by
    parameter path, gradients by path, activations by name) per model.

    Packed seeds (runners/training/packed_snapshots.py) hold theirs as slices of stacked tensors,
    not as modules. All models are binned in one `summarize_all` and their norms read back
    together: three device reads for K models, not 3K.
    """
    tensors: dict[tuple[int, str], torch.Tensor] = {}
    norms = []
    for i, (weights, grads, activations) in enumerate(models):
        for path, w in weights.items():
            tensors[(i, f"weights/{names[path]}")] = w
            if path in grads:
                tensors[(i, f"grads/{names[path]}")] = grads[path]
        for name, out in activations.items():
            tensors[(i, f"acts/{name}")] = out
        norms.append(
            torch.stack([g.detach().float().norm() for g in grads.values()]).norm() if grads else None
        )
    found = [n for n in norms if n is not None]
    read = iter(torch.stack(found).tolist() if found else [])  # the models share a device: one read
    out = [
        {
            "step": step,
            "grad_norm": next(read) if norm is not None else 0.0,  # exploding_grad judges this, not entries
            "relu_layers": relu_layers,  # dead_activations looks only at these outputs
            "tensors": {},
        }
        for norm in norms
    ]
    for (i, name), stats in summarize_all(tensors).items():  # type: ignore[arg-type] - any key names one
        out[i]["tensors"][name] = stats
    return out


def grad_norm(model: nn.Module) -> float:
    grads = [p.grad.detach().float().norm() for p in model.parameters() if p.grad is not None]
    return torch.stack(grads).norm().item() if grads else 0.0


def relu_layer_names(model: nn.Module) -> list[str]:
    """ReLU-like modules (by `module_names`' name): the outputs whose exact zeros dead_activations counts."""
    names = module_names(model)
    relu = (nn.ReLU, nn.LeakyReLU, nn.GELU)
    return [names[n] for n, m in unwrap(model).named_modules() if n and isinstance(m, relu)]
