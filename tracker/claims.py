"""One telemetry writer per run, enforced: a lock every writer takes on its run at open.

Why: two writers on one run interleave their batches and both advance the run's
`latest_metrics` rows; the data-parallel parent and its rank 0 (another process) each
had one on the same run. The SQL fast path now locks those rows as MLflow does, but a
run is still one stream of points in step order (what resuming a run relies on,
tracker/resume.py), so a second writer is a bug to report, not to survive.

The lock is an exclusive `flock` on a file named after the run id, in the temp folder:
it covers every process of this machine (parent and ranks are; a sweep's trials each
have their own run), and the kernel drops it when its process dies, however it died,
so a run killed with -9 can be resumed at once. A claim held by another process is
waited for up to CLAIM_WAIT_S first: a trial Ray restores may start while the process
of its earlier attempt is still being torn down. A writer that must let another
process write its run for a while lends the claim and takes it back after
(`TelemetryWriter.handed_over`). Where `fcntl` is missing (Windows), a claim is
checked within this process only.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time

try:
    import fcntl
except ImportError:  # Windows: claims within this process only
    fcntl = None

CLAIM_DIR = os.path.join(tempfile.gettempdir(), f"idealoop-writers-{getattr(os, 'getuid', lambda: 0)()}")
CLAIM_WAIT_S = 30.0  # how long a claim held by another process is waited for before refusing
_held: set[str] = set()  # runs claimed by this process (also where flock is missing)
_lock = threading.Lock()


class RunClaimedError(RuntimeError):
    """The run has an open telemetry writer already (one line for the user)."""


class RunClaim:
    """This process's claim on writing one run's telemetry; taken at construction."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.lent = False
        self._fd: int | None = None
        self._path = os.path.join(CLAIM_DIR, hashlib.sha1(run_id.encode()).hexdigest()[:20] + ".lock")
        self._take()

    def _take(self) -> None:
        with _lock:
            if self.run_id in _held:
                raise RunClaimedError(self._refusal("this process"))
            _held.add(self.run_id)
        if fcntl is not None:
            try:
                self._fd = self._flock()
            except BaseException:
                with _lock:
                    _held.discard(self.run_id)
                raise

    def _flock(self) -> int:
        os.makedirs(CLAIM_DIR, exist_ok=True)
        deadline = time.monotonic() + CLAIM_WAIT_S
        while True:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
                os.close(fd)
                if time.monotonic() >= deadline:
                    where = f"another process (pid {holder}; waited {CLAIM_WAIT_S:g} s)"
                    raise RunClaimedError(self._refusal(where)) from None
                time.sleep(0.1)
                continue
            try:  # the holder before us may have unlinked the file between our open and our lock
                if os.fstat(fd).st_ino == os.stat(self._path).st_ino:
                    os.ftruncate(fd, 0)
                    os.write(fd, str(os.getpid()).encode())  # named in a refusal
                    return fd
            except FileNotFoundError:
                pass
            os.close(fd)

    def _refusal(self, where: str) -> str:
        return (
            f"run {self.run_id} already has an open telemetry writer in {where}: one writer per run "
            "(share it, or close it first)"
        )

    def release(self) -> None:
        """Give the claim up (idempotent); the lock file goes with it."""
        with _lock:
            if self._fd is not None:
                try:
                    os.unlink(self._path)  # while locked: nobody holds a lock on a file we remove
                except FileNotFoundError:
                    pass
                os.close(self._fd)
                self._fd = None
            _held.discard(self.run_id)

    def lend(self) -> None:
        """Let another writer claim the run until `take_back`."""
        self.release()
        self.lent = True

    def take_back(self) -> None:
        """Claim the run again after `lend` (raises RunClaimedError while the borrower still holds it)."""
        self._take()
        self.lent = False
