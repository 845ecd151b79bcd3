"""The warm server of `warm.py`: one per node, user and interpreter; it has imported torch,
MLflow and scikit-learn once, and forks a child per queue item, which becomes the item's process
(its client's streams, environment, folder, code) and reports its exit status back.

Only third-party modules are kept: the project's own (`PROJECT_PACKAGES`) are dropped in each
child, which imports them from its job's sys.path. The server starts no Python thread (it forks).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

# What every item imports and costs seconds each (python -X importtime): preloaded by the server.
PRELOAD = (
    "numpy",
    "pandas",
    "yaml",
    "torch",
    "torch.optim",
    "torch._dynamo",  # every torch.optim optimizer imports it (~1.3 s)
    "mlflow",
    "mlflow.store.tracking.sqlalchemy_store",
    "sklearn.datasets",
    "sklearn.linear_model",
    "sklearn.metrics",
)
PROJECT_PACKAGES = ("runners", "tracker", "board")  # imported fresh in every child, never kept
IDLE_S = float(os.environ.get("IDEALOOP_WARM_IDLE_S", "600"))
CONNECT_TIMEOUT_S = 5.0  # a request that does not arrive (or a client that does not answer) in this
STOP_GRACE_S = 30.0  # a child whose client vanished: SIGTERM, then this long to end its run
HEADER = struct.Struct("!I")
GO = b"g"  # the client's go-ahead: a child whose client gave up before it never runs the item


def socket_path() -> str:
    """One server per user, interpreter, preload list and installed versions of what it preloads
    (a venv's server never serves another; after `pip install -U torch` items get a new server,
    not one whose torch in memory is older than the files on disk)."""
    folder = os.environ.get("IDEALOOP_WARM_DIR") or os.path.join(
        tempfile.gettempdir(), f"idealoop-warm-{os.getuid()}"
    )
    stamp = install_stamp(dict.fromkeys(name.split(".")[0] for name in PRELOAD))
    key = hashlib.sha1(f"{sys.executable}\0{sys.version}\0{PRELOAD}\0{stamp}".encode()).hexdigest()[:12]
    return os.path.join(folder, f"{key}.sock")


def install_stamp(packages) -> str:
    """Where each package is installed and when its files were written (found, not imported)."""
    import importlib.util

    out = []
    for name in packages:
        try:
            origin = importlib.util.find_spec(name).origin
            out.append(f"{origin}@{os.stat(origin).st_mtime_ns}")
        except (AttributeError, ImportError, OSError, TypeError, ValueError):
            out.append(f"{name}:-")
    return "|".join(out)


def private_folder(path: str) -> None:
    """The socket's folder, ours alone: whoever can connect can run code as us."""
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    st = os.stat(folder)
    if st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise PermissionError(f"{folder} must be owned by this user with mode 0700")


def read_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ValueError("connection closed")
        data += chunk
    return data


def server_alive(path: str | None = None) -> bool:
    """Does a server (running or still importing) hold this socket's lock?"""
    import fcntl

    try:
        with open((path or socket_path()) + ".lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return False


def stop_server(path: str | None = None) -> bool:
    """Stop this user's server for this interpreter (the queue does when its session ends: an
    idle server holds a few hundred MB); True if one was running. Its items run on."""
    path = path or socket_path()
    try:
        with open(path + ".lock") as f:
            pid = int(f.read().strip() or 0)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return False
    if pid <= 0 or b"runners.queue.warm_server" not in cmdline:
        return False
    os.kill(pid, signal.SIGTERM)
    return True


def serve() -> int:
    """Preload, then fork a child per request until IDLE_S pass without one."""
    import fcntl

    path = socket_path()
    private_folder(path)
    lock = open(path + ".lock", "a+")  # noqa: SIM115 - held for the server's life (not truncated: another's)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return 0  # another server has it
    lock.truncate(0)
    lock.write(str(os.getpid()))
    lock.flush()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))  # `finally` removes the socket
    # CUDA cannot be used in a child forked after the parent initialised it: the server never
    # touches it, and a stray torch.cuda.is_available() asks NVML, not the driver.
    os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"] = "1"
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 - a child imports what it needs itself
            continue
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        print("CUDA was initialised while preloading: no warm starts (items start cold)", flush=True)
        return 1
    if os.path.exists(path):
        os.unlink(path)  # a dead server's: we hold the lock
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(64)
    listener.settimeout(min(IDLE_S, 30.0))
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    print(f"{time.strftime('%H:%M:%S')} idealoop warm server {os.getpid()}: {path}", flush=True)
    last = time.monotonic()
    try:
        while time.monotonic() - last < IDLE_S:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            last = time.monotonic()
            with conn:
                _serve_one(conn, listener, lock)
    finally:
        if os.path.exists(path):
            os.unlink(path)
    return 0


def _serve_one(conn: socket.socket, listener: socket.socket, lock) -> None:
    conn.settimeout(CONNECT_TIMEOUT_S)
    fds: list[int] = []
    try:
        header, fds, _, _ = socket.recv_fds(conn, HEADER.size, 3)
        request = json.loads(read_exact(conn, HEADER.unpack(header)[0]))
        if len(fds) != 3:
            raise ValueError(f"{len(fds)} streams passed, not 3")
    except (OSError, ValueError, struct.error) as exc:
        print(f"a bad request: {exc}", flush=True)
        for fd in fds:
            os.close(fd)
        return
    conn.settimeout(None)
    with warnings.catch_warnings():  # 3.12+: "multi-threaded, fork() may deadlock": BLAS's pool
        warnings.simplefilter("ignore", DeprecationWarning)  # threads, which re-form after a fork
        pid = os.fork()
    if pid == 0:  # the child: never returns
        listener.close()
        lock.close()
        _child(conn, fds, request)
    for fd in fds:
        os.close(fd)
    print(f"{time.strftime('%H:%M:%S')} {pid}: idealoop {' '.join(request['argv'])}", flush=True)


def _child(conn: socket.socket, fds: list[int], request: dict) -> None:
    """Become the item's process: its streams, environment, folder, code; run it; report."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # subprocess needs its children's status
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        with contextlib.suppress(OSError), open("/proc/self/comm", "w") as comm:
            comm.write("idealoop-item")  # what `top` and `ps -o comm` call it
        os.setsid()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.path[:] = request["path"]
        sys.argv = [request["argv0"], *request["argv"]]
        for name in list(sys.modules):
            if name.split(".")[0] in PROJECT_PACKAGES:
                del sys.modules[name]
        _fresh_process_state()
        conn.sendall(HEADER.pack(os.getpid()))
        if read_exact(conn, len(GO)) != GO:
            os._exit(0)
        threading.Thread(target=_watch_client, args=(conn,), daemon=True).start()
        from runners.process import exit_now

        os.environ.pop("IDEALOOP_FULL_EXIT", None)  # a forked child has no ordinary exit: it is the server's
        module, _, function = request["entry"].partition(":")
        code = getattr(importlib.import_module(module), function)(request["argv"])

        def report(code: int) -> None:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the client leaving now is no stop
            try:
                conn.sendall(HEADER.pack(code & 0xFF))
            except OSError:  # the client is gone: nobody to tell
                pass

        exit_now(code, last=report)
    except SystemExit as exc:  # never past the server's own code
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - reported on the item's stderr, never back in the server
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush(), sys.stderr.flush()
            conn.sendall(HEADER.pack(code & 0xFF))
        finally:
            os._exit(code & 0xFF)


def _fresh_process_state() -> None:
    """What a new interpreter would have read from the item's environment, not the server's:
    torch's threads (OMP_NUM_THREADS is read when torch loads), the time zone, the temp folder;
    numpy's global random state seeded anew (each fresh process gets its own)."""
    import tempfile

    tempfile.tempdir = None
    time.tzset()
    threads = os.environ.get("OMP_NUM_THREADS", "")
    if "torch" in sys.modules and threads.isdigit() and int(threads) > 0:
        sys.modules["torch"].set_num_threads(int(threads))
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    if os.isatty(1):
        sys.stdout.reconfigure(line_buffering=True)


def _watch_client(conn: socket.socket) -> None:
    """The client is gone (killed): stop as if it had forwarded SIGTERM, then for good."""
    try:
        while conn.recv(64):
            pass
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(STOP_GRACE_S)
    os._exit(143)


if __name__ == "__main__":
    sys.exit(serve())
