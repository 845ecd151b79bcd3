"""Each of stage_check's checks catches its seeded bug, and passes the plain model.

The models are tiny MLPs on a 3-class toy problem, so every check runs in milliseconds;
each test plants one bug (the issue's list) and asserts the check fails naming it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from runners.tasks.base import ModelSpec, Split, Task
from runners.training import checks

torch.manual_seed(0)
X, Y = torch.randn(48, 6), torch.randint(0, 3, (48,))


def mlp(spec: ModelSpec | None = None) -> nn.Module:
    spec = spec or ModelSpec(width=16)
    return nn.Sequential(nn.Linear(6, spec.width), nn.ReLU(), nn.Linear(spec.width, 3))


def task(build=mlp, **kw) -> Task:
    split = Split(X, Y)
    return Task("toy", split, split, split, build, nn.functional.cross_entropy, **kw)


BATCH = Split(X[:16], Y[:16])


class MixesBatch(nn.Module):
    """A reshape across the batch dimension: sample i's output reads sample j's input."""

    def __init__(self):
        super().__init__()
        self.net = mlp()

    def forward(self, x):
        return self.net(x.t().reshape(x.shape))


class DeadBranch(nn.Module):
    """A second branch whose output is multiplied by zero: its weights never learn."""

    def __init__(self):
        super().__init__()
        self.net, self.side = mlp(), nn.Linear(6, 3)

    def forward(self, x):
        return self.net(x) + 0 * self.side(x)


class Noisy(nn.Module):
    """Noise from an unseeded generator: the same seed gives different losses."""

    def __init__(self):
        super().__init__()
        self.net = mlp()

    def forward(self, x):
        return self.net(x) + torch.from_numpy(np.random.default_rng().normal(size=(len(x), 3))).float()


class WrongBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**2

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x  # should be 2 * x


class RightBackward(WrongBackward):
    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 2 * x


def test_the_plain_model_passes_every_check():
    t = task()
    results = [
        checks.outputs(t, mlp(), BATCH),
        checks.target_metric(t, mlp(), BATCH),
        checks.init_loss(t, mlp(), BATCH, 0.5),
        checks.gradients(t, mlp(), BATCH, 1e-3),
        checks.batch_independence(t, mlp(), BATCH),
        checks.custom_layers(task(custom_layers={"square": (RightBackward.apply, torch.randn(3))})),
        checks.determinism(t, mlp, BATCH, seed=0),
    ]
    assert [r.name for r in results if not r.passed] == []


def test_a_batch_mixing_model_fails_batch_independence():
    r = checks.batch_independence(task(), MixesBatch(), BATCH)
    assert not r.passed and "depend on other samples" in r.reason and r.values["check/batch_leak"] > 0


def test_batch_independence_for_integer_inputs_changes_the_other_samples():
    class Embed(nn.Module):
        def __init__(self, mix: bool):
            super().__init__()
            self.emb, self.mix = nn.Embedding(10, 3), mix

        def forward(self, x):
            h = self.emb(x).mean(1)
            return h + h.mean(0) if self.mix else h

    tokens = Split(torch.randint(0, 10, (8, 5)), torch.zeros(8, dtype=torch.long))
    assert checks.batch_independence(task(), Embed(False), tokens).passed
    assert not checks.batch_independence(task(), Embed(True), tokens).passed


def test_a_dead_branch_and_a_frozen_layer_are_named():
    r = checks.gradients(task(), DeadBranch(), BATCH, 1e-3)
    assert not r.passed and "no gradient: side.weight, side.bias" in r.reason
    frozen = mlp()
    frozen[0].weight.requires_grad_(False)
    r = checks.gradients(task(), frozen, BATCH, 1e-3)
    assert not r.passed and "frozen (requires_grad=False): 0.weight" in r.reason


def test_a_wrong_output_shape_fails_outputs():
    wide = lambda spec=None: nn.Linear(6, 3)  # noqa: E731
    reg = Task("r", Split(X, X[:, :1]), Split(X, X[:, :1]), Split(X, X[:, :1]), wide, nn.functional.mse_loss,
               kind="regression")  # fmt: skip
    r = checks.outputs(reg, wide(), Split(X[:8], X[:8, :1]))
    assert not r.passed and "needs outputs of the targets' shape" in r.reason


def test_an_init_far_from_ln_c_fails_init_loss():
    hot = mlp()
    with torch.no_grad():
        hot[2].weight.mul_(100)  # confident, wrong logits at init
    r = checks.init_loss(task(), hot, BATCH, 0.5)
    assert not r.passed and "expected 1.099" in r.reason and r.values["check/init_loss"] > 3


def test_a_custom_layer_with_a_wrong_backward_fails_gradcheck():
    r = checks.custom_layers(task(custom_layers={"square": (WrongBackward.apply, torch.randn(3))}))
    assert not r.passed and "square" in r.reason


def test_a_non_deterministic_layer_fails_determinism():
    r = checks.determinism(task(), lambda: Noisy(), BATCH, seed=0)
    assert not r.passed and r.values["check/determinism_diff"] > 0


def test_a_metric_with_the_wrong_direction_fails_target_metric():
    r = checks.target_metric(task(higher_is_better=False), mlp(), BATCH)  # accuracy, "lower is better"
    assert not r.passed and "check higher_is_better" in r.reason


@pytest.mark.parametrize("passed", [True, False])
def test_a_tasks_own_check_becomes_a_result(passed):
    def labels_balanced(task, model):
        return passed, "3 classes, 16 each"

    (r,) = checks.task_checks(task(checks=[labels_balanced]), mlp())
    assert (r.name, r.passed, r.reason) == ("labels_balanced", passed, "3 classes, 16 each")
