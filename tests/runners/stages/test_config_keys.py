"""`describe`: what the Launch form offers for each key agrees with what `validate` enforces."""

from __future__ import annotations

import pytest

from runners.stages import LADDER
from runners.stages.config import ConfigError, OverfitConfig, ScaleConfig, resolve
from runners.stages.config_keys import BOUNDS, describe

KEYS = [(s.config, k) for s in LADDER for k in describe(s.config)]


def _ok(cls, name, value) -> bool:
    try:
        resolve(cls, overrides={name: value})
    except ConfigError:
        return False
    return True


@pytest.mark.parametrize(("cls", "key"), KEYS, ids=[f"{c.__name__}.{k.name}" for c, k in KEYS])
def test_each_keys_bounds_are_the_ones_validate_enforces(cls, key):
    assert _ok(cls, key.name, key.default)  # the default is allowed
    if key.kind not in (int, float):
        return
    if key.low is None and key.high is None:  # no bound listed: validate must not refuse a negative
        assert _ok(cls, key.name, -1)
        return
    eps = 1 if key.kind is int else 1e-9
    if key.low is not None:
        assert _ok(cls, key.name, key.low) is not key.low_open
        assert not _ok(cls, key.name, key.low - eps)
        assert _ok(cls, key.name, key.low + eps)
    if key.high is not None:
        assert _ok(cls, key.name, key.high) is not key.high_open
        assert not _ok(cls, key.name, key.high + eps)
        assert _ok(cls, key.name, key.high - eps)


def test_every_bound_names_a_real_key():
    names = {k.name for _, k in KEYS}
    assert set(BOUNDS) <= names


def test_a_key_says_its_type_default_allowed_values_and_help():
    keys = {k.name: k for k in describe(OverfitConfig)}
    assert [k.name for k in describe(OverfitConfig)][:4] == ["task", "seed", "seeds", "lr"]
    few = keys["few_samples"]
    assert (few.kind, few.default, few.allowed) == (int, 8, "[1, 64]")
    assert few.help == "samples in the overfit-few check (the method says 5-10)"
    assert (keys["lr"].kind, keys["lr"].allowed) == (float, "> 0")
    scale = {k.name: k for k in describe(ScaleConfig)}
    assert scale["lr_decay"].choices == ("cosine", "none") and not scale["lr_decay"].other_choices
    assert scale["device"].other_choices and _ok(ScaleConfig, "device", "cuda:1")
    assert (scale["batchnorm"].kind, scale["batchnorm"].default) == (bool, True)
    assert (scale["depth"].default, scale["depth"].help) == (3, "hidden layers")  # help from the base class
    assert scale["hist_budget"].allowed == "[0, 1)" and scale["processes"].allowed == ">= 1"
