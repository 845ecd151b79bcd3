"""Layered config: defaults → file → overrides; unknown keys and bad values are named."""

from __future__ import annotations

import pytest

from runners.stages.config import ConfigError, OverfitConfig, resolve


def test_layers_apply_in_order(tmp_path):
    f = tmp_path / "cfg.yaml"
    f.write_text("lr: 0.01\nwidth: 32\n")
    cfg = resolve(OverfitConfig, str(f), {"width": "64", "seed": None})
    assert (cfg.lr, cfg.width, cfg.seed) == (0.01, 64, 0)


def test_unknown_key_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown config key 'lr_decay'; known: task, seed, lr"):
        resolve(OverfitConfig, overrides={"lr_decay": "0.9"})


@pytest.mark.parametrize("key, value", [("width", "wide"), ("seed", "1.5"), ("lr", "fast")])
def test_bad_value_names_key_and_value(key, value):
    with pytest.raises(ConfigError, match=f"{key}="):
        resolve(OverfitConfig, overrides={key: value})


def test_out_of_range_is_rejected():
    with pytest.raises(ConfigError, match="few_samples=100"):
        resolve(OverfitConfig, overrides={"few_samples": 100})


def test_mlflow_float_text_is_an_int():
    assert resolve(OverfitConfig, overrides={"seed": "3.0"}).seed == 3


def test_missing_file_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        resolve(OverfitConfig, str(tmp_path / "nope.yaml"))
