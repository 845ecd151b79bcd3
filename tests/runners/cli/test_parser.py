"""The `idealoop` CLI: ids on stdout, one-line errors with exit 2, nothing half-written."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runners.cli import main
from tracker.ideas import list_ideas

GOOD = ["--title", "t", "--hours", "1", "--complexity", "1", "--impact", "0.01", "--likelihood", "0.5"]


def test_add_prints_only_the_id_on_stdout(store):
    # Through the installed console script, as `id=$(idealoop idea add ...)` uses it.
    out = subprocess.run(
        [str(Path(sys.executable).with_name("idealoop")), "idea", "add", *GOOD],
        capture_output=True,
        text=True,
        env=os.environ,
        check=True,
    )
    idea_id = out.stdout.strip()
    assert len(idea_id) == 32 and "\n" not in idea_id
    assert "added idea" in out.stderr
    assert [i.id for i in list_ideas(store)] == [idea_id]


@pytest.mark.parametrize(
    "field, bad",
    [
        ("hours", "0"),
        ("hours", "-2"),
        ("complexity", "9"),
        ("complexity", "0"),
        ("complexity", "1.5"),
        ("impact", "0"),
        ("likelihood", "1.5"),
        ("likelihood", "-0.1"),
        ("likelihood", "abc"),
    ],
)
def test_each_bound_is_checked_exit_2_nothing_written(store, capsys, field, bad):
    args = list(GOOD)
    args[args.index(f"--{field}") + 1] = bad
    assert main(["idea", "add", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"idealoop: error: {field}=") and "allowed" in err
    assert len(err.splitlines()) == 1
    assert list_ideas(store) == []


def test_list_json_show_and_update(store, capsys):
    assert main(["idea", "add", *GOOD]) == 0
    idea_id = capsys.readouterr().out.strip()
    assert main(["idea", "update", idea_id, "--likelihood", "0.9", "--status", "in_progress"]) == 0
    capsys.readouterr()
    assert main(["idea", "list", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert {
        "id",
        "title",
        "hours",
        "complexity",
        "impact",
        "likelihood",
        "score",
        "status",
        "run_ids",
    } <= set(row)
    assert row["likelihood"] == 0.9 and row["status"] == "in_progress"
    assert main(["idea", "show", idea_id[:10], "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [r["number"] for r in shown["revisions"]] == [0, 1]


def test_bad_status_and_unknown_idea(store, capsys):
    assert main(["idea", "add", *GOOD]) == 0
    idea_id = capsys.readouterr().out.strip()
    assert main(["idea", "update", idea_id, "--status", "done"]) == 2
    assert "status='done'" in capsys.readouterr().err
    assert main(["idea", "show", "deadbeefdeadbeef"]) == 2
    assert "no idea 'deadbeefdeadbeef'" in capsys.readouterr().err


def test_run_overfit_with_unknown_idea_creates_no_run(store, capsys):
    assert main(["run", "overfit", "--idea", "f" * 32, "--no-progress"]) == 2
    assert "no idea" in capsys.readouterr().err
    assert store.client.search_runs([store.experiment_id]) == []


def test_run_with_an_idea_prefix_nests_under_the_full_id(store, make_idea, capsys):
    idea = make_idea()
    assert main(["run", "baseline", "--idea", idea[:8], "--no-progress"]) == 0
    run = store.client.get_run(capsys.readouterr().out.strip())
    # Resolved once by the CLI: the stage run is tagged and nested with the full id, not the prefix.
    assert run.data.tags["idealoop.idea_id"] == idea and run.data.tags["mlflow.parentRunId"] == idea


def test_run_overfit_with_bad_config_key(store, capsys):
    assert main(["run", "overfit", "--set", "dropout=0.5", "--no-progress"]) == 2
    assert "unknown config key 'dropout'" in capsys.readouterr().err


def test_help_is_fast_and_imports_no_mlflow():
    code = "import sys; from runners.cli import build_parser; build_parser(); print('mlflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_long_note_is_one_line_exit_2_and_the_idea_stays_readable(store, capsys):
    assert main(["idea", "add", *GOOD]) == 0
    idea_id = capsys.readouterr().out.strip()
    code = main(["idea", "update", idea_id, "--likelihood", "0.45", "--note", "n" * 6_500])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0
    assert err == "idealoop: error: note is 6,500 characters long; at most 2,000 allowed"
    assert main(["idea", "show", idea_id, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["likelihood"] == 0.5 and len(shown["revisions"]) == 1


def test_a_10kb_bad_number_is_not_echoed_back_whole(store, capsys):
    code = main(["idea", "add", "--title", "t", "--hours", "9" * 10_000 + "x", "--complexity", "1",
                 "--impact", "0.01", "--likelihood", "0.5"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err) < 200 and "hours=" in err


def test_an_unforeseen_failure_is_one_line_and_debug_prints_the_traceback(tmp_path, capsys, monkeypatch):
    import sqlite3

    alien = tmp_path / "alien.db"  # a SQLite file whose schema MLflow cannot migrate: nobody foresaw it
    with sqlite3.connect(alien) as db:
        db.execute("CREATE TABLE alembic_version (version_num TEXT)")
        db.execute("INSERT INTO alembic_version VALUES ('zzz')")
    argv = ["idea", "list", "--tracking-uri", f"sqlite:///{alien}"]
    monkeypatch.delenv("IDEALOOP_DEBUG", raising=False)
    assert main(argv) == 1
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("idealoop:")]
    # Before: a 40-line traceback. Now one line naming what failed and how to see more.
    assert len(lines) == 1 and "revision identified by 'zzz'" in lines[0] and "--debug" in lines[0]
    with pytest.raises(Exception, match="zzz"):
        main([*argv, "--debug"])
    monkeypatch.setenv("IDEALOOP_DEBUG", "1")
    with pytest.raises(Exception, match="zzz"):
        main(argv)


@pytest.mark.parametrize(
    "uri, says",
    [
        ("foo://bar", "has no known scheme"),
        ("sqlite:////nonexistent-folder/x.db", "the SQLite store /nonexistent-folder/x.db does not exist"),
        ("http://127.0.0.1:1", "no tracking server answers at http://127.0.0.1:1 within 3 s"),
        ("mysql://root@127.0.0.1/db", "needs the Python module 'MySQLdb', which is not installed: pip"),
        (
            "postgresql://postgres:s3cret@127.0.0.1:1/db",
            "cannot reach the database postgresql://postgres:***@",
        ),
    ],
)
def test_a_bad_tracking_uri_is_one_line_at_once(tmp_path, capsys, uri, says):
    import time

    t0 = time.monotonic()
    assert main(["idea", "list", "--tracking-uri", uri]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("idealoop: error: ") and says in err
    assert err.count("\n") == 0
    assert time.monotonic() - t0 < 15  # before: 252 s of retries against a closed port


def test_a_sqlite_store_in_a_missing_folder_needs_create(tmp_path, capsys):
    # Before: a typo in the path silently made the folders and an empty store (a new project).
    uri = f"sqlite:///{tmp_path}/new/folder/mlflow.db"
    assert main(["idea", "list", "--tracking-uri", uri]) == 2
    assert not (tmp_path / "new").exists()
    assert main(["idea", "list", "--tracking-uri", uri, "--create"]) == 0
    assert (tmp_path / "new" / "folder" / "mlflow.db").is_file()


def test_a_file_that_is_not_sqlite_is_refused_untouched(tmp_path, capsys):
    bad = tmp_path / "notes.db"
    bad.write_text("my notes, not a database")
    assert main(["idea", "list", "--tracking-uri", f"sqlite:///{bad}"]) == 2
    assert "is not a SQLite database" in capsys.readouterr().err
    assert bad.read_text() == "my notes, not a database"


def test_set_task_and_seed_are_not_dropped_when_the_flags_are_absent(store, capsys):
    # Found by the hostile-input property test: `--set seed=abc` was overwritten by the absent
    # --seed flag (None = "not given"), so a bad value was silently ignored and training ran.
    assert main(["run", "overfit", "--set", "seed=abc", "--no-progress"]) == 2
    assert "seed='abc' is not a valid int" in capsys.readouterr().err
    assert main(["run", "overfit", "--set", "task=nope", "--no-progress"]) == 2
    assert "unknown task 'nope'" in capsys.readouterr().err
    assert main(["run", "overfit", "--set", f"seed={2**40}", "--no-progress"]) == 2
    assert "seed=1099511627776 is out of range" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, says",
    [
        (["--port", "-1"], "-1 is out of range; allowed: 0-65535"),
        (["--port", "99999"], "99999 is out of range"),
        (["--host", "999.1.1.1"], "--host '999.1.1.1' is not an address"),
    ],
)
def test_board_refuses_a_bad_port_or_host_in_one_line_before_starting(store, capsys, args, says):
    with pytest.raises(SystemExit) if "--port" in args else contextlib.nullcontext():
        code = main(["board", *args])
        assert code == 2
    err = capsys.readouterr().err.strip()
    assert says in err and err.count("\n") == 0 and "http://" not in err  # no URL printed first


def test_board_on_port_0_prints_the_port_it_really_serves(store):
    import time
    import urllib.request

    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("idealoop")), "board", "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ,
    )
    try:
        line = proc.stderr.readline()
        url = line.split()[2]
        port = int(url.rsplit(":", 1)[1])
        assert port != 0  # before: the URL said :0 while Streamlit picked another port
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    assert r.read() == b"ok"
                    break
            except OSError:
                assert time.time() < deadline, f"nothing answers at {url}"
                time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize(
    "flag, value, says",
    [
        ("--num-samples", "inf", "num_samples=inf is not a finite number"),
        ("--num-samples", "2.5", "num_samples=2.5 is not a whole number"),
        ("--reduction-factor", "inf", "reduction_factor=inf is not a finite number"),
        ("--cpus-per-trial", "nan", "cpus_per_trial=nan is not a finite number"),
    ],
)
def test_tune_settings_are_finite_numbers_checked_before_ray(store, make_idea, capsys, flag, value, says):
    idea = make_idea()
    # Before: `--num-samples inf` was an OverflowError traceback; `2.5` silently became 2.
    assert main(["tune", "--idea", idea, "--space", "examples/space.yaml", flag, value]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"idealoop: error: {says}"


def test_list_with_an_unknown_status_is_an_error_not_an_empty_project(store, make_idea, capsys):
    make_idea()
    assert main(["idea", "list", "--status", "bogus"]) == 2
    assert "status='bogus' is not allowed" in capsys.readouterr().err
    assert main(["idea", "list", "--status", "failed"]) == 0
    assert "no idea has status 'failed'" in capsys.readouterr().err
