"""Search spaces: parsed and checked against the stage config before Ray; mapped onto Ray Tune's."""

from __future__ import annotations

import pytest

from runners.stages.config import GeneralizeConfig, ScaleConfig
from runners.sweeps.progress import Tally
from runners.sweeps.settings import SweepError, SweepSettings
from runners.sweeps.space import Dist, SpaceError, load_space, parse_space, to_ray


def test_every_kind_parses_and_fixed_values_pass_through():
    space = parse_space(
        {
            "lr": {"loguniform": [1e-4, 1e-1]},
            "width": {"choice": [32, 64]},
            "depth": {"randint": [1, 4]},
            "seed": {"grid": [0, 1]},
            "batch_size": 128,
        },
        GeneralizeConfig,
    )
    assert space["lr"] == Dist("loguniform", (1e-4, 1e-1)) and space["depth"] == Dist("randint", (1, 4))
    assert space["batch_size"] == 128
    ray_space = to_ray(space)
    assert ray_space["seed"] == {"grid_search": [0, 1]} and ray_space["batch_size"] == 128
    assert 1e-4 <= ray_space["lr"].sample() <= 1e-1 and ray_space["depth"].sample() in (1, 2, 3)


@pytest.mark.parametrize(
    "data, says",
    [
        ({"lr": {"uniform": [0.1, 0.01]}}, "lr: uniform needs low < high"),
        ({"depth": {"randint": [0, 3]}}, "depth: value 0 is not allowed"),  # randint's low end is checked
        ({"width": {"randint": [1.5, 3]}}, "randint needs integer bounds"),
        ({"lr": {"choice": []}}, "choice needs a non-empty list"),
        ({"lr": {"choice": [0.1], "grid": [1]}}, "exactly one distribution"),
        ({"batchnorm": {"randint": [0, 2]}}, "batchnorm: is bool"),
        ({"dropout": {"uniform": [0.0, 1.5]}}, "dropout: value 1.5 is not allowed"),
        ({"processes": 2}, "processes: cannot be searched"),
        ([1, 2], "must be a non-empty mapping"),
    ],
)
def test_malformed_spaces_name_the_key_and_the_problem(data, says):
    with pytest.raises(SpaceError, match=says):
        parse_space(data, ScaleConfig)


def test_bad_yaml_and_missing_file_are_one_line(tmp_path):
    bad = tmp_path / "s.yaml"
    bad.write_text("lr: {loguniform: [1, 2]\n")
    # The line of the syntax error is named, and the message stays one line.
    with pytest.raises(SpaceError, match=r"^space file '.*s\.yaml', line 2: [^\n]+$"):
        load_space(bad, GeneralizeConfig)
    with pytest.raises(SpaceError, match="does not exist"):
        load_space(tmp_path / "nope.yaml", GeneralizeConfig)


def test_examples_space_is_valid():
    from pathlib import Path

    space = load_space(Path(__file__).resolve().parents[3] / "examples" / "space.yaml", GeneralizeConfig)
    assert isinstance(space["lr"], Dist)


@pytest.mark.parametrize(
    "values, says",
    [
        ({"gpus_per_trial": "1.5"}, "gpus_per_trial=1.5"),
        ({"grace_period": "9", "max_iterations": "4"}, "grace_period=9"),
        ({"reduction_factor": "1"}, "reduction_factor=1"),
        ({"num_samples": "0"}, "num_samples=0"),
        ({"max_concurrent": "two"}, "max_concurrent='two' is not a valid int"),
    ],
)
def test_sweep_settings_are_checked(values, says):
    with pytest.raises(SweepError, match=says):
        SweepSettings.from_strings({"max_iterations": "4", **values}).validate()


def test_progress_tally_counts_states_and_keeps_the_best():
    t = Tally("val/accuracy", higher_is_better=True, max_iterations=4, num_trials=5, shown=["lr"])
    for trial in "abcd":
        t.started(trial)
    assert t.result("a", 0.5, {"lr": 0.1, "n_samples": 8})
    assert not t.result("b", float("nan"), {"lr": 0.2})  # NaN never wins
    assert t.result("b", 0.9, {"lr": 0.2})
    t.ended("a", 2)
    t.ended("b", 4)
    t.ended("c", 1, failed=True)
    line = t.line(12)
    assert "5 trials: 1 running, 1 pending, 1 stopped, 1 done, 1 failed |" in line  # no killed: not shown
    assert line.endswith("best val/accuracy 0.9 (lr=0.2)")
    t.ended("d", 1, killed=True)
    assert "0 running, 1 pending, 1 stopped, 1 done, 1 failed, 1 killed |" in t.line(13)


def test_progress_counts_a_trial_whose_process_died_as_killed_not_failed(tmp_path):
    # Ray records a SIGKILLed trial's process as ActorDiedError; the run is tagged `killed`, and
    # the progress line said "failed" for it. The error is read as Ray leaves it: pickled.
    from types import SimpleNamespace

    import cloudpickle
    from ray.exceptions import ActorDiedError

    from runners.sweeps.progress import ProgressCallback

    def errored(name: str, error: BaseException) -> SimpleNamespace:
        path = tmp_path / f"{name}.pkl"
        path.write_bytes(cloudpickle.dumps(error))
        return SimpleNamespace(trial_id=name, pickled_error_file=str(path), last_result={}, status="ERROR")

    cb = ProgressCallback([], "val/accuracy", True, max_iterations=4, num_trials=2, every_s=1e9)
    cb.on_trial_error(0, [], errored("a", ActorDiedError()))
    cb.on_trial_error(0, [], errored("b", ValueError("shape mismatch at step 3")))
    assert cb.tally.state == {"a": "killed", "b": "failed"}
    cb.on_experiment_end([errored("a", ActorDiedError())])  # a trial counted already stays so
    assert "1 failed, 1 killed" in cb.tally.line(1)


def test_progress_prints_a_line_only_when_the_counts_change():
    import io

    from runners.sweeps.progress import ProgressCallback

    out = io.StringIO()
    cb = ProgressCallback([], "val/accuracy", True, max_iterations=4, num_trials=2, every_s=1e9, stream=out)
    cb.tally.started("a")
    cb._print(force=True)
    cb._print(force=True)  # nothing new: no second line
    cb.tally.ended("a", 4)
    cb._print(force=True)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "1 running" in lines[0] and "1 done" in lines[1]


@pytest.mark.parametrize(
    "spec",
    [{"loguniform": [1e-4, float("inf")]}, {"uniform": [float("-inf"), 0.1]}, {"uniform": [0, float("nan")]}],
)
def test_an_infinite_bound_is_refused_before_ray_sees_it(spec):
    # Before: [1e-4, .inf] passed and Ray failed the whole sweep with a misleading message.
    with pytest.raises(SpaceError, match="two finite numbers"):
        parse_space({"lr": spec}, GeneralizeConfig)


@pytest.mark.parametrize(
    "content, says",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "is not text"),
        (b"lr: [1, 2\n", "line 2"),
        (b"- 1\n- 2\n", "must be a non-empty mapping"),
    ],
)
def test_unreadable_space_files_are_one_line(tmp_path, content, says):
    path = tmp_path / "space.yaml"
    path.write_bytes(content)
    with pytest.raises(SpaceError, match=says) as info:
        load_space(path, GeneralizeConfig)
    assert "\n" not in str(info.value)
    with pytest.raises(SpaceError, match="is a directory"):
        load_space(tmp_path, GeneralizeConfig)
