"""Helpers the native engine runs in machine code (vm/jit/native_helpers.py) give what the registry's would."""

from __future__ import annotations

import dataclasses
import os
import threading
import time

import pytest

from pybpf.helpers import REGISTRY, helper_id
from pybpf.isa.asm import assemble
from pybpf.vm import jit
from pybpf.vm.jit.native_helpers import EMITTERS, native_ids

pytestmark = pytest.mark.skipif(not jit.available(), reason="the native engine is not available here")
KTIME, PID_TGID = helper_id("ktime_get_ns"), helper_id("get_current_pid_tgid")


def _run(text: str, helpers=None, checked: bool = False) -> int:
    return jit.NativeEngine(assemble(text, helper_id=helper_id), helpers=helpers, checked=checked).run()


@pytest.mark.parametrize("checked", [False, True])
def test_pid_tgid_is_the_process_and_the_thread(checked):
    assert _run("call bpf_get_current_pid_tgid\nexit", checked=checked) == \
        (os.getpid() << 32) | threading.get_native_id()


def test_pid_tgid_names_the_calling_thread():
    seen = {}
    thread = threading.Thread(target=lambda: seen.update(r0=_run("call bpf_get_current_pid_tgid\nexit"),
                                                         tid=threading.get_native_id()))
    thread.start()
    thread.join()
    assert seen["r0"] == (os.getpid() << 32) | seen["tid"]


def test_ktime_is_the_monotonic_clock():
    before = time.monotonic_ns()
    now = _run("call bpf_ktime_get_ns\nexit")
    assert before <= now <= time.monotonic_ns()
    assert _run("call bpf_ktime_get_ns\nr6 = r0\ncall bpf_ktime_get_ns\nr0 -= r6\nexit") < 1 << 63  # monotonic


def test_a_replaced_helper_is_called_back():
    helpers = dict(REGISTRY)
    helpers[KTIME] = dataclasses.replace(REGISTRY[KTIME], impl=lambda m, *_: 1234)
    assert native_ids(helpers) == native_ids(REGISTRY) - {KTIME}
    assert _run("call bpf_ktime_get_ns\nexit", helpers=helpers) == 1234


def test_every_native_helper_is_in_the_registry():
    assert set(EMITTERS) == {KTIME, PID_TGID} and native_ids(REGISTRY) == {KTIME, PID_TGID}
