"""Warm starts for the queue's items: fork a process that has already imported torch, MLflow
and scikit-learn, instead of a fresh interpreter importing them again.

A small item (a baseline, a short generalize run) spends ~5 of its ~5.5 CPU-seconds importing
(`bench/queue_utilization.py`); an overnight queue of such items would spend most of the night
on imports. Each item stays its own Ray job: the job's entrypoint is this module's light client
(`python -m runners.queue.warm queue exec ITEM`, no heavy import), which asks the node's warm
server to fork a child that runs `idealoop queue exec ITEM` on the client's own stdin/stdout/
stderr (passed over a Unix socket, as multiprocessing's forkserver does), with the client's
environment, working folder and sys.path, and exits with the child's status. So Ray still holds
the item's resources, captures its log and stops it: the client forwards SIGTERM/SIGINT to the
child, and a child whose client is gone (SIGKILL) stops itself.

The server imports third-party modules only; the project's own code (`runners`, `tracker`, a
user's task) is imported in each child, so an item always runs the code of its job. The first
item on a node finds no server: it starts one and waits for it (the queue starts the local one
beside its Ray head); where none comes up, the item runs the ordinary way (`idealoop …`). A
server ends after IDLE_S without a request, or when the queue that started the local Ray ends.
IDEALOOP_WARM=0 runs every item the ordinary way, as do systems other than Linux (fork after
torch and passing descriptors are Linux's here).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import sys
import time

from runners.queue import bell
from runners.queue import warm_server as ws

# What a child runs: `idealoop ARGV`'s exit status (named, not imported: the CLI sits above the queue).
ENTRY = "runners.cli.parser:exit_code"
CONNECT_TIMEOUT_S = 5.0  # a server that accepts but does not fork within this is not used
SERVER_WAIT_S = 60.0  # for a server still importing (~5 s alone; longer beside a Ray head starting)


def run(argv: list[str]) -> int:
    """Run `idealoop ARGV` in a warm child; where there is none, the ordinary way (exec)."""
    if os.environ.get("IDEALOOP_WARM", "1") != "0" and sys.platform == "linux":
        try:
            conn, pid = _fork_child(_connect(), argv)
        except (OSError, ValueError, struct.error) as exc:
            print(f"idealoop: a cold start ({exc})", file=sys.stderr, flush=True)
        else:
            return _wait(conn, pid)
    os.execv(sys.executable, [sys.executable, "-m", "runners.cli", *argv])
    return 0  # pragma: no cover - execv does not return


def _connect() -> socket.socket:
    """A connection to this node's server; one is started (and waited for: its imports would cost
    no less here, and every later item gains) where none runs. OSError if none comes up."""
    path, end, started = ws.socket_path(), time.monotonic() + SERVER_WAIT_S, 0.0
    while True:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.settimeout(CONNECT_TIMEOUT_S)
            conn.connect(path)
            return conn
        except OSError:
            conn.close()
        now = time.monotonic()
        if not started:
            start_server()
            started = now
        elif now - started > 3.0 and not ws.server_alive(path):
            raise OSError("the warm server did not start: see " + path[: -len(".sock")] + ".log")
        if now > end:
            raise OSError(f"no warm server answered within {SERVER_WAIT_S:g} s")
        time.sleep(0.1)


def _fork_child(conn: socket.socket, argv: list[str]) -> tuple[socket.socket, int]:
    """Send the request and our stdin/stdout/stderr; the child's pid once it runs.
    Any failure before the go-ahead raises: nothing ran, the caller may run it itself."""
    try:
        request = {"argv": argv, "env": dict(os.environ), "cwd": os.getcwd(), "path": sys.path}
        request = json.dumps({**request, "argv0": sys.argv[0], "entry": ENTRY}).encode()
        socket.send_fds(conn, [ws.HEADER.pack(len(request))], [0, 1, 2])
        conn.sendall(request)
        pid = ws.HEADER.unpack(ws.read_exact(conn, ws.HEADER.size))[0]
        conn.sendall(ws.GO)  # once this is sent the child runs the item: no fallback after it
        conn.settimeout(None)
        return conn, pid
    except BaseException:
        conn.close()
        raise


def _wait(conn: socket.socket, pid: int) -> int:
    """Forward stop signals to the child; its exit status, as it sends it before ending."""

    def forward(signum, frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    try:
        code = ws.HEADER.unpack(ws.read_exact(conn, ws.HEADER.size))[0]
        bell.ring()  # the queue's driver looks at Ray now, not at its next poll
        return code
    except (OSError, ValueError):
        print(f"idealoop: error: the item's process {pid} ended without an exit status", file=sys.stderr)
        return 1


def start_server() -> None:
    """Start this node's server in the background (its own session, its log beside the socket)."""
    import subprocess

    path = ws.socket_path()
    try:
        ws.private_folder(path)
        log = open(path[: -len(".sock")] + ".log", "ab")  # noqa: SIM115 - handed to the child
    except OSError:
        return
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "MKL_", "CUDA_VISIBLE"))}
    with log:
        subprocess.Popen(
            [sys.executable, "-m", ws.__name__],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, start_new_session=True, close_fds=True,
        )  # fmt: skip


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        me = __spec__.name if __spec__ else __name__
        print(f"usage: python -m {me} IDEALOOP-ARGS …  (`idealoop ARGS` started warm)")
        return 0 if argv else 2
    return run(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
