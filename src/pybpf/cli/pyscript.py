"""Running a Python program in-process, in a thread, as `python SCRIPT ARGS` would (for -c and --python)."""

from __future__ import annotations

import os
import runpy
import sys
import threading

from ..errors import PybpfError


def script_thread(argv: list[str], done: threading.Event) -> threading.Thread:
    """A thread (not started) that runs argv[0] as __main__ with sys.argv = argv, then sets `done`.

    The script's folder goes first on sys.path, so probes can name the script's own modules.
    A script that is not there is refused now, before any probe is attached, in Python's own words.
    """
    if not os.path.exists(argv[0]):
        raise PybpfError(f"can't open file '{os.path.abspath(argv[0])}': No such file or directory")
    sys.path.insert(0, os.path.dirname(os.path.abspath(argv[0])))

    def run() -> None:
        saved = sys.argv
        sys.argv = list(argv)
        try:
            runpy.run_path(argv[0], run_name="__main__")
        except SystemExit:
            pass
        finally:
            sys.argv = saved
            done.set()

    return threading.Thread(target=run, name="pybpf-script", daemon=True)
