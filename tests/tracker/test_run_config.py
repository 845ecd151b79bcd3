"""tracker/run_config.py: a run's config from its params, short values, the keys that differ."""

from __future__ import annotations

import pytest

from tracker.run_config import (
    config_label,
    config_of,
    differing_keys,
    shared_settings,
    short_value,
    trial_name,
)


@pytest.mark.parametrize(
    "value, shown",
    [
        (0.003, "3e-3"),
        ("0.0031622776601683794", "3.2e-3"),
        (1e-4, "1e-4"),
        ("256", "256"),
        ("256.0", "256"),  # MLflow hands floats back as text; an integer stays an integer
        (0.25, "0.25"),
        (0.0536, "0.0536"),
        (123456.0, "1.2e5"),
        ("True", "True"),
        ("cosine", "cosine"),
        ("nan", "nan"),
        ("a_very_long_task_name:make_task", "a_very_long_tas…"),
    ],
)
def test_short_value(value, shown):
    assert short_value(value) == shown


def test_config_of_takes_the_stage_params_and_fills_in_trial_values():
    params = {
        "lr": "0.003",
        "width": "256",
        "stage": "generalize",  # shown in its own column, not config
        "device_resolved": "cpu",
        "model_parameters": "26122",
        "trial.lr": "0.0030000001",  # the stage's own value wins
        "trial.depth": "3",  # the stage never logged depth (it failed first): the trial's value fills in
        "sweep.space": "{}",
        "revision.0001": "{}",
    }
    assert config_of(params) == {"lr": "0.003", "width": "256", "depth": "3"}


def test_differing_keys_ignore_missing_keys_and_equal_spellings():
    overfit = {"lr": "0.001", "width": "128", "few_samples": "8"}
    generalize = {"lr": "1e-3", "width": "256", "batch_size": "64", "seed": "0"}
    trial = {"lr": "0.003", "width": "256", "batch_size": "64", "seed": "1"}
    # few_samples only on the overfit run: a stage difference, not a config one; 0.001 == 1e-3.
    assert differing_keys([overfit, generalize]) == ["width"]
    # lr, width, ..., seed first in that order (what people read first), whatever the dict order
    assert differing_keys([trial, overfit, generalize]) == ["lr", "width", "seed"]
    assert differing_keys([generalize]) == []


def test_config_label_is_short_and_bounded():
    config = {"lr": "0.003", "width": "256.0", "depth": "2"}
    assert config_label(config, ["lr", "width", "missing"]) == "lr=3e-3 width=256"
    long = config_label({f"key{i}": "0.5" for i in range(20)}, [f"key{i}" for i in range(20)], max_len=30)
    assert len(long) == 30 and long.endswith("…")


def test_trial_name_names_the_sampled_values_only():
    config = {"lr": 0.0031622, "width": 256, "hist_every": 0, "seed": 3}
    assert trial_name(config, ["width", "lr"], "train_trial_024c7_00002") == "lr=3.2e-3 width=256"
    # a space of fixed values only samples nothing: Ray's name is kept
    assert trial_name(config, [], "train_trial_024c7_00002") == "train_trial_024c7_00002"
    many = {f"k{i}": 0.123456 for i in range(30)}
    assert len(trial_name(many, list(many), "x")) <= 60


def test_shared_settings_skip_empty_configs_and_differences():
    assert shared_settings([{"lr": "0.001", "seed": "0"}, {}, {"lr": "0.01", "seed": "0.0"}]) == "seed=0"
    assert shared_settings([{}, {}]) == ""
