"""Function entry and return events of the running Python program.

On Python 3.12 and later, sys.monitoring turns events on for the probed code
objects only, so the rest of the program runs at full speed.  On 3.11,
sys.setprofile (on every thread) sees every call and dispatches by code
object.  Either way the tracer is installed only while something is
attached, and it is switched off on a thread while that thread runs a BPF
program, so the engine's own calls are never traced.
"""

from __future__ import annotations

import sys
import threading

_MONITORING = getattr(sys, "monitoring", None)


def _arguments(frame) -> list:
    code = frame.f_code
    count = code.co_argcount + code.co_kwonlyargcount
    names = code.co_varnames[:count]
    local = frame.f_locals
    return [local.get(name) for name in names]


class FunctionTracer:
    def __init__(self):
        self.entry: dict[object, tuple] = {}
        self.ret: dict[object, tuple] = {}
        self.lock = threading.Lock()
        self.installed = False
        self.local = threading.local()

    # -- attach/detach ---------------------------------------------------------
    def attach(self, code, on_return: bool, fire) -> None:
        with self.lock:
            table = self.ret if on_return else self.entry
            table[code] = table.get(code, ()) + (fire,)
            self._install(code)

    def detach(self, code, on_return: bool, fire) -> None:
        with self.lock:
            table = self.ret if on_return else self.entry
            table[code] = tuple(f for f in table.get(code, ()) if f != fire)
            if not table[code]:
                del table[code]
            if not self.entry and not self.ret:
                self._uninstall()
            elif _MONITORING is not None:
                self._set_local_events(code)

    # -- dispatch ----------------------------------------------------------------
    def _run(self, fires, args, retval=None, is_return=False) -> None:
        if getattr(self.local, "busy", False):
            return
        self.local.busy = True
        previous = sys.getprofile()
        if previous is not None:
            sys.setprofile(None)
        try:
            for fire in fires:
                fire(args, retval) if is_return else fire(args)
        finally:
            if previous is not None:
                sys.setprofile(previous)
            self.local.busy = False

    def _profile(self, frame, event, arg):
        if event == "call":
            fires = self.entry.get(frame.f_code)
            if fires:
                self._run(fires, _arguments(frame))
        elif event == "return":
            fires = self.ret.get(frame.f_code)
            if fires:
                self._run(fires, _arguments(frame), arg, True)

    # -- sys.monitoring (3.12+) or sys.setprofile (3.11) ---------------------------
    def _install(self, code) -> None:
        if _MONITORING is not None:
            if not self.installed:
                tool = _MONITORING.PROFILER_ID
                _MONITORING.use_tool_id(tool, "pybpf")
                events = _MONITORING.events
                _MONITORING.register_callback(tool, events.PY_START, self._on_start)
                _MONITORING.register_callback(tool, events.PY_RETURN, self._on_return)
                self.installed = True
            self._set_local_events(code)
            return
        if not self.installed:
            sys.setprofile(self._profile)
            threading.setprofile(self._profile)
            self.installed = True

    def _set_local_events(self, code) -> None:
        events = _MONITORING.events
        mask = (events.PY_START if code in self.entry else 0) | (events.PY_RETURN if code in self.ret else 0)
        _MONITORING.set_local_events(_MONITORING.PROFILER_ID, code, mask)

    def _on_start(self, code, offset):
        fires = self.entry.get(code)
        if fires:
            self._run(fires, _arguments(sys._getframe(1)))

    def _on_return(self, code, offset, retval):
        fires = self.ret.get(code)
        if fires:
            self._run(fires, _arguments(sys._getframe(1)), retval, True)

    def _uninstall(self) -> None:
        if not self.installed:
            return
        if _MONITORING is not None:
            _MONITORING.free_tool_id(_MONITORING.PROFILER_ID)
        else:
            sys.setprofile(None)
            threading.setprofile(None)
        self.installed = False


TRACER = FunctionTracer()
