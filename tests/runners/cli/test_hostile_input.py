"""Hostile input, generated: every invalid input gets one line and a non-zero exit, and nothing is
half-written.

Hypothesis draws idea fields and notes, `--set` values, config and search-space files, task
references, tracking URIs and whole command lines. Each case runs the real CLI (`main(argv)`)
against a real SQLite store and checks the contract:
- exit 0, or exactly one stderr line `idealoop: error: ...` (no traceback) and a non-zero exit;
- a refused case leaves the store as it was: runs, params and metrics counted before and after.
Inputs the implementation accepts and that would start training or Ray are not run (the
pre-checks below say which); the counts of cases tried are printed at the end of the session.
"""

from __future__ import annotations

import contextlib
import io
import string
from collections import Counter

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from runners.cli import main
from runners.stages.config import ConfigError, GeneralizeConfig, OverfitConfig, resolve

TRIED: Counter = Counter()  # category -> cases run through the CLI (printed by conftest)
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,  # the same cases every run: a CI failure reproduces locally
    derandomize=True,
)


def _store_counts(store) -> tuple[int, int, int]:
    from mlflow.entities import ViewType

    runs = store.client.search_runs([store.experiment_id], run_view_type=ViewType.ALL, max_results=1000)
    return (
        len(runs),
        sum(len(r.data.params) for r in runs),
        sum(len(store.client.get_metric_history(r.info.run_id, k)) for r in runs for k in r.data.metrics),
    )


def _cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own exits
            code = exc.code if isinstance(exc.code, int) else 1
    return code, err.getvalue()


def check(store, category: str, argv: list[str]) -> int:
    """Run one case and hold the contract; return the exit code."""
    before = _store_counts(store)
    code, err = _cli(argv)
    TRIED[category] += 1
    assert "Traceback" not in err, f"{argv!r} printed a traceback:\n{err}"
    if code != 0:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("idealoop: error: "), f"{argv!r}:\n{err}"
        assert len(lines[0]) < 600, f"{argv!r}: a {len(lines[0])}-character error line"
        assert _store_counts(store) == before, f"{argv!r} was refused but wrote to the store"
    return code


# -- strategies -------------------------------------------------------------------------------------
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["", " ", "nan", "inf", "-inf", "1e999", "0x10", "1_000", "½", "0", "-1", "1e-320"]),
    st.text(max_size=12),
    st.just("9" * 10_000 + "x"),
)
texts = st.one_of(st.text(max_size=40), st.text(min_size=190, max_size=260), st.just("n" * 9_000))
safe_text = st.text(alphabet=string.ascii_letters + string.digits + "_", min_size=1, max_size=12)


@pytest.fixture
def idea(store, make_idea):
    return make_idea("target")


@SETTINGS
@given(title=texts, values=st.tuples(numbers, numbers, numbers, numbers), category=texts, description=texts)
def test_idea_add(store, title, values, category, description):
    hours, complexity, impact, likelihood = values
    argv = ["idea", "add", "--title", title, "--hours", hours, "--complexity", complexity]
    argv += ["--impact", impact, "--likelihood", likelihood, "--category", category]
    argv += ["--description", description]
    before = _store_counts(store)[0]
    if check(store, "idea add", argv) == 0:
        assert _store_counts(store)[0] == before + 1


@SETTINGS
@given(
    fields=st.dictionaries(st.sampled_from(["hours", "complexity", "impact", "likelihood"]), numbers),
    texts_=st.dictionaries(st.sampled_from(["title", "category", "description", "note", "status"]), texts),
)
def test_idea_update(store, idea, fields, texts_):
    argv = ["idea", "update", idea]
    for key, value in {**fields, **texts_}.items():
        argv += [f"--{key}", value]
    if check(store, "idea update", argv) == 0:
        code, err = _cli(["idea", "show", idea, "--json"])  # and the idea stays readable
        assert code == 0, err


config_keys = st.sampled_from([f.name for f in OverfitConfig.__dataclass_fields__.values()] + ["bogus", ""])


@SETTINGS
@given(pairs=st.lists(st.tuples(config_keys, numbers), min_size=1, max_size=3))
def test_run_with_set_values(store, idea, pairs):
    overrides = dict(pairs)
    try:
        resolve(OverfitConfig, overrides={k: v for k, v in overrides.items() if k})
        assume(any(not k for k in overrides))  # a valid config would train: not here
    except ConfigError:
        pass
    argv = ["run", "overfit", "--idea", idea, "--no-progress"]
    for key, value in pairs:
        argv += ["--set", f"{key}={value}"]
    assert check(store, "--set", argv) != 0


yaml_like = st.one_of(
    st.binary(max_size=64).map(lambda b: b),
    st.text(max_size=80).map(str.encode),
    st.dictionaries(config_keys, numbers, max_size=3).map(
        lambda d: "\n".join(f"{k}: {v}" for k, v in d.items()).encode()
    ),
    st.sampled_from([b"lr: [1,\n", b"{", b"- 1\n- 2\n", b"lr: .inf\n", b"width: -3\n", b"\xff\xfe\x00"]),
)


@SETTINGS
@given(content=yaml_like, suffix=st.sampled_from([".yaml", ".json", ".txt"]))
def test_run_with_a_config_file(store, idea, tmp_path_factory, content, suffix):
    path = tmp_path_factory.mktemp("cfg") / f"config{suffix}"
    path.write_bytes(content)
    try:
        resolve(OverfitConfig, str(path))
        assume(False)  # a valid file would train: not here
    except ConfigError:
        pass
    assert check(store, "--config", ["run", "overfit", "--idea", idea, "--config", str(path)]) != 0


dist = st.one_of(
    numbers,
    st.dictionaries(
        st.sampled_from(["loguniform", "uniform", "choice", "randint", "grid", "normal"]),
        st.one_of(st.lists(st.one_of(st.floats(), st.integers(), st.text(max_size=3)), max_size=3), numbers),
        min_size=1,
        max_size=2,
    ),
)


@SETTINGS
@given(
    space=st.dictionaries(st.sampled_from(["lr", "width", "dropout", "epochs", "task", "nope", "seed"]), dist)
)
def test_tune_with_a_space_file(store, idea, tmp_path_factory, space):
    import yaml

    from runners.sweeps.space import SpaceError, load_space

    path = tmp_path_factory.mktemp("space") / "space.yaml"
    path.write_text(yaml.safe_dump(space))
    try:
        load_space(path, GeneralizeConfig)
        assume(False)  # a valid space would start Ray: not here
    except SpaceError:
        pass
    argv = ["tune", "--idea", idea, "--space", str(path), "--num-samples", "2", "--max-iterations", "1"]
    assert check(store, "--space", argv) != 0


@SETTINGS
@given(
    spec=st.one_of(
        safe_text,
        safe_text.map(lambda s: f"nope_{s}:make"),
        safe_text.map(lambda s: f"json:{s}"),
        st.sampled_from(
            ["json:loads", "math:pi", ":", "a:b:c", "tests.runners.sweeps.tune_task:nope", "", " digits"]
        ),
    )
)
def test_run_with_a_task_reference(store, idea, spec):
    assume(spec not in ("digits", "shapes", "denoise"))
    assert check(store, "--task", ["run", "overfit", "--idea", idea, "--task", spec, "--no-progress"]) != 0


@SETTINGS
@given(
    uri=st.one_of(
        safe_text.map(lambda s: f"foo://{s}"),
        safe_text.map(lambda s: f"sqlite:////nonexistent-dir-{s}/x.db"),
        st.sampled_from(["http://127.0.0.1:1", "https://127.0.0.1:1/", "sqlite://", "://", "postgresql://"]),
        st.text(max_size=20),
    )
)
def test_commands_against_a_tracking_uri(store, uri):
    code, err = _cli(["idea", "list", "--tracking-uri", uri])
    TRIED["tracking URI"] += 1
    assert "Traceback" not in err
    if code != 0:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("idealoop: error: "), f"{uri!r}:\n{err}"


tokens = st.sampled_from(
    ["idea", "add", "list", "show", "update", "outcome", "calibration", "--json", "--status", "--title",
     "--hours", "--threshold", "--reference", "--calibrated", "--accept", "x", "-1", "nan", "--", "-h"]
)  # fmt: skip


@SETTINGS
@given(argv=st.lists(st.one_of(tokens, st.text(max_size=8)), max_size=6))
def test_arbitrary_command_lines(store, argv):
    check(store, "argv", argv)
