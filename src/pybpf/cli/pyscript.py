"""Running a Python program in-process, in a thread, as `python SCRIPT ARGS` would (for -c and --python)."""

from __future__ import annotations

import os
import runpy
import sys
import threading
import traceback

from ..errors import PybpfError


def script_thread(argv: list[str], done: threading.Event) -> threading.Thread:
    """A thread (not started) that runs argv[0] as __main__ with sys.argv = argv, then sets `done`.

    The script's folder goes first on sys.path, so probes can name the script's own modules.
    A script that is not there is refused now, before any probe is attached, in Python's own words.
    The script ends as `python SCRIPT` would: an exception it raises is printed as Python prints it (its
    own frames only, not this thread's), and the thread's `exit_status` is what python's would be.
    """
    path = os.path.abspath(argv[0])
    if not os.path.exists(argv[0]):
        raise PybpfError(f"can't open file '{path}': No such file or directory")
    if os.path.isdir(argv[0]) and not os.path.exists(os.path.join(argv[0], "__main__.py")):
        raise PybpfError(f"can't find '__main__' module in '{path}'")
    sys.path.insert(0, os.path.dirname(path))

    def run() -> None:
        saved = sys.argv
        sys.argv = list(argv)
        try:
            runpy.run_path(argv[0], run_name="__main__")
        except SystemExit as status:
            thread.exit_status = _exit_status(status.code)
        except BaseException as err:  # the script's own failure, reported as Python would
            thread.exit_status = 1
            traceback.print_exception(type(err), err, _script_frames(err.__traceback__), file=sys.stderr)
        finally:
            sys.argv = saved
            done.set()

    thread = threading.Thread(target=run, name="pybpf-script", daemon=True)
    thread.exit_status = 0
    return thread


def _exit_status(code) -> int:
    """sys.exit(code)'s status, as the interpreter turns it into one (a message is printed, status 1)."""
    if code is None or isinstance(code, int):
        return code or 0
    print(code, file=sys.stderr)
    return 1


def _script_frames(tb):
    """The traceback from the first frame that is not this module's or runpy's: the script's own."""
    while tb is not None and (tb.tb_frame.f_code.co_filename == __file__
                              or tb.tb_frame.f_globals.get("__name__") == "runpy"):
        tb = tb.tb_next
    return tb
