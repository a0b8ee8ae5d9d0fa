"""The verifier's verdicts and messages on small programs, and the `pybpf verify` command."""

from __future__ import annotations

import pytest

from pybpf import api
from pybpf.cli.main import main
from pybpf.isa.asm import assemble
from support.paths import DATA

ACCEPTED = {
    "return a constant": "r0 = 0\nexit",
    "bounded index into the stack": "r2 = r10\nr2 += -8\n*(u64 *)(r2 +0) = 0\nr0 = *(u64 *)(r10 -8)\nexit",
    "context read": "r0 = *(u32 *)(r1 +0)\nexit",
    "branch on unknown": "r0 = *(u32 *)(r1 +0)\nif r0 > 10 goto +1\nr0 = 1\nexit",
}
REJECTED = {
    "uninitialised r0": ("exit", "R0 !read_ok"),
    "write to the frame pointer": ("r10 = 0\nr0 = 0\nexit", "frame pointer is read only"),
    "wide context read": ("r0 = *(u64 *)(r1 +0)\nexit", "invalid bpf_context access off=0 size=8"),
    "stack out of bounds": ("*(u64 *)(r10 -520) = 0\nr0 = 0\nexit", "invalid write to stack R10 off=-520 size=8"),
    "scalar dereference": ("r1 = 5\nr0 = *(u64 *)(r1 +0)\nexit", "R1 invalid mem access 'scalar'"),
    "fall off the end": ("r0 = 0", "last insn is not an exit or jmp"),
    "infinite loop": ("r0 = 0\nif r0 == 0 goto -1\nexit", "infinite loop detected at insn 1"),
    "pointer leak (unprivileged)": ("r0 = r10\nexit", "R0 leaks addr as return value"),
}


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_accepts(name):
    result = api.verify(assemble(ACCEPTED[name]), "socket_filter")
    assert result.accepted, result.log
    assert result.log == "" and result.stats.processed >= 2


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_rejects_with_the_kernels_message(name):
    text, message = REJECTED[name]
    result = api.verify(assemble(text), "socket_filter", privileged="unprivileged" not in name)
    assert not result.accepted
    assert message in result.log.splitlines()[-2], result.log


def test_log_level_1_prints_each_instruction_and_the_summary():
    result = api.verify(assemble("r0 = 0\nexit"), "xdp", log_level=1)
    assert result.log.splitlines() == [
        "0: (b7) r0 = 0",
        "1: (95) exit",
        "processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0",
    ]


def test_packet_access_needs_a_bounds_check():
    unchecked = "r2 = *(u32 *)(r1 +0)\nr0 = *(u8 *)(r2 +0)\nexit"
    checked = ("r2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)\nr4 = r2\nr4 += 1\nif r4 > r3 goto +2\n"
               "r0 = *(u8 *)(r2 +0)\nexit\nr0 = 0\nexit")
    bad = api.verify(assemble(unchecked), "xdp")
    assert not bad.accepted and "invalid access to packet" in bad.log
    assert api.verify(assemble(checked), "xdp").accepted


def test_objects_verify_per_program():
    results = api.verify_object(DATA / "packet" / "packet.o")
    assert results and all(r.accepted for r in results.values()), {n: r.log for n, r in results.items()}


def test_cli_exit_status_follows_the_verdict(capsys, tmp_path):
    good = tmp_path / "good.hex"
    good.write_text("b700000000000000 9500000000000000")
    bad = tmp_path / "bad.hex"
    bad.write_text("9500000000000000")
    assert main(["verify", "--type", "xdp", str(good)]) == 0
    assert "accepted" in capsys.readouterr().out
    assert main(["verify", "--type", "xdp", str(bad)]) == 1
    assert "R0 !read_ok" in capsys.readouterr().out
    assert main(["verify", "--type", "nonsense", str(good)]) == 1
    assert "unknown program type 'nonsense'" in capsys.readouterr().err
