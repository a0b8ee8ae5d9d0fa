"""The virtual kernel's prog_load runs the verifier, as Linux's bpf_prog_load runs bpf_check.

An unsafe program is refused with the kernel's errno and message in the log;
the log follows Linux's buffer rules (ENOSPC when it does not fit, the tail
kept); an unprivileged kernel applies Linux's unprivileged rules; and only a
verified program runs, on the engine `vm.engines.choose` picks for it.
"""

import errno

import pytest

from pybpf.helpers import helper_id
from pybpf.isa.asm import assemble
from pybpf.kernel.errors import BpfError
from pybpf.kernel.virtual import VirtualKernel
from pybpf.uapi import MapType, ProgType
from pybpf.vm.engines import ENGINES
from pybpf.vm.tiered import NATIVE_MIN_INSNS
from support.kernel import needs_kernel

SOCKET = ProgType.BPF_PROG_TYPE_SOCKET_FILTER
XDP = ProgType.BPF_PROG_TYPE_XDP
SUMMARY = "processed {} insns (limit 1000000) max_states_per_insn"


@pytest.fixture
def kernel():
    return VirtualKernel(ncpus=2)


def refused(kernel, source, prog_type=SOCKET, **options) -> BpfError:
    with pytest.raises(BpfError) as err:
        kernel.prog_load(prog_type, assemble(source, helper_id=helper_id), **options)
    return err.value


def lookup(map_fd: int) -> str:
    return f"""
        r1 = 0
        *(u32 *)(r10 - 4) = r1
        r1 = map[fd:{map_fd}] ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
    """


def test_out_of_bounds_stack_read_is_refused(kernel):
    err = refused(kernel, "r0 = *(u64 *)(r10 + 8)\nexit")
    assert err.errno == errno.EACCES
    assert "invalid read from stack R10 off=8 size=8" in err.log
    assert SUMMARY.format(1) in err.log.splitlines()[-1]
    assert "EACCES (Permission denied): pc 0: invalid read from stack R10 off=8 size=8" in str(err)


def test_unchecked_map_value_dereference_is_refused(kernel):
    fd = kernel.map_create(MapType.BPF_MAP_TYPE_HASH, 4, 8, 1)
    err = refused(kernel, lookup(fd) + "r0 = *(u64 *)(r0 + 0)\nexit")
    assert err.errno == errno.EACCES
    assert "R0 invalid mem access 'map_value_or_null'" in err.log
    assert "R0 invalid mem access" in str(err)


def test_an_array_element_with_a_constant_key_needs_no_null_check(kernel):
    """Linux 6.18 elides the NULL of an array lookup whose constant key is in range."""
    fd = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1)
    kernel.map_update(fd, bytes(4), (9).to_bytes(8, "little"))
    prog = kernel.prog_load(SOCKET, assemble(lookup(fd) + "r0 = *(u64 *)(r0 + 0)\nexit", helper_id=helper_id))
    assert kernel.prog_test_run(prog.fd, bytes(64)).retval == 9
    out_of_range = lookup(fd).replace("r1 = 0\n", "r1 = 1\n", 1) + "r0 = *(u64 *)(r0 + 0)\nexit"
    assert "invalid mem access 'map_value_or_null'" in refused(kernel, out_of_range).log


def test_checked_map_value_dereference_is_accepted_and_runs(kernel):
    fd = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1)
    kernel.map_update(fd, bytes(4), (41).to_bytes(8, "little"))
    prog = kernel.prog_load(SOCKET, assemble(lookup(fd) + """
        if r0 == 0 goto out
        r0 = *(u64 *)(r0 + 0)
        r0 += 1
        exit
    out:
        exit
    """, helper_id=helper_id))
    assert prog.log == ""  # no log asked for
    assert kernel.prog_test_run(prog.fd, bytes(64)).retval == 42


def test_leaked_ringbuf_record_is_refused(kernel):
    rb = kernel.map_create(MapType.BPF_MAP_TYPE_RINGBUF, 0, 0, 4096)
    err = refused(kernel, f"""
        r1 = map[fd:{rb}] ll
        r2 = 8
        r3 = 0
        call bpf_ringbuf_reserve
        r0 = 0
        exit
    """)
    assert err.errno == errno.EINVAL
    assert "Unreleased reference id=" in err.log and "alloc_insn=4" in err.log
    assert "BPF_EXIT instruction in main prog would lead to reference leak" in err.log


def test_a_map_of_the_wrong_type_for_the_helper_is_refused(kernel):
    array = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1)
    err = refused(kernel, f"""
        r1 = map[fd:{array}] ll
        r2 = 8
        r3 = 0
        call bpf_ringbuf_reserve
        r0 = 0
        exit
    """)
    assert err.errno == errno.EINVAL
    assert "cannot pass map_type 2 into func bpf_ringbuf_reserve#131" in err.log


def test_gpl_only_helper_needs_a_gpl_license(kernel):
    source = "call bpf_ktime_get_ns\nr0 = 0\nexit"
    # bpf_trace_printk is GPL-only in Linux; the license decides.
    printk = """
        r1 = 0
        *(u64 *)(r10 - 8) = r1
        r1 = r10
        r1 += -8
        r2 = 8
        call bpf_trace_printk
        r0 = 0
        exit
    """
    kernel.prog_load(ProgType.BPF_PROG_TYPE_KPROBE, assemble(source, helper_id=helper_id), "Proprietary")
    kernel.prog_load(ProgType.BPF_PROG_TYPE_KPROBE, assemble(printk, helper_id=helper_id), "Dual BSD/GPL")
    err = refused(kernel, printk, ProgType.BPF_PROG_TYPE_KPROBE, license="Proprietary")
    assert err.errno == errno.EINVAL
    assert "cannot call GPL-restricted function from non-GPL compatible program" in err.log


def test_info_reports_the_verified_instructions_and_the_license(kernel):
    gpl = kernel.prog_load(SOCKET, assemble("r0 = 1\nif r0 > 2 goto +1\nr0 = 0\nexit"))
    other = kernel.prog_load(SOCKET, assemble("r0 = 0\nexit"), "Proprietary")
    assert kernel.info(gpl.fd)["verified_insns"] == 4 and kernel.info(gpl.fd)["gpl_compatible"] == 1
    assert kernel.info(other.fd)["verified_insns"] == 2 and kernel.info(other.fd)["gpl_compatible"] == 0


def test_log_levels_return_the_verifier_trace(kernel):
    source = "r0 = 1\nif r0 > 2 goto +1\nr0 = 0\nexit"
    level2 = kernel.prog_load(SOCKET, assemble(source), log_level=2, log_size=4096).log
    lines = level2.splitlines()
    assert lines[0] == "0: R1=ctx() R10=fp0" and "0: (b7) r0 = 1" in lines
    assert lines[-1].startswith(SUMMARY.format(4))
    # below level 2 an accepted program's log is rewound to its statistics, as Linux's do_check_common does
    for level in (1, 4):
        assert kernel.prog_load(SOCKET, assemble(source), log_level=level, log_size=4096).log == lines[-1] + "\n"
    refused_trace = refused(kernel, source.replace("r0 = 0", "r0 = *(u64 *)(r10 + 8)"), log_level=1,
                            log_size=4096).log.splitlines()
    assert refused_trace[0] == "0: (b7) r0 = 1" and refused_trace[-2] == "invalid read from stack R10 off=8 size=8"


def test_a_refusal_carries_the_log_without_log_level(kernel):
    err = refused(kernel, "r0 = r1\nr0 = *(u64 *)(r10 + 8)\nexit")
    assert err.log.startswith("0: (bf) r0 = r1")  # at level 1, as libbpf retries a refused load
    assert "invalid read from stack" in err.log


def test_a_log_that_does_not_fit_is_enospc_with_its_tail(kernel):
    source = "\n".join(["r0 = 0"] * 40 + ["exit"])
    full = kernel.prog_load(SOCKET, assemble(source), log_level=2, log_size=1 << 16).log
    with pytest.raises(BpfError) as err:
        kernel.prog_load(SOCKET, assemble(source), log_level=2, log_size=256)
    assert err.value.errno == errno.ENOSPC
    assert len(err.value.log) == 255 and full.endswith(err.value.log)  # the rotating log keeps the end
    assert kernel.get_next_id("prog") == 1  # only the first load's program exists
    fits = kernel.prog_load(SOCKET, assemble(source), log_level=2, log_size=len(full) + 1)
    assert fits.log == full


def test_enospc_wins_over_the_refusal(kernel):
    source = "\n".join(["r0 = 0"] * 40 + ["r0 = *(u64 *)(r10 + 8)", "exit"])
    err = refused(kernel, source, log_level=1, log_size=128)
    assert err.errno == errno.ENOSPC
    # the last 127 bytes and the NUL, as Linux 6.18 returns them for this program
    assert err.log == " from stack R10 off=8 size=8\n" + SUMMARY.format(41) + " 0 total_states 0 peak_states 0 mark_read 0\n"


def test_unprivileged_kernel_refuses_pointer_leaks():
    kernel = VirtualKernel(privileged=False)
    err = refused(kernel, "r0 = r10\nexit")
    assert err.errno == errno.EACCES
    assert "R0 leaks addr as return value" in err.log
    assert VirtualKernel().prog_load(SOCKET, assemble("r0 = r10\nexit")).fd > 0  # privileged: allowed


def test_unprivileged_kernel_refuses_uninitialised_stack_reads_and_other_program_types():
    kernel = VirtualKernel(privileged=False)
    err = refused(kernel, "r0 = *(u64 *)(r10 - 8)\nexit")
    assert "invalid read from stack R10 off=-8 size=8" in err.log
    assert refused(kernel, "r0 = 0\nexit", XDP).errno == errno.EPERM
    assert kernel.prog_load(SOCKET, assemble("r0 = 0\nexit")).fd > 0


def test_an_empty_program_is_e2big(kernel):
    assert refused(kernel, "").errno == errno.E2BIG


def test_unprivileged_instruction_limit():
    source = "\n".join(["r0 = 0"] * 4096 + ["exit"])
    assert refused(VirtualKernel(privileged=False), source).errno == errno.E2BIG
    assert VirtualKernel().prog_load(SOCKET, assemble(source)).fd > 0


def long_program() -> list:
    return assemble("\n".join(["r0 = 1"] + ["r0 += 1"] * NATIVE_MIN_INSNS + ["exit"]))


def test_a_verified_program_runs_on_the_chosen_engine(kernel, monkeypatch):
    monkeypatch.delenv("PYBPF_ENGINE", raising=False)
    prog = kernel.prog_load(SOCKET, long_program())
    expected = "native" if "native" in ENGINES else "compiled"
    assert kernel.info(prog.fd)["engine"] == expected
    assert kernel.prog_test_run(prog.fd, bytes(64)).retval == NATIVE_MIN_INSNS + 1
    if expected == "native":
        assert kernel.prog(prog.fd).interp.checked is False  # verified: no run-time checks
    asked = kernel.prog_load(SOCKET, long_program(), engine="interp")
    assert kernel.info(asked.fd)["engine"] == "interp"


@pytest.mark.skipif("native" not in ENGINES, reason="the native engine needs llvmlite on x86-64 or arm64")
def test_checked_native_mode_on_request(monkeypatch):
    monkeypatch.delenv("PYBPF_ENGINE", raising=False)
    kernel = VirtualKernel(checked=True)
    prog = kernel.prog_load(SOCKET, long_program())
    assert kernel.info(prog.fd)["engine"] == "native" and kernel.prog(prog.fd).interp.checked is True
    assert kernel.prog_test_run(prog.fd, bytes(64)).retval == NATIVE_MIN_INSNS + 1


def test_frozen_read_only_map_values_are_known_to_the_verifier(kernel):
    """bpf_strncmp's constant string must be in a frozen BPF_F_RDONLY_PROG map, as in Linux."""
    ro = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1, 1 << 7)
    kernel.map_update(ro, bytes(4), b"hello\0\0\0")
    source = f"""
        r1 = 0x6f6c6c6568 ll
        *(u64 *)(r10 - 8) = r1
        r1 = r10
        r1 += -8
        r2 = 5
        r3 = map[fd:{ro}][0]+0 ll
        call bpf_strncmp
        exit
    """
    err = refused(kernel, source)  # not frozen yet: not a read-only map
    assert "does not point to a readonly map" in err.log
    kernel.map_freeze(ro)
    prog = kernel.prog_load(SOCKET, assemble(source, helper_id=helper_id))
    assert kernel.prog_test_run(prog.fd, bytes(64)).retval == 0


# -- the same loads on Linux: errno and the verifier's last message agree ----------------------------------
def _maps(kernel) -> dict:
    """The maps the cases use, created in `kernel`: fds by name."""
    fds = {"array": kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1),
           "pair": kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 2),
           "ringbuf": kernel.map_create(MapType.BPF_MAP_TYPE_RINGBUF, 0, 0, 4096)}
    fds["hello"] = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1, 1 << 7)
    kernel.map_update(fds["hello"], bytes(4), b"hello\0\0\0")
    kernel.map_freeze(fds["hello"])
    fds["outer"] = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 1, inner_map_fd=fds["array"])
    return fds


STRNCMP = """
    r1 = 0x6f6c6c6568 ll
    *(u64 *)(r10 - 8) = r1
    r1 = r10
    r1 += -8
    r2 = 5
    {third}
    call bpf_strncmp
    exit
"""
CASES = {  # name -> (program type, license, source with {map} fields)
    "stack out of bounds": (SOCKET, "GPL", "r0 = *(u64 *)(r10 + 8)\nexit"),
    "array value, constant key": (SOCKET, "GPL", lookup("{array}") + "r0 = *(u64 *)(r0 + 0)\nexit"),
    "array value, key out of range": (SOCKET, "GPL", lookup("{array}").replace("r1 = 0", "r1 = 1", 1)
                                      + "r0 = *(u64 *)(r0 + 0)\nexit"),
    "array value, key 1 spilled": (SOCKET, "GPL", "r1 = 1\n*(u32 *)(r10 - 8) = r1\nr1 = map[fd:{pair}] ll\n"
                                   "r2 = r10\nr2 += -8\ncall bpf_map_lookup_elem\nr0 = *(u64 *)(r0 + 0)\nexit"),
    "array value, key 1 unaligned": (SOCKET, "GPL", "r1 = 1\n*(u32 *)(r10 - 4) = r1\nr1 = map[fd:{pair}] ll\n"
                                     "r2 = r10\nr2 += -4\ncall bpf_map_lookup_elem\nr0 = *(u64 *)(r0 + 0)\nexit"),
    "array value, key 1 by st": (SOCKET, "GPL", "*(u32 *)(r10 - 8) = 1\nr1 = map[fd:{pair}] ll\n"
                                 "r2 = r10\nr2 += -8\ncall bpf_map_lookup_elem\nr0 = *(u64 *)(r0 + 0)\nexit"),
    "array value, unknown key": (SOCKET, "GPL", lookup("{array}").replace("r1 = 0", "r1 = *(u32 *)(r1 + 0)", 1)
                                 + "r0 = *(u64 *)(r0 + 0)\nexit"),
    "map value checked": (SOCKET, "GPL", lookup("{array}") + "if r0 == 0 goto +1\nr0 = *(u64 *)(r0 + 0)\nexit"),
    "ringbuf record leaked": (SOCKET, "GPL", "r1 = map[fd:{ringbuf}] ll\nr2 = 8\nr3 = 0\n"
                                            "call bpf_ringbuf_reserve\nr0 = 0\nexit"),
    "array into ringbuf_reserve": (SOCKET, "GPL", "r1 = map[fd:{array}] ll\nr2 = 8\nr3 = 0\n"
                                                 "call bpf_ringbuf_reserve\nr0 = 0\nexit"),
    "GPL-only helper, other license": (ProgType.BPF_PROG_TYPE_KPROBE, "Proprietary",
                                       "r1 = 0\n*(u64 *)(r10 - 8) = r1\nr1 = r10\nr1 += -8\nr2 = 8\n"
                                       "call bpf_trace_printk\nr0 = 0\nexit"),
    "strncmp of a stack string": (SOCKET, "GPL", STRNCMP.format(third="r3 = r10\nr3 += -8")),
    "strncmp of a read-only map": (SOCKET, "GPL", STRNCMP.format(third="r3 = map[fd:{hello}][0]+0 ll")),
    "map-in-map lookup": (SOCKET, "GPL", lookup("{outer}") + "if r0 == 0 goto out\nr1 = r0\nr2 = r10\n"
                                         "r2 += -4\ncall bpf_map_lookup_elem\nif r0 == 0 goto out\n"
                                         "r0 = *(u64 *)(r0 + 0)\nexit\nout:\nr0 = 0\nexit"),
    "pointer returned": (SOCKET, "GPL", "r0 = r10\nexit"),
}


def _verdict(kernel, case: str, **log) -> tuple:
    """(errno or 0, the verifier's last message before its summary line) of one case in `kernel`."""
    from pybpf.kernel.errors import BpfError as Refused
    prog_type, license, source = CASES[case]
    insns = assemble(source.format(**_maps(kernel)), helper_id=helper_id)
    try:
        kernel.close(kernel.prog_load(prog_type, insns, license, log_level=1, log_size=1 << 16, **log).fd)
        return 0, ""
    except Refused as err:
        lines = err.log.splitlines()
        return err.errno, lines[-2] if len(lines) > 1 else ""


@needs_kernel
@pytest.mark.kernel
@pytest.mark.parametrize("case", CASES)
def test_linux_gives_the_same_verdict(case):
    from pybpf.kernel.linux import LinuxKernel
    assert _verdict(VirtualKernel(), case) == _verdict(LinuxKernel(), case)


@needs_kernel
@pytest.mark.kernel
def test_linux_keeps_the_same_tail_of_a_log_too_long():
    from pybpf.kernel.linux import LinuxKernel
    source = "\n".join(["r0 = 0"] * 40 + ["r0 = *(u64 *)(r10 + 8)", "exit"])
    tails = []
    for kernel in (VirtualKernel(), LinuxKernel()):
        with pytest.raises(BpfError) as err:
            kernel.prog_load(SOCKET, assemble(source), log_level=1, log_size=128)
        tails.append((err.value.errno, err.value.log))
    assert tails[0] == tails[1] and tails[0][0] == errno.ENOSPC


@needs_kernel
@pytest.mark.kernel
def test_linux_rewinds_an_accepted_programs_log_below_level_2_too():
    from pybpf.kernel.linux import LinuxKernel
    source = assemble("r0 = 0\nr1 = *(u32 *)(r1 + 0)\nif r1 == 0 goto +1\nr0 = 1\nexit")
    logs = [kernel.prog_load(SOCKET, source, log_level=1, log_size=4096).log.splitlines()
            for kernel in (VirtualKernel(), LinuxKernel())]
    assert [len(log) for log in logs] == [1, 1]
    # Linux walks the exit twice (no checkpoint that close to the start); ours prunes the second path there,
    # where the imprecise r0 is all that differs.
    assert logs[1][0].startswith(SUMMARY.format(6)) and logs[0][0].startswith(SUMMARY.format(5))
