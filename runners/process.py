"""Process-wide behaviour the CLI and the Ray sweep driver share (below both in the layering).

Today one thing: SIGTERM handled like Ctrl-C, so whatever a process was running ends KILLED.
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
