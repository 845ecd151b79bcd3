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
    with pytest.raises(ConfigError, match=r"unknown config key 'lr_decay'; known: task, seed, seeds, lr"):
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


@pytest.mark.parametrize(
    "overrides, says",
    [
        ({"lr": "inf"}, "lr=inf is not a finite number"),
        ({"lr": "nan"}, "lr=nan is not a finite number"),
        ({"hist_budget": "-inf"}, "hist_budget=-inf is not a finite number"),
        ({"epochs": "inf"}, "epochs='inf' is not a valid int"),
        ({"device": "banana"}, "device='banana' is not allowed; allowed: auto, cpu, cuda, cuda:N, mps"),
        ({"device": "cuda:x"}, "device='cuda:x' is not allowed"),
        ({"lr": "9" * 400 + "x"}, r"lr='9{40,60}… is not a valid float"),
    ],
)
def test_bad_values_are_one_short_line(overrides, says):
    from runners.stages.config import GeneralizeConfig

    with pytest.raises(ConfigError, match=says) as info:
        resolve(GeneralizeConfig, overrides=overrides)
    assert len(str(info.value)) < 150


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:1", "mps"])
def test_device_names_torch_runs_on_are_accepted(device):
    assert resolve(OverfitConfig, overrides={"device": device}).device == device


@pytest.mark.parametrize(
    "name, content, says",
    [
        ("c.yaml", b"lr: [1,\n  2\nwidth: 3\n", r"^config file '.*c\.yaml', line \d+: "),
        ("c.json", b'{"lr": 1e-3,\n "width": }', r"^config file '.*c\.json', line 2: Expecting value$"),
        ("c.yaml", b"\xff\xfe\x00binary", "is not text"),
        ("c.yaml", b"- a list\n", "must hold a mapping"),
    ],
)
def test_config_file_errors_name_the_file_and_line(tmp_path, name, content, says):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=says) as info:
        resolve(OverfitConfig, str(path))
    assert "\n" not in str(info.value)


def test_a_directory_as_config_says_so(tmp_path):
    # Before: "does not exist", which sends the user looking for a missing file.
    with pytest.raises(ConfigError, match="is a directory"):
        resolve(OverfitConfig, str(tmp_path))


def test_an_infinite_value_from_a_file_is_refused_too(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("lr: .inf\n")
    with pytest.raises(ConfigError, match="lr=inf is not a finite number"):
        resolve(OverfitConfig, str(path))
