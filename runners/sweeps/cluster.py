"""Ray for a sweep: attach to a cluster (checked reachable first), or start a private local one.

Attaching: `--address HOST:PORT` / `ray://HOST:PORT` / RAY_ADDRESS, after a TCP check of
the head's port, so an unreachable cluster is one line in seconds rather than Ray's
minutes of retries. Otherwise a private local Ray whose workers import this checkout.
`check_resources` refuses a trial bigger than every node (a warning on a cluster,
which may still be scaling up).
"""

from __future__ import annotations

import os
import socket
import sys

from runners.process import import_in_background, sigterm_as_interrupt
from runners.sweeps.settings import PROJECT_ROOT, SweepError, SweepSettings, first_line


def check_reachable(address: str, timeout_s: float = 3.0) -> None:
    """A TCP connect to the head's GCS (or Ray client) port: fail in seconds, not minutes."""
    if address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        raise SweepError(f"--address {address!r} is not HOST:PORT (or ray://HOST:PORT)")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise SweepError(
            f"cannot reach the Ray cluster at {address}: {exc.strerror or exc} "
            "(is `ray start --head` running there? check --address / RAY_ADDRESS)"
        ) from None


def connect(address: str | None, preload: tuple[str, ...] = ()) -> bool:
    """Connect to (or start) Ray. Returns True when this call started it (and should shut it down).

    `preload`: modules imported in a thread while `ray.init` waits for Ray's processes
    (`runners.process.import_in_background`). Never Ray's own modules: `ray.init` imports
    some of them lazily, and two threads importing one circle of modules from both ends
    can deadlock (Python then raises in one of them)."""
    import ray

    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        check_reachable(address)
    if ray.is_initialized():
        return False
    loading = import_in_background(preload)
    try:
        return _connect(ray, address)
    finally:
        loading.join()


def _connect(ray, address: str | None) -> bool:
    if address:
        try:
            ray.init(address=address, log_to_driver=True)
        except Exception as exc:  # noqa: BLE001 - one line for the user
            raise SweepError(
                f"cannot connect to the Ray cluster at {address}: {first_line(exc)}{_auth_hint()}"
            ) from None
        sigterm_as_interrupt()
        return True
    # A local Ray: its workers import this checkout (not another install of idealoop).
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    # address="local": a private Ray for this sweep, never a stale `ray start` cluster found
    # on the machine (attaching is what --address / RAY_ADDRESS, or `--address auto`, are for).
    ray.init(address="local", include_dashboard=False, log_to_driver=True)
    sigterm_as_interrupt()
    return True


def _auth_hint() -> str:
    """Ray 2.5x+ starts `ray start --head` with token auth, while a client without
    RAY_AUTH_MODE=token sends no token and is told only that the cluster "crashed"."""
    if os.environ.get("RAY_AUTH_MODE", "").lower() == "token":
        return ""
    return (
        " (a cluster started by `ray start --head` uses token auth: export RAY_AUTH_MODE=token"
        " here, with the head's ~/.ray/auth_token or RAY_AUTH_TOKEN)"
    )


def check_resources(settings: SweepSettings, remote: bool) -> None:
    """Refuse a trial bigger than every node (it would wait forever)."""
    import ray

    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    cpus = max((n.get("CPU", 0) for n in nodes), default=0)
    gpus = max((n.get("GPU", 0) for n in nodes), default=0)
    problems = []
    if settings.cpus_per_trial > cpus:
        problems.append(f"cpus_per_trial={settings.cpus_per_trial:g} but the largest node has {cpus:g} CPUs")
    if settings.gpus_per_trial > gpus:
        problems.append(f"gpus_per_trial={settings.gpus_per_trial:g} but the largest node has {gpus:g} GPUs")
    if not problems:
        return
    if remote:
        print(
            f"idealoop: WARNING {'; '.join(problems)} (waiting for the cluster to scale up)", file=sys.stderr
        )
        return
    raise SweepError("; ".join(problems) + " — no trial could ever start")


def shutdown() -> None:
    import ray

    ray.shutdown()
