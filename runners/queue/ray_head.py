"""The Ray the queue submits jobs to: a cluster's dashboard, or a local head the queue starts.

Ray Jobs live in the dashboard (its job head) and each node's dashboard agent, which need
`ray[default]` (aiohttp_cors, grpcio, opencensus, prometheus_client …: the project depends
on it). A job outlives the process that submitted it, so a killed `queue start` finds its
jobs again; for that the local head cannot be the driver's own `ray.init`: it is
`ray start --head --block` in its own session, on free ports, and the session records its
dashboard URL and pid. The queue stops it (SIGTERM to that pid, which takes its processes
down in ~2 s) once nothing of the session runs any more.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 90.0  # `ray start` with the dashboard: ~8 s here, much more on a loaded machine
STOP_WAIT_S = 30  # a stopped job's entrypoint gets this long after SIGTERM to end its run cleanly
# Shipped to a cluster with each job (`runtime_env.working_dir`): the code, not the data or envs.
EXCLUDES = [".git", ".venv", "mlruns", "ray_results", "*.db", "*.db-wal", "*.db-shm", "__pycache__"]


class RayError(RuntimeError):
    """Ray (its jobs API) cannot be reached or started: one line for the user."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_local_head(num_cpus: int | None, num_gpus: int | None) -> tuple[str, int]:
    """Start `ray start --head --block` with the dashboard on free ports; (dashboard URL, pid)."""
    ports = {p: free_port() for p in ("port", "dashboard-port", "ray-client-server-port")}
    ports["dashboard-agent-listen-port"] = free_port()
    cmd = [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block"]
    cmd += [f"--{k}={v}" for k, v in ports.items()]
    cmd += ["--include-dashboard=true", "--dashboard-host=127.0.0.1", "--node-ip-address=127.0.0.1"]
    cmd += ["--disable-usage-stats"]
    cmd += [f"--num-cpus={num_cpus}"] if num_cpus is not None else []
    cmd += [f"--num-gpus={num_gpus}"] if num_gpus is not None else []
    # Jobs run `python -m runners.cli` from this checkout; a stopped job's stage gets time to end its run.
    path = os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = dict(os.environ, PYTHONPATH=path, RAY_JOB_STOP_WAIT_TIME_S=str(STOP_WAIT_S))
    env.pop("RAY_ADDRESS", None)
    log = tempfile.NamedTemporaryFile("w", prefix="idealoop-ray-head-", suffix=".log", delete=False)
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{ports['dashboard-port']}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RayError(f"`ray start --head` exited with {proc.returncode}; see {log.name}")
        if answers(url):
            return url, proc.pid
        time.sleep(0.5)
    stop_local_head(proc.pid)
    raise RayError(f"the local Ray head did not answer within {START_TIMEOUT_S:g} s; see {log.name}")


def answers(url: str, timeout_s: float = 2.0) -> bool:
    """Does a Ray dashboard with the jobs API answer at `url`?"""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/api/version", timeout=timeout_s) as r:
            return r.status == 200
    except urllib.error.HTTPError:
        return True  # it answered (with RAY_AUTH_MODE=token, 401 to a request without the token)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def is_ray_head(pid: int) -> bool:
    """Is `pid` (still) a `ray start --head` process? A recycled pid must never be signalled."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"start" in cmdline and b"--head" in cmdline and any(b"ray" in part for part in cmdline[:3])


def stop_local_head(pid: int, timeout_s: float = 60.0) -> bool:
    """SIGTERM the head the queue started (its processes go with it); True once it is gone."""
    if not pid or not is_ray_head(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    end = time.monotonic() + timeout_s
    while time.monotonic() < end and is_ray_head(pid):
        try:  # our child: reap it (else it lingers as a zombie that still "exists")
            if os.waitpid(pid, os.WNOHANG)[0]:
                return True
        except ChildProcessError:
            pass
        time.sleep(0.2)
    return not is_ray_head(pid)


def job_client(url_or_address: str, wait_s: float = 15.0):
    """A JobSubmissionClient for a dashboard URL (http://HEAD:8265) or a Ray address (HOST:PORT, auto)."""
    try:
        from ray.job_submission import JobSubmissionClient
    except ImportError as exc:  # pragma: no cover - ray[default] is a dependency
        raise RayError(f"Ray Jobs need ray[default]: pip install 'ray[default]' ({exc})") from None
    end = time.monotonic() + wait_s
    while True:
        try:
            return JobSubmissionClient(url_or_address)
        except Exception as exc:  # noqa: BLE001 - whatever Ray says, one line
            if time.monotonic() < end:  # a dashboard still starting on a busy machine
                time.sleep(1.0)
                continue
            text = str(exc).strip().splitlines()
            raise RayError(
                f"no Ray jobs API at {url_or_address}: {text[0] if text else type(exc).__name__} "
                "(a cluster started with the dashboard, e.g. `ray start --head`, address http://HEAD:8265)"
            ) from None


def capacity(client, wait_s: float = 30.0) -> dict[str, float]:
    """The alive nodes' total CPUs and GPUs, from the dashboard's state API (a fresh head lists
    its own node a second or two after the dashboard answers: waited for)."""
    end = time.monotonic() + wait_s
    while True:
        r = client._do_request("GET", "/api/v0/nodes?limit=10000&detail=false")  # its own HTTP session
        if r.status_code != 200:
            raise RayError(f"the Ray dashboard did not list its nodes (HTTP {r.status_code})")
        out = {"CPU": 0.0, "GPU": 0.0}
        for node in r.json()["data"]["result"]["result"]:
            if node.get("state") == "ALIVE":
                for k in out:
                    out[k] += float(node.get("resources_total", {}).get(k, 0.0))
        if out["CPU"] > 0 or time.monotonic() > end:
            return out
        time.sleep(0.5)
