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


def exit_now(code: int) -> None:
    """Exit the way the interpreter would, minus its slowest part.

    What a normal exit does that matters is done here, in its order: wait for the non-daemon
    threads, run the atexit handlers (MLflow ends its runs and drains its async queue, Ray
    shuts its local cluster down, logging flushes), flush stdout and stderr. What is skipped
    is the teardown of every imported module: with torch and MLflow loaded that alone takes
    0.6-1.2 s on 2 CPU cores, paid by every command for nothing (`bench/cli_exit.py`).
    Only for the console entry points: never call it where a caller (a test) continues.
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
        os._exit(code)
