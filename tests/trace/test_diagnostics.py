"""Diagnostics in bpftrace's layout: golden texts, and bpftrace 0.17's own where they agree."""

import shutil
import subprocess

import pytest

from pybpf.cli.pybpftrace import main

# Scripts whose error text bpftrace 0.17 prints identically (checked below when bpftrace is installed).
SAME_AS_BPFTRACE = {
    'BEGIN { foo(); }':
        'stdin:1:9-12: ERROR: Unknown function: foo\nBEGIN { foo(); }\n        ~~~',
    'BEGIN { printf("%d\\n"); }':
        'stdin:1:9-23: ERROR: printf: Not enough arguments for format string (0 supplied, 1 expected)\nBEGIN { printf("%d\\n"); }\n        ~~~~~~~~~~~~~~',
    'BEGIN { printf("%d\\n", 1, 2); }':
        'stdin:1:9-29: ERROR: printf: Too many arguments for format string (2 supplied, 1 expected)\nBEGIN { printf("%d\\n", 1, 2); }\n        ~~~~~~~~~~~~~~~~~~~~',
    'BEGIN { printf("%d\\n", "str"); }':
        'stdin:1:9-30: ERROR: printf: %d specifier expects a value of type integer (string supplied)\nBEGIN { printf("%d\\n", "str"); }\n        ~~~~~~~~~~~~~~~~~~~~~',
    'BEGIN { @x = 1 +; }':
        'stdin:1:16-18: ERROR: syntax error, unexpected ;\nBEGIN { @x = 1 +; }\n               ~~',
    'BEGIN { printf("%d\\n", $y); }':
        'stdin:1:24-26: ERROR: Undefined or undeclared variable: $y\nBEGIN { printf("%d\\n", $y); }\n                       ~~',
    'BEGIN { printf("%d\\n", nosuch); }':
        'stdin:1:24-30: ERROR: Unknown identifier: \'nosuch\'\nBEGIN { printf("%d\\n", nosuch); }\n                       ~~~~~~',
    'BEGIN { @x = count(1); }':
        'stdin:1:14-22: ERROR: count() requires no arguments (1 provided)\nBEGIN { @x = count(1); }\n             ~~~~~~~~',
    'BEGIN { @x = sum(); }':
        'stdin:1:14-19: ERROR: sum() requires one argument (0 provided)\nBEGIN { @x = sum(); }\n             ~~~~~',
    'BEGIN { @x = sum("a"); }':
        'stdin:1:14-22: ERROR: sum() only supports integer arguments (string provided)\nBEGIN { @x = sum("a"); }\n             ~~~~~~~~',
    'BEGIN { break; }':
        'stdin:1:9-14: ERROR: break used outside of a loop\nBEGIN { break; }\n        ~~~~~',
    'BEGIN { count(); }':
        'stdin:1:9-16: ERROR: count() should be directly assigned to a map\nBEGIN { count(); }\n        ~~~~~~~',
    'BEGIN { @x = lhist(1, 0, 10, 0); }':
        'stdin:1:14-32: ERROR: lhist() step must be >= 1 (0 provided)\nBEGIN { @x = lhist(1, 0, 10, 0); }\n             ~~~~~~~~~~~~~~~~~~',
    'BEGIN { printf(1); }':
        'stdin:1:9-18: ERROR: printf() expects a string literal (integer provided)\nBEGIN { printf(1); }\n        ~~~~~~~~~',
}
# Where pybpftrace says more than bpftrace 0.17 (which prints 'FATAL', no location, or mismatched quotes).
OURS = {
    'BEGIN { exit(1, 2); }':  # current bpftrace takes an exit code; 0.17 takes no argument
        'stdin:1:9-19: ERROR: exit() requires 0 or 1 arguments (2 provided)\nBEGIN { exit(1, 2); }\n        ~~~~~~~~~~',
    # Current bpftrace types a literal by its value (`1` is an int8, 0.17: int64) and marks the assignment.
    'BEGIN { $x = 1; $x = "a"; }':
        'stdin:1:17-25: ERROR: Type mismatch for $x: trying to assign value of type \'string[2]\' when variable already has a type \'int8\'\nBEGIN { $x = 1; $x = "a"; }\n                ~~~~~~~~',
    'BEGIN { $x = "a" + 1; }':
        'stdin:1:14-21: ERROR: Type mismatch for \'+\': comparing \'string[2]\' with \'int8\'\nBEGIN { $x = "a" + 1; }\n             ~~~~~~~',
    'BEGIN { @x = 1; @x = "a"; }':
        'stdin:1:17-25: ERROR: Type mismatch for @x: trying to assign value of type \'string[2]\' when map already has a type \'int8\'\nBEGIN { @x = 1; @x = "a"; }\n                ~~~~~~~~',
    'BEGIN { @g[1, "hi"] = 2; @g[1, 2] = 3; }':
        'stdin:1:26-34: ERROR: Argument mismatch for @g: trying to access with arguments: \'(int8,int8)\' when map expects arguments: \'(int8,string[3])\'\nBEGIN { @g[1, "hi"] = 2; @g[1, 2] = 3; }\n                         ~~~~~~~~',
    'BEGIN { @x = 1; @x[1] = 2; }':
        'stdin:1:17-22: ERROR: @x used as a map with an explicit key (non-scalar map), previously used without an explicit key (scalar map)\nBEGIN { @x = 1; @x[1] = 2; }\n                ~~~~~',
    'nosuch:probe { }':
        'stdin:1:1-13: ERROR: Invalid probe type: nosuch\nnosuch:probe { }\n~~~~~~~~~~~~',
    'BEGIN { if ("a") { } }':
        'stdin:1:13-16: ERROR: Invalid condition in if(): string\nBEGIN { if ("a") { } }\n            ~~~',
    'interval:q:1 { }':
        'stdin:1:1-13: ERROR: interval unit must be one of s, ms, us, hz\ninterval:q:1 { }\n~~~~~~~~~~~~',
    'interval:s:0 { }':
        "stdin:1:1-13: ERROR: interval rate must be a positive integer, not '0'\ninterval:s:0 { }\n~~~~~~~~~~~~",
    'BEGIN { @x = hist(1); @x = count(); }':
        "stdin:1:28-35: ERROR: Type mismatch for @x: trying to assign value of type 'count_t' when map already has a type 'hist_t'\nBEGIN { @x = hist(1); @x = count(); }\n                           ~~~~~~~",
    'BEGIN { printf("%k\\n", 1); }':
        'stdin:1:9-26: ERROR: printf: Invalid format string: unknown conversion specifier at offset 0\nBEGIN { printf("%k\\n", 1); }\n        ~~~~~~~~~~~~~~~~~',
    'uprobe:mod { }':
        'stdin:1:1-11: ERROR: uprobe needs MODULE:FUNCTION, e.g. uprobe:myapp.server:Handler.get\nuprobe:mod { }\n~~~~~~~~~~',
    'BEGIN { arg0; }':
        'stdin:1:9-13: ERROR: The arg0 builtin can only be used with probes that have arguments (uprobe, uretprobe, usdt, tracepoint)\nBEGIN { arg0; }\n        ~~~~',
    'BEGIN { "abc }':
        'stdin:1:9-15: ERROR: unterminated string\nBEGIN { "abc }\n        ~~~~~~',
    'BEGIN { retval; }':
        'stdin:1:9-15: ERROR: The retval builtin can only be used with uretprobe probes\nBEGIN { retval; }\n        ~~~~~~',
    'BEGIN { @x = sum(1); print(@y); }':
        'stdin:1:28-30: ERROR: Undefined map: @y\nBEGIN { @x = sum(1); print(@y); }\n                           ~~',
}
BPFTRACE = shutil.which("bpftrace")


@pytest.mark.parametrize("script", [*SAME_AS_BPFTRACE, *OURS])
def test_error_text_and_exit_status(script, capsys):
    assert main(["--no-cache", "-e", script]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == {**SAME_AS_BPFTRACE, **OURS}[script] + "\n"


@pytest.mark.skipif(BPFTRACE is None, reason="bpftrace is not installed (apt install bpftrace)")
@pytest.mark.parametrize("script", SAME_AS_BPFTRACE)
def test_bpftrace_0_17_says_the_same(script):
    done = subprocess.run([BPFTRACE, "-e", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    said = "\n".join(line for line in done.stderr.splitlines() if "RLIMIT_MEMLOCK" not in line)
    assert said == SAME_AS_BPFTRACE[script]
