"""Tasks: the built-in digits split, a user's own task, and one-line errors for bad ones."""

from __future__ import annotations

import sys
import textwrap

import pytest
import torch

from runners.tasks.base import ModelSpec, TaskError, load_task


def test_digits_split_is_fixed_by_seed_and_disjoint():
    a, b = load_task("digits", seed=0), load_task("digits", seed=0)
    assert torch.equal(a.train.x, b.train.x)
    assert len(a.train) + len(a.val) + len(a.test) == 1797
    c = load_task("digits", seed=1)
    assert not torch.equal(a.train.y[:50], c.train.y[:50])
    model = a.build_model(ModelSpec())
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    # Defaults are plain: no dropout, no batchnorm.
    assert not any(isinstance(m, (torch.nn.Dropout, torch.nn.BatchNorm1d)) for m in model.modules())


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(name, body):
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
        sys.modules.pop(name, None)
        return name

    return write


def test_user_task_loads(user_module):
    mod = user_module(
        "my_task_ok",
        """
        import torch
        from runners.tasks.base import Split, Task
        def make_task(seed=0):
            g = torch.Generator().manual_seed(seed)
            s = lambda n: Split(torch.randn(n, 4, generator=g), torch.randint(0, 2, (n,), generator=g))
            return Task("mine", s(20), s(5), s(5), lambda spec: torch.nn.Linear(4, 2),
                        torch.nn.functional.cross_entropy)
    """,
    )
    task = load_task(f"{mod}:make_task", seed=1)
    assert task.name == "mine" and len(task.train) == 20


@pytest.mark.parametrize(
    "spec, message",
    [
        ("cifar", "unknown task 'cifar'; built-in: digits, shapes, denoise"),
        ("no_such_module_xyz:make", "cannot import module 'no_such_module_xyz'"),
    ],
)
def test_bad_task_names_the_problem(spec, message):
    with pytest.raises(TaskError, match=message):
        load_task(spec)


def test_missing_function_and_missing_part(user_module):
    mod = user_module(
        "my_task_bad",
        """
        from runners.tasks.base import Task
        def make_task(seed=0):
            return Task("t", [1], [1], [1], build_model=None, loss=None)
    """,
    )
    with pytest.raises(TaskError, match="has no function 'nope'"):
        load_task(f"{mod}:nope")
    with pytest.raises(TaskError, match="lacks build_model, loss"):
        load_task(f"{mod}:make_task")
