"""The console entry point's quick exit (`runners.process.exit_now`) still does what an
ordinary exit does: waits for non-daemon threads, runs atexit handlers, flushes a piped
stdout, keeps the exit code; and `idealoop` through it behaves as before."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _python(code: str, tmp_path: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_exit_now_waits_for_threads_runs_atexit_and_flushes(tmp_path):
    code = """
        import atexit, sys, threading, time
        from runners.process import exit_now
        def late():
            time.sleep(0.5)
            open("thread.txt", "w").write("done")
        threading.Thread(target=late).start()
        atexit.register(lambda: open("atexit.txt", "w").write(open("thread.txt").read()))
        sys.stdout.write("x" * 100000)  # block-buffered into a pipe: only a flush sends the end
        exit_now(3)
    """
    proc = _python(code, tmp_path)
    assert proc.returncode == 3
    assert len(proc.stdout) == 100000
    assert (tmp_path / "atexit.txt").read_text() == "done"  # the thread ended before the handlers ran


def test_full_exit_escape_hatch_exits_the_ordinary_way(tmp_path):
    code = """
        import sys
        from runners.process import exit_now
        sys.stdout.write("ok")
        exit_now(4)
    """
    proc = _python(code, tmp_path, IDEALOOP_FULL_EXIT="1")
    assert (proc.returncode, proc.stdout) == (4, "ok")


def test_console_keeps_exit_codes_and_output(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/m.db"}
    cli = [sys.executable, "-m", "runners.cli"]
    add = [*cli, "idea", "add", "--title", "t", "--hours", "1", "--complexity", "1", "--impact", "0.01"]
    ok = subprocess.run([*add, "--likelihood", "0.5"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0 and len(ok.stdout.strip()) == 32  # the idea id, through the pipe
    bad = subprocess.run([*add, "--likelihood", "2"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("idealoop: error:")
    usage = subprocess.run([*cli, "idea", "nope"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert usage.returncode == 2  # argparse's SystemExit, caught by the console entry point
    helped = subprocess.run([*cli, "--help"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert helped.returncode == 0 and "usage:" in helped.stdout
