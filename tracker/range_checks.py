"""The range checks: one meaning and one threshold per flag, for training and the board alike.

"Histograms of various quantities with known ranges to check that the initial values
and values over time remain within reasonable bounds" — from the method. The trainer
(runners/training/trainer.py) runs `check_snapshot` on every histogram snapshot it
takes and raises the first flag of each kind as tags `idealoop.flags` /
`idealoop.flag.<flag>`; the board runs the same function on the stored snapshot JSON
(`histograms/step_*.json`), so both give one verdict for one step. The snapshot stores
what the checks need beyond per-tensor summaries: `grad_norm` (the global gradient
norm) and `relu_layers` (which activations come out of a ReLU-like module).
`slow_batch` is checked per batch from the step's timing, not from a snapshot.

The flags, their thresholds and what to do about them: docs/telemetry.md
("Range-check flags"). Everything here is pure: dicts and floats in, `Flag`s out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, fields

EXPLODING_GRAD = "exploding_grad"
DEAD_ACTIVATIONS = "dead_activations"
OUT_OF_RANGE = "out_of_range"
SLOW_BATCH = "slow_batch"
FLAGS = (EXPLODING_GRAD, DEAD_ACTIVATIONS, OUT_OF_RANGE, SLOW_BATCH)


@dataclass(frozen=True)
class Limits:
    """Thresholds of the range checks; a flag is raised strictly beyond its threshold."""

    grad_norm: float = 1e3  # global L2 norm of all gradients above this (or non-finite) = exploding
    dead_fraction: float = 0.99  # a ReLU-like layer's outputs exactly zero more often than this = dead
    value_abs: float = 1e3  # a weight or activation beyond ±this (or non-finite) = out of range
    slow_batch_s: float = 1.0  # the method: a batch (data + compute) should take under a second

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not value >= 0:  # also rejects NaN
                raise ValueError(f"Limits.{f.name}={value!r} is out of range; allowed: >= 0")
        if self.dead_fraction > 1:
            raise ValueError(f"Limits.dead_fraction={self.dead_fraction!r} is out of range; allowed: 0..1")


LIMITS = Limits()


@dataclass(frozen=True)
class Flag:
    """One raised flag: which check, at which step, on which tensor, and a one-line detail."""

    name: str  # one of FLAGS
    step: int
    tensor: str  # "<kind>/<name>" it concerns ("" for slow_batch)
    detail: str  # the tag value idealoop.flag.<name>: layer, step, value


def _peak(stats: dict) -> float:
    """Largest |finite value| of a tensor summary; 0 when it had none (an empty or all-NaN tensor)."""
    peak = max(abs(stats.get("min", math.nan)), abs(stats.get("max", math.nan)))
    return peak if peak == peak else 0.0


def snapshot_grad_norm(snap: dict) -> float:
    """The global L2 gradient norm at a snapshot: stored by the trainer as `grad_norm`.

    Snapshots written before the field existed get it rebuilt from the per-tensor
    summaries (sum of squares = (n-1)·std² + n·mean², std with n-1 as the trainer's is):
    the same number up to float32 rounding, and infinite if any gradient entry was not finite.
    """
    if "grad_norm" in snap:
        return float(snap["grad_norm"])
    total = 0.0
    for key, h in snap.get("tensors", {}).items():
        if not key.startswith("grads/"):
            continue
        if h.get("frac_nonfinite", 0.0) > 0:
            return math.inf
        n = sum(h.get("counts", []))
        if n:
            total += (n - 1) * h["std"] ** 2 + n * h["mean"] ** 2
    return math.sqrt(total)


def exploding_grad(snap: dict, limits: Limits = LIMITS) -> list[Flag]:
    """The global gradient norm above `limits.grad_norm`, or not finite.

    Global, not per entry: it is the number gradient clipping acts on and the one logged
    as `train/grad_norm`, and it is never below any single entry, so a huge entry trips it too.
    The flag points at the gradient with the largest entry (non-finite ones first).
    """
    norm = snapshot_grad_norm(snap)
    if math.isfinite(norm) and norm <= limits.grad_norm:
        return []
    grads = {k: h for k, h in snap.get("tensors", {}).items() if k.startswith("grads/")}
    tensor, where = "", ""
    if grads:
        tensor = max(grads, key=lambda k: (grads[k].get("frac_nonfinite", 0.0) > 0, _peak(grads[k])))
        h = grads[tensor]
        where = " (largest in " + tensor
        where += ": non-finite)" if h.get("frac_nonfinite", 0.0) > 0 else f": |g| {_peak(h):.3g})"
    verdict = f"> {limits.grad_norm:g}" if math.isfinite(norm) else "is not finite"
    detail = f"gradient norm {norm:.3g} {verdict} at step {snap['step']}{where}"
    return [Flag(EXPLODING_GRAD, snap["step"], tensor, detail)]


def dead_activations(snap: dict, limits: Limits = LIMITS) -> list[Flag]:
    """ReLU-like layers whose outputs are exactly zero in more than `limits.dead_fraction` of entries.

    Only ReLU-like outputs: elsewhere a run of zeros is no sign of death (a flattened
    one-hot input, a dropout mask). A snapshot that does not list its ReLU layers
    (written before `relu_layers` existed) has every activation checked.
    """
    relu = snap.get("relu_layers")
    out = []
    for key, h in snap.get("tensors", {}).items():
        kind, _, name = key.partition("/")
        if kind != "acts" or (relu is not None and name not in relu):
            continue
        if h.get("frac_zero", 0.0) > limits.dead_fraction:
            detail = f"{name}: {h['frac_zero']:.1%} of activations are zero at step {snap['step']}"
            out.append(Flag(DEAD_ACTIVATIONS, snap["step"], key, detail))
    return out


def out_of_range(snap: dict, limits: Limits = LIMITS) -> list[Flag]:
    """Weights and activations holding a non-finite value, or a value beyond ±`limits.value_abs`.

    Gradients are left to `exploding_grad` (a non-finite gradient makes the norm non-finite).
    """
    out = []
    for key, h in snap.get("tensors", {}).items():
        if key.partition("/")[0] not in ("weights", "acts"):
            continue
        nonfinite, peak = h.get("frac_nonfinite", 0.0), _peak(h)
        if nonfinite > 0:
            detail = f"{key}: {nonfinite:.1%} of values are not finite at step {snap['step']}"
        elif peak > limits.value_abs:
            detail = f"{key}: |value| {peak:.3g} > {limits.value_abs:g} at step {snap['step']}"
        else:
            continue
        out.append(Flag(OUT_OF_RANGE, snap["step"], key, detail))
    return out


def check_snapshot(snap: dict, limits: Limits = LIMITS) -> list[Flag]:
    """Every flag one histogram snapshot raises, in a fixed order (exploding, dead, out of range)."""
    return exploding_grad(snap, limits) + dead_activations(snap, limits) + out_of_range(snap, limits)


def first_flags(snapshots: Iterable[dict], limits: Limits = LIMITS) -> dict[str, Flag]:
    """The first flag of each kind over a run's snapshots, oldest first: what training tags.

    The trainer raises each flag once, at the first snapshot that trips it, with the first
    flag `check_snapshot` lists; this replays that choice on stored snapshots.
    """
    first: dict[str, Flag] = {}
    for snap in sorted(snapshots, key=lambda s: s["step"]):
        for flag in check_snapshot(snap, limits):
            first.setdefault(flag.name, flag)
    return first


def slow_batch(step: int, data_s: float, compute_s: float, limits: Limits = LIMITS) -> Flag | None:
    """A batch whose data wait plus compute took over `limits.slow_batch_s`, with its bottleneck."""
    if data_s + compute_s <= limits.slow_batch_s:
        return None
    where = "data loading" if data_s > compute_s else "compute"
    detail = (
        f"batch at step {step} took {data_s + compute_s:.2f} s "
        f"(data {data_s:.2f} s, compute {compute_s:.2f} s): bottleneck is {where}"
    )
    return Flag(SLOW_BATCH, step, "", detail)
