"""What bpftrace's own runtime-test runner needs of the command it runs: --info, --verify-llvm-ir and the
__BPFTRACE_NOTIFY_PROBES_ATTACHED line (tests/runtime/engine/runner.py of bpftrace's repository)."""

from pybpf.cli.pybpftrace import main


def test_info_reports_the_virtual_kernels_helpers_from_the_registry(capsys):
    assert main(["--info"]) == 0
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    assert "send_signal: yes" in lines  # implemented by the virtual kernel
    assert "override_return: no" in lines  # declared only
    assert "Loop support: yes" in lines and "btf: no" in lines


def test_verify_llvm_ir_is_accepted(capsys):
    assert main(["--verify-llvm-ir", "--no-cache", "-e", "begin { print(1); exit(); }"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "1"


def test_the_attached_notice_comes_before_begins_output(capsys, monkeypatch):
    monkeypatch.setenv("__BPFTRACE_NOTIFY_PROBES_ATTACHED", "1")
    assert main(["--no-cache", "-e", 'begin { printf("hello\\n"); exit(); }']) == 0
    assert capsys.readouterr().out.splitlines()[:2] == ["__BPFTRACE_NOTIFY_PROBES_ATTACHED", "hello"]


def test_no_notice_without_the_variable(capsys, monkeypatch):
    monkeypatch.delenv("__BPFTRACE_NOTIFY_PROBES_ATTACHED", raising=False)
    assert main(["--no-cache", "-e", 'begin { printf("hello\\n"); exit(); }']) == 0
    assert capsys.readouterr().out.splitlines()[0] == "hello"
