"""The running kernel's structs from its BTF on --kernel linux (trace/btf_structs.py): `curtask`'s
fields, pointers followed through `real_parent`, casts to `struct task_struct *`, `ppid()`, and
bpftrace's error for a field the kernel's struct does not have."""

from __future__ import annotations

import os

import pytest

from pybpf.cli.pybpftrace import main
from pybpf.kernel.linux.btf_vmlinux import VMLINUX
from pybpf.trace.btf_structs import vmlinux_structs
from support.kernel import needs_kernel

pytestmark = [needs_kernel,
              pytest.mark.skipif(not os.path.exists(VMLINUX), reason=f"needs the kernel's BTF ({VMLINUX})")]


def run(capsys, script: str) -> tuple[int, str, str]:
    code = main(["--kernel", "linux", "--no-cache", "-e", script])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def comm(pid: int) -> str:
    with open(f"/proc/{pid}/comm") as f:
        return f.read().rstrip("\n")


def test_curtask_pid_and_comm_are_the_tracers(capsys):
    code, out, _ = run(capsys, 'BEGIN { printf("%d %s\\n", curtask->pid, curtask->comm); exit(); }')
    assert code == 0
    assert out.splitlines()[0] == f"{os.getpid()} {comm(os.getpid())}"


def test_real_parent_is_followed_to_the_parent_process(capsys):
    script = ('BEGIN { $t = (struct task_struct *)curtask; printf("%d %d %s %d\\n", curtask->real_parent->tgid, '
              'ppid(), $t->real_parent->comm, ppid(curtask->real_parent)); exit(); }')
    code, out, _ = run(capsys, script)
    assert code == 0
    parent = os.getppid()
    with open(f"/proc/{parent}/stat") as f:
        grandparent = int(f.read().rsplit(")", 1)[1].split()[1])
    assert out.splitlines()[0] == f"{parent} {parent} {comm(parent)} {grandparent}"


def test_nested_struct_fields_and_sizeof_come_from_btf(capsys):
    # se: a struct sched_entity held by value; mm: a pointer to struct mm_struct, converted when followed;
    # mm_users: an atomic_t (a struct of one int) in it
    script = ('BEGIN { printf("%d %d %d\\n", curtask->se.on_rq, curtask->mm->mm_users.counter > 0, '
              'sizeof(struct task_struct) > 1000); exit(); }')
    code, out, _ = run(capsys, script)
    assert code == 0
    assert out.splitlines()[0] == "1 1 1"


def test_a_missing_field_is_bpftraces_error_with_the_caret_line(capsys):
    code, _, err = run(capsys, 'BEGIN { printf("%d\\n", curtask->nosuch); exit(); }')
    assert code != 0
    assert err == ("stdin:1:24-39: ERROR: Struct/union of type 'struct task_struct' does not contain a field "
                   "named 'nosuch'\n"
                   'BEGIN { printf("%d\\n", curtask->nosuch); exit(); }\n'
                   "                       ~~~~~~~~~~~~~~~\n")


def test_the_scripts_own_declaration_wins_over_btf(capsys):
    code, _, err = run(capsys, 'struct task_struct { int x; } BEGIN { print(curtask->pid); exit(); }')
    assert code != 0
    assert "Struct/union of type 'struct task_struct' does not contain a field named 'pid'" in err


def test_the_scripts_declarations_may_hold_the_kernels_structs(capsys):
    # bpftrace's runtime test btf.user_supplied_c_def_using_btf
    script = ('struct foo { char c; struct task_struct t; } BEGIN { printf("%d\\n", '
              'sizeof(struct foo) - sizeof(struct task_struct) - offsetof(struct task_struct, pid) '
              '+ offsetof(struct foo, t.pid)); exit(); }')
    code, out, _ = run(capsys, script)
    assert code == 0
    align = vmlinux_structs()["struct task_struct"].align  # C places t at task_struct's alignment
    assert out.splitlines()[0] == str(2 * align)


def test_the_commands_parent_is_the_tracer(capsys):
    code = main(["--kernel", "linux", "--no-cache", "-c", "/bin/true", "-e",
                 'tracepoint:syscalls:sys_enter_exit_group /pid == cpid/ '
                 '{ printf("%d %d %s\\n", curtask->real_parent->tgid, ppid(), curtask->comm); }'])
    assert code == 0
    assert f"{os.getpid()} {os.getpid()} true\n" in capsys.readouterr().out
