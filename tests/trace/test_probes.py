"""pybpftrace's probes on the virtual kernel: Python functions, static probes, audit events, timers."""

import io
import threading

from pybpf.cli.pybpftrace import main
from pybpf.trace.compiler import compile_script
from pybpf.trace.runtime import Session
from support import testapp


def trace(script: str, workload) -> str:
    out, err = io.StringIO(), io.StringIO()
    session = Session(compile_script(script, cache=False), out=out, err=err)
    session.start()
    try:
        workload()
    finally:
        session.poll()
        session.finish()
    return out.getvalue()


def test_function_arguments_counts_and_return_values():
    out = trace("""
        uprobe:support.testapp:add { @calls[arg0] = count(); @sum = sum(arg1); }
        uretprobe:support.testapp:add { @ret = max(retval); }
    """, lambda: [testapp.add(i % 3, 10) for i in range(9)])
    assert "@calls[0]: 3\n@calls[1]: 3\n@calls[2]: 3\n" in out
    assert "@sum: 90\n" in out and "@ret: 12\n" in out


def test_string_arguments_read_with_str():
    out = trace('uprobe:support.testapp:greet { printf("greet %s\\n", str(arg0)); @names[str(arg0)] = count(); }',
                lambda: [testapp.greet(name) for name in ("ada", "bob", "ada")])
    assert out.startswith("greet ada\ngreet bob\ngreet ada\n")
    assert "@names[bob]: 1\n@names[ada]: 2\n" in out


def test_latency_histogram_is_exact():
    out = trace("""
        uprobe:support.testapp:slow { @start[tid] = nsecs; }
        uretprobe:support.testapp:slow /@start[tid]/ { @ms = lhist((nsecs - @start[tid]) / 1000000, 0, 120, 30);
                                                      delete(@start[tid]); }
    """, lambda: [testapp.slow(ms) for ms in (1, 2, 35, 65)])  # 30 ms buckets: room for a loaded machine
    assert "[0, 30)                2 |" in out and "[30, 60)               1 |" in out
    assert "[60, 90)               1 |" in out


def test_static_probe_and_audit_event(tmp_path):
    path = tmp_path / "audited.txt"
    path.write_text("x")
    out = trace("""
        usdt:testapp:request { printf("request %s %d\\n", str(arg0), arg1); }
        tracepoint:audit:open { @opens = count(); }
    """, lambda: (testapp.handle("/index", 42), open(path).close()))
    assert "request /index 42\n" in out
    assert "@opens: " in out


def test_interval_fires_and_exit_ends_the_run(capsys):
    assert main(["--no-cache", "-e", 'interval:ms:10 { @ticks = count(); if (@ticks == 5) { exit(); } }']) == 0
    out, err = capsys.readouterr()
    assert out == "\n\n@ticks: 5\n"


def test_profile_fires_on_every_cpu(capsys):
    assert main(["--no-cache", "--timeout", "0.3", "-e", "profile:hz:50 { @cpus[cpu] = count(); }"]) == 0
    out = capsys.readouterr().out
    assert "@cpus[0]: " in out


def test_command_runs_a_python_program_under_the_probes(tmp_path, capsys):
    app = tmp_path / "app.py"
    app.write_text("from support import testapp\nfor i in range(5):\n    testapp.add(i, i)\n")
    output = tmp_path / "out.txt"
    assert main(["--no-cache", "-o", str(output), "-c", f"python {app}",
                 "-e", "uprobe:support.testapp:add { @n = count(); }"]) == 0
    assert output.read_text() == "\n\n@n: 5\n"
    assert "Attached 1 probe" in capsys.readouterr().err
    assert not testapp.REQUEST.enabled  # nothing left attached


def test_stage_dumps_and_emitted_files(tmp_path, capsys):
    elf_path, ir_path = tmp_path / "s.o", tmp_path / "s.ll"
    script = 'BEGIN { @x = count(); exit(); }'
    assert main(["--emit-elf", str(elf_path), "--emit-llvm", str(ir_path), "-e", script]) == 0
    assert elf_path.read_bytes()[:4] == b"\x7fELF" and 'section "maps"' in ir_path.read_text()
    assert main(["-d", "-e", script]) == 0
    out = capsys.readouterr().out
    assert "AST" in out and "call count :: [count_t]" in out and 'define i64 @"BEGIN_0"' in out
    assert "Disassembly of section uprobe:" in out


def test_bad_command_line_input_is_one_line(tmp_path, capsys):
    assert main(["-c", "ls -l", "-e", "BEGIN { exit(); }"]) == 1
    assert "runs Python programs" in capsys.readouterr().err
    assert main([str(tmp_path / "missing.bt")]) == 1
    missing = tmp_path / "missing.bt"
    assert capsys.readouterr().err == f"ERROR: failed to open file '{missing}': No such file or directory\n"
    assert main(["-c", f"python {tmp_path / 'missing.py'}", "-e", "END { printf(\"ran\\n\"); }"]) == 1
    out = capsys.readouterr()
    assert out.err == f"ERROR: can't open file '{tmp_path / 'missing.py'}': No such file or directory\n"
    assert "ran" not in out.out  # refused before anything was attached or run
    assert main(["-p", "1", "-e", "BEGIN { exit(); }"]) == 1
    assert "-p needs --kernel linux" in capsys.readouterr().err


def test_positional_parameters(capsys):
    assert main(["--no-cache", "-e", 'BEGIN { printf("%d %s %d\\n", $1, $2, $#); exit(); }', "7", "seven"]) == 0
    assert capsys.readouterr().out.startswith("7 seven 2\n")


def test_threads_of_the_traced_program_are_seen():
    def workload():
        threads = [threading.Thread(target=testapp.add, args=(1, 1)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    out = trace("uprobe:support.testapp:add { @by_thread[tid] = count(); @all = count(); }", workload)
    assert "@all: 4\n" in out


def test_unsafe_functions_need_the_flag(capsys):
    script = 'BEGIN { system("echo hi %d", 5); exit(); }'
    assert main(["--no-cache", "-e", script]) == 1
    assert "system() is an unsafe function being used in safe mode" in capsys.readouterr().err
    assert main(["--no-cache", "--unsafe", "-e", script]) == 0
    assert capsys.readouterr().out.startswith("hi 5\n")


def test_time_and_strftime(capsys):
    import time
    assert main(["--no-cache", "-e", 'BEGIN { time("%Y|"); printf("%s\\n", strftime("%Y-%m", nsecs)); exit(); }']) == 0
    year, month = time.strftime("%Y"), time.strftime("%Y-%m")
    assert capsys.readouterr().out.startswith(f"{year}|{month}\n")


def test_exit_code_and_constant_builtins(capsys):
    import os
    import pwd
    assert main(["--no-cache", "-e", 'begin { printf("%d %d %s\\n", ncpus, usermode, username); exit(69); }']) == 69
    user = pwd.getpwuid(os.getuid()).pw_name
    assert capsys.readouterr().out.startswith(f"{os.cpu_count()} 1 {user}\n")


def test_map_declarations_warn_when_full_or_unused(capsys):
    assert main(["--no-cache", "-e", "let @a = hash(1); begin { @a[1] = 1; @a[2] = 2; exit(); }"]) == 0
    out, err = capsys.readouterr()
    assert out == "\n\n@a[1]: 1\n" and "WARNING: Map full; can't update element.\n" in err
    assert main(["--no-cache", "-e", "let @u = percpuhash(1); begin { exit(); }"]) == 0
    assert "stdin:1:1-24: WARNING: Unused map: @u\n" in capsys.readouterr().err
