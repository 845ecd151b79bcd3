"""Tasks with the mistakes a new user makes inside a task, one factory each (issue 18's "Why").

Each is loaded as `tests.runners.tasks.broken_tasks:<name>`; the tests say which one line
each must produce. The data is a tiny tabular regression: y = x @ w + noise, 8 features.
"""

from __future__ import annotations

import torch
from torch import nn

from runners.tasks.base import ModelSpec, Split, Task


def _splits(seed: int = 0, n: int = 96) -> tuple[Split, Split, Split]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    y = x @ torch.randn(8, 1, generator=g) + 0.1 * torch.randn(n, 1, generator=g)
    return Split(x[:64], y[:64]), Split(x[64:80], y[64:80]), Split(x[80:], y[80:])


def _mlp(out: int = 1):
    return lambda spec: nn.Sequential(nn.Linear(8, spec.width), nn.ReLU(), nn.Linear(spec.width, out))


def _regression(**kw) -> Task:
    train, val, test = _splits()
    parts = {"build_model": _mlp(), "loss": nn.functional.mse_loss, "kind": "regression", **kw}
    return Task("tabular", train, val, test, **parts)


def regression(seed: int = 0) -> Task:
    """The correct task: every check passes."""
    return _regression()


def missing_metric(seed: int = 0) -> Task:
    return _regression(target_metric="rmse")  # the regression metrics are mse, mae, r2


def wide_output(seed: int = 0) -> Task:
    return _regression(build_model=_mlp(3))  # (N, 3) against (N, 1): mse_loss only warns


def default_kind(seed: int = 0) -> Task:
    train, val, test = _splits()
    return Task("tabular", train, val, test, _mlp(), nn.functional.mse_loss)  # kind left classification


def unknown_kind(seed: int = 0) -> Task:
    return _regression(kind="regresion")


def as_dict(seed: int = 0) -> dict:
    train, val, test = _splits()
    return {"train": train, "val": val, "test": test, "build_model": _mlp(), "loss": nn.functional.mse_loss}


class _BreaksLater(nn.Module):
    """Fine for `after` training forwards, then a shape error or NaN outputs."""

    def __init__(self, spec: ModelSpec, after: int, how: str) -> None:
        super().__init__()
        self.net, self.after, self.how, self.calls = _mlp()(spec), after, how, 0

    def forward(self, x):
        self.calls += self.training
        out = self.net(x)
        if self.calls > self.after and self.training:
            if self.how == "shape":
                return out.reshape(-1, 2)  # a shape error the first batch did not have
            return out * float("nan")
        return out


def shape_later(seed: int = 0) -> Task:
    return _regression(build_model=lambda spec: _BreaksLater(spec, 3, "shape"))


def nan_later(seed: int = 0) -> Task:
    return _regression(build_model=lambda spec: _BreaksLater(spec, 3, "nan"))
