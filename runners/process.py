"""Process-wide behaviour the CLI and the Ray sweep driver share (below both in the layering).

SIGTERM handled like Ctrl-C, so whatever a process was running ends KILLED; and a quick exit
for the console entry points.
"""

from __future__ import annotations


def sigterm_as_interrupt() -> None:
    """SIGTERM (the board's cancel button, `kill`) acts like Ctrl-C: KeyboardInterrupt in the
    main thread, so a stage or sweep ends KILLED with reason `killed` and the CLI exits 130.
    Called at start-up, and again after `ray.init`, whose core worker installs a C++ handler
    that would abort the driver (exit 134) before any Python runs."""
    import signal
    import threading

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def exit_now(code: int, last=None) -> None:
    """Exit the way the interpreter would, minus its slowest part.

    What a normal exit does that matters is done here, in its order: wait for the non-daemon
    threads, run the atexit handlers (MLflow ends its runs and drains its async queue, Ray
    shuts its local cluster down, logging flushes), flush stdout and stderr. What is skipped
    is the teardown of every imported module: with torch and MLflow loaded that alone takes
    0.6-1.2 s on 2 CPU cores, paid by every command for nothing (`bench/cli_exit.py`).
    Only for the console entry points: never call it where a caller (a test) continues.
    `last(code)`, if given, runs after the flush, just before the process ends.
    IDEALOOP_FULL_EXIT=1 exits the ordinary way (the benchmark's baseline; an escape hatch).
    """
    import atexit
    import os
    import sys
    import threading

    if os.environ.get("IDEALOOP_FULL_EXIT", "") not in ("", "0"):
        sys.exit(code)
    try:
        for thread in threading.enumerate():
            if thread is not threading.current_thread() and not thread.daemon:
                thread.join()
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe (`idealoop ... | head`): nothing to flush into
                pass
        if last is not None:
            last(code)
        os._exit(code)


def import_in_background(modules: tuple[str, ...]):
    """Import `modules` in a daemon thread; returns it (join it before relying on them).

    For the seconds the main thread only waits, e.g. in `ray.init` while Ray's own processes
    start: imports then cost no wall time. A module that fails to import here is left alone:
    the code that needs it imports it again and gets the error where it belongs."""
    import importlib
    import threading

    def load() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001, S112 - a preload only; see the docstring
                continue

    thread = threading.Thread(target=load, name="idealoop-preload", daemon=True)
    thread.start()
    return thread
