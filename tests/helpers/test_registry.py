"""The helper registry: Linux ids and names, argument and return kinds, lookups."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pybpf.helpers import FUNC_IDS, FUNC_NAMES, REGISTRY, HelperSpec, helper_id, helper_name


def test_the_id_table_is_linux_6_18s():
    assert len(FUNC_NAMES) == 212 and FUNC_NAMES[0] == "unspec"
    assert FUNC_NAMES[-1] == "cgrp_storage_delete"
    for name, number in [("map_lookup_elem", 1), ("ktime_get_ns", 5), ("trace_printk", 6),
                         ("get_prandom_u32", 7), ("get_smp_processor_id", 8), ("tail_call", 12),
                         ("ktime_get_boot_ns", 125), ("ringbuf_output", 130), ("loop", 181)]:
        assert FUNC_IDS[name] == number


def test_names_and_ids():
    assert helper_name(1) == "bpf_map_lookup_elem"
    assert helper_name(0) is None and helper_name(212) is None and helper_name(-1) is None
    assert helper_id("bpf_trace_printk") == 6 == helper_id("trace_printk")
    assert helper_id("bpf_nonexistent") is None


def test_every_registered_helper_is_consistent():
    kinds = re.compile(r"ARG_[A-Z_0-9]+")
    for number, spec in REGISTRY.items():
        assert isinstance(spec, HelperSpec) and spec.id == number
        assert FUNC_NAMES[number] == spec.name and spec.full_name == "bpf_" + spec.name
        assert len(spec.args) <= 5 and all(kinds.fullmatch(arg) for arg in spec.args), spec
        assert spec.ret.startswith("RET_"), spec
        assert spec.impl is None or (callable(spec.impl) and spec.doc), spec
        assert spec.effects <= {"acquire", "release", "cast", "changes_pkt_data", "pkt_access"}, spec


def test_the_verifier_knows_every_argument_and_return_kind():
    from pybpf.verifier.calls import ARG_CHECKS, RETURNS
    for spec in REGISTRY.values():
        assert all(arg in ARG_CHECKS for arg in spec.args), spec
        assert spec.ret in RETURNS or spec.ret in ("RET_INTEGER", "RET_VOID"), spec


def test_declared_helpers_are_refused_by_the_engines():
    from pybpf.helpers import helper_id
    assert REGISTRY[helper_id("skb_vlan_push")].impl is None
    assert REGISTRY[helper_id("map_lookup_elem")].impl is not None


def test_the_first_helpers_are_there():
    for number in (1, 2, 3, 5, 6, 7, 8, 125):
        assert number in REGISTRY
    assert REGISTRY[6].gpl_only and REGISTRY[6].args == ("ARG_PTR_TO_MEM", "ARG_CONST_SIZE")
    assert REGISTRY[1].args == ("ARG_CONST_MAP_PTR", "ARG_PTR_TO_MAP_KEY")
    assert REGISTRY[1].ret == "RET_PTR_TO_MAP_VALUE_OR_NULL"


@pytest.mark.skipif(not (shutil.which("bpftool") and Path("/sys/kernel/btf/vmlinux").exists()),
                    reason="needs bpftool and the running kernel's BTF")
def test_the_id_table_matches_the_running_kernel():
    dump = subprocess.run(["bpftool", "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "raw"],
                          capture_output=True, text=True, timeout=120).stdout
    found = dict((int(v), n) for n, v in re.findall(r"'BPF_FUNC_([a-z0-9_]+)' val=(\d+)", dump))
    if not found:
        pytest.skip("no enum bpf_func_id in the kernel's BTF")
    assert [found.get(i) for i in range(len(found))] == list(FUNC_NAMES[:len(found)])
