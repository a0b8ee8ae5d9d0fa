"""The `pybpf` commands: output, exit status, and one-line errors for user mistakes."""

import subprocess
import sys

import pytest

from pybpf.cli.main import main
from support.paths import CORPUS


def test_asm_then_disasm(tmp_path, capsys):
    src = tmp_path / "p.s"
    src.write_text("r0 = 7\nr0 += r2\nexit\n")
    assert main(["asm", str(src)]) == 0
    hexcode = capsys.readouterr().out
    assert hexcode == "b7 00 00 00 07 00 00 00\n0f 20 00 00 00 00 00 00\n95 00 00 00 00 00 00 00\n"
    code = tmp_path / "p.hex"
    code.write_text(hexcode)
    assert main(["disasm", "--syntax", "kernel", str(code)]) == 0
    assert capsys.readouterr().out == "0: (b7) r0 = 7\n1: (0f) r0 += r2\n2: (95) exit\n"
    assert main(["disasm", "--syntax", "ubpf", "--no-pc", str(code)]) == 0
    assert capsys.readouterr().out == "mov %r0, 7\nadd %r0, %r2\nexit\n"


def test_asm_writes_raw_bytes(tmp_path):
    src, out = tmp_path / "p.s", tmp_path / "p.bin"
    src.write_text("mov %r0, 1\nexit\n")
    assert main(["asm", str(src), "-o", str(out)]) == 0
    assert out.read_bytes() == bytes.fromhex("b700000001000000" "9500000000000000")


def test_asm_error_shows_file_line_column_and_caret(tmp_path, capsys):
    src = tmp_path / "bad.s"
    src.write_text("r0 = 1\nr0 += r12\nexit\n")
    assert main(["asm", str(src)]) == 1
    err = capsys.readouterr().err
    assert err == f"{src}:2:7: invalid register 'r12'\nr0 += r12\n      ^\n"


def test_run_prints_r0_in_hex(tmp_path, capsys):
    src = tmp_path / "p.s"
    src.write_text("r0 = *(u16 *)(r1 + 0)\nr0 += r2\nexit\n")
    assert main(["run", "--asm", "-f", str(src), "--steps", "0102"]) == 0
    assert capsys.readouterr().out == "203\nsteps 3\n"


@pytest.mark.parametrize("argv,message", [
    (["disasm", "/nonexistent.bin"], "/nonexistent.bin: No such file or directory"),
    (["objdump", "/nonexistent.o"], "/nonexistent.o: No such file or directory"),
])
def test_missing_files_are_one_line_errors(argv, message, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def _plugin(program_hex: str, memory_hex: str = ""):
    argv = [sys.executable, "-m", "pybpf", "run"] + ([memory_hex] if memory_hex else [])
    return subprocess.run(argv, input=program_hex, capture_output=True, text=True, timeout=60)


def test_run_is_a_bpf_conformance_plugin():
    # bpf_conformance passes the program as hex on stdin and the memory as hex in argv[1].
    done = _plugin("79 10 02 00 00 00 00 00 95 00 00 00 00 00 00 00", "aabb112233445566778899")
    assert (done.returncode, done.stdout, done.stderr) == (0, "8877665544332211\n", "")


def test_plugin_errors_go_to_stderr_with_nonzero_exit():
    done = _plugin("95 00 00 00 01 00 00 00")
    assert done.returncode == 1 and done.stdout == ""
    assert "pc 0: reserved field imm must be zero for exit" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(not (CORPUS / "bpf_conformance").is_dir(), reason="bpf_conformance corpus not found")
def test_plugin_on_conformance_files():
    from support.conformance_data import parse
    for name in ("ldxh-same-reg", "mem-len", "subnet"):
        test = parse(CORPUS / "bpf_conformance" / "tests" / f"{name}.data")
        done = _plugin(b"".join(i.encode() for i in test.program()).hex(" "), test.memory.hex(" "))
        assert done.returncode == 0, done.stderr
        assert int(done.stdout, 16) == test.result


def test_isa_demo_runs_and_checks_itself(capsys):
    assert main(["demo", "--isa"]) == 0
    out = capsys.readouterr().out
    assert "--- llvm syntax" in out and "--- kernel syntax" in out and "--- ubpf syntax" in out
    assert "matches Python's" in out


def test_demo_traces_its_workload_with_pybpftrace(capsys):
    from pybpf.cli.demo import fib

    assert main(["demo"]) == 0
    out, err = capsys.readouterr()
    assert "Attached 5 probes" in err
    assert "handle(15) returned 610\n" in out and "handle(31) returned 610\n" in out
    # fib(n) for the 40 requests (n = request % 16): every call counted, by argument
    calls = {}

    def count(n):
        calls[n] = calls.get(n, 0) + 1
        if n >= 2:
            count(n - 1), count(n - 2)

    for request in range(40):
        count(request % 16)
    for n, expected in calls.items():
        assert f"@calls[{n}]: {expected}\n" in out
    assert "@handled: 40\n" in out and "@usecs: \n" in out and fib(15) == 610
