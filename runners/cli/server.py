"""`idealoop server`: the team's MLflow tracking server, started the same way every time.

Why a command of our own: a shared server needs the same half-dozen choices on every start
(a database backend, artifacts it serves itself, MLflow's basic-auth app with its own user
store, a loopback address unless told otherwise) and fails in ways MLflow reports as a
multi-line traceback or a worker restart loop (a missing `mlflow[auth]` extra, a missing
admin password or CSRF secret, a port in use). Here each is one line before anything starts,
and a start that still fails shows MLflow's own reason in one line. Secrets never travel on
the command line: the backend URI reaches `mlflow server` in its environment
(MLFLOW_BACKEND_STORE_URI), the admin password and the secret key stay in theirs.

Clients need nothing from idealoop: MLFLOW_TRACKING_URI plus MLflow's credential
variables (MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD); this command prints them.
"""

from __future__ import annotations

import collections
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from runners.cli.common import UsageError, free_port, port_number, say

ADMIN_PASSWORD = "MLFLOW_AUTH_ADMIN_PASSWORD"
SECRET_KEY = "MLFLOW_FLASK_SERVER_SECRET_KEY"
BACKEND_ENV = "MLFLOW_BACKEND_STORE_URI"
PERMISSIONS = ("READ", "EDIT", "MANAGE", "NO_PERMISSIONS")
MIN_PASSWORD = 12  # MLflow's own rule for user passwords (mlflow.utils.validation)
START_TIMEOUT_S = 180.0  # a first start on a new PostgreSQL database creates MLflow's tables


def add_arguments(p) -> None:
    p.add_argument(
        "--backend-store-uri",
        default=os.environ.get(BACKEND_ENV, ""),
        help="database for runs: postgresql://..., mysql+pymysql://..., or sqlite:///FILE.db to try it "
        f"out (env {BACKEND_ENV}, which keeps a password off the command line; default sqlite:///mlflow.db)",
    )
    p.add_argument(
        "--artifacts-destination",
        default="mlartifacts",
        help="where the server keeps artifacts it serves: a folder (default ./mlartifacts) or s3://...",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (0.0.0.0: every interface)")
    p.add_argument("--port", type=port_number, default=5000, help="0-65535; 0 picks a free port")
    p.add_argument("--workers", type=int, default=2, help="server worker processes (default 2)")
    p.add_argument(
        "--auth-db",
        default="",
        help="user store of the auth app (SQLAlchemy URI; default sqlite:///basic_auth.db here)",
    )
    p.add_argument(
        "--default-permission",
        choices=PERMISSIONS,
        default="READ",
        help="what every user may do in an experiment someone else created (default READ)",
    )
    p.add_argument(
        "--no-auth", action="store_true", help="no users, no passwords: a try-out on this machine only"
    )


@dataclass(frozen=True)
class ServerPlan:
    """Everything `mlflow server` is started with, decided and checked before it starts."""

    cmd: list[str]
    env: dict[str, str]
    url: str
    backend: str  # as the user may see it: redacted
    auth_ini: str  # the auth app's config ("" without auth)


def plan(args, environ: dict[str, str], workdir: str) -> ServerPlan:
    """Check the request and build the command; raises UsageError (one line) on anything missing."""
    from tracker.redaction import redact_uri
    from tracker.store import check_uri  # MLflow's import: only once the command runs

    auth = not args.no_auth
    if auth and importlib.util.find_spec("flask_wtf") is None:
        raise UsageError(
            "the auth app needs MLflow's auth extra: pip install 'idealoop[team]' (or 'mlflow[auth]'), "
            "or pass --no-auth for a try-out on this machine"
        )
    if auth and not environ.get(SECRET_KEY):
        raise UsageError(
            f"set {SECRET_KEY} (any long random string, the same on every restart: "
            f'export {SECRET_KEY}="$(openssl rand -hex 32)"); the auth app needs it for CSRF'
        )
    password = environ.get(ADMIN_PASSWORD, "")
    auth_db = args.auth_db or "sqlite:///" + os.path.join(workdir, "basic_auth.db")
    if auth and password and len(password) < MIN_PASSWORD:
        raise UsageError(f"{ADMIN_PASSWORD} is shorter than {MIN_PASSWORD} characters (MLflow refuses it)")
    if auth and not password and _new_user_store(auth_db):
        raise UsageError(
            f"set {ADMIN_PASSWORD} (12+ characters): the first start creates the admin user with it "
            f"in {redact_uri(auth_db)}"
        )
    if args.workers < 1:
        raise UsageError(f"--workers {args.workers}: at least 1")
    backend = args.backend_store_uri or "sqlite:///mlflow.db"  # made absolute just below
    if backend.split(":", 1)[0].lower() in ("http", "https"):
        raise UsageError(
            f"--backend-store-uri {redact_uri(backend)} is a server; the backend is a database "
            "(postgresql://..., mysql+pymysql://..., sqlite:///FILE.db)"
        )
    if backend.startswith("sqlite:///") and not os.path.isabs(backend[len("sqlite:///") :]):
        backend = "sqlite:///" + os.path.join(workdir, backend[len("sqlite:///") :])
    check_uri(backend)  # StoreError, one line: unknown scheme, missing driver, no such folder
    artifacts = args.artifacts_destination
    if "://" not in artifacts:
        artifacts = os.path.join(workdir, artifacts)
        os.makedirs(artifacts, exist_ok=True)
    port = free_port(args.host, args.port)  # "cannot serve on HOST:PORT: Address already in use"
    cmd = [sys.executable, "-m", "mlflow", "server", "--host", args.host, "--port", str(port)]
    cmd += ["--workers", str(args.workers), "--serve-artifacts", "--artifacts-destination", artifacts]
    env = {**environ, BACKEND_ENV: backend}
    env.pop("MLFLOW_TRACKING_URI", None)  # a client setting; the server must not read it
    # MLflow's job runner (online scoring, trace archival: nothing idealoop uses) starts ~8 more
    # processes of ~250 MB each; on unless asked for.
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    ini = ""
    if auth:
        cmd += ["--app-name", "basic-auth"]
        ini = _auth_ini(auth_db, args.default_permission)
        env["MLFLOW_AUTH_CONFIG_PATH"] = ini
    shown = socket.gethostname() if args.host in ("0.0.0.0", "::", "") else args.host
    url = f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}"
    return ServerPlan(cmd, env, url, redact_uri(backend), ini)


def _new_user_store(auth_db: str) -> bool:
    """True when the auth app would have to create its admin (a SQLite user store not there yet);
    another database: MLflow decides, and a missing password fails the start in one line."""
    if not auth_db.startswith("sqlite:///"):
        return False
    path = auth_db[len("sqlite:///") :]
    return not (os.path.isfile(path) and os.path.getsize(path) > 0)


def _auth_ini(auth_db: str, permission: str) -> str:
    """The auth app's config, in a file of its own (no secret in it: the admin password stays in
    the environment). MLflow's packaged basic_auth.ini would put the user store in the working
    directory under a relative path."""
    fd, path = tempfile.mkstemp(prefix="idealoop-auth-", suffix=".ini")
    with os.fdopen(fd, "w") as f:
        f.write(
            "[mlflow]\n"
            f"default_permission = {permission}\n"
            f"database_uri = {auth_db}\n"
            "admin_username = admin\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        )
    return path


def cmd_server(args) -> int:
    server = plan(args, dict(os.environ), os.getcwd())
    tail: collections.deque[str] = collections.deque(maxlen=40)
    proc = subprocess.Popen(
        server.cmd,
        env=server.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its workers go with it: the whole group is stopped on exit
    )
    echo = threading.Event()  # the server's log reaches the terminal once it is up
    pump = threading.Thread(target=_pump, args=(proc.stdout, tail, echo), daemon=True)
    pump.start()
    try:
        if not _wait_healthy(server.url, proc):
            pump.join(5)
            raise UsageError(f"mlflow server did not start: {_reason(tail, proc)}")
        print(server.url, flush=True)  # stdout: the one result
        _tell(server, auth=not args.no_auth)
        echo.set()
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(proc)
        if server.auth_ini:
            Path(server.auth_ini).unlink(missing_ok=True)


def _pump(stream, tail, echo) -> None:
    from tracker.redaction import redact_uri

    for raw in iter(stream.readline, b""):
        line = redact_uri(raw.decode(errors="replace").rstrip())
        tail.append(line)
        if echo.is_set():
            print(line, file=sys.stderr, flush=True)


def _wait_healthy(url: str, proc: subprocess.Popen) -> bool:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    return False


def _reason(tail, proc) -> str:
    """MLflow's own last word: the last exception line of its log, else its last line."""
    lines = [t.strip() for t in tail if t.strip()]
    errors = [t for t in lines if "Error" in t.split(":", 1)[0] or "Exception" in t.split(":", 1)[0]]
    why = (errors or lines or [f"exit code {proc.poll()}"])[-1]
    if proc.poll() is None:
        why = f"no answer on /health within {START_TIMEOUT_S:g} s; last log line: {why}"
    return why[:250]


def _tell(server: ServerPlan, *, auth: bool) -> None:
    say(f"idealoop server: {server.url}  (store {server.backend}; Ctrl-C to stop)")
    say("point clients at it:")
    say(f"  export MLFLOW_TRACKING_URI={server.url}")
    if auth:
        say("  export MLFLOW_TRACKING_USERNAME=admin   # or a user created with the auth API (README)")
        say("  export MLFLOW_TRACKING_PASSWORD=...     # never inside the URI")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except (ProcessLookupError, PermissionError):
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
