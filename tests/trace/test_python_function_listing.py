"""`-l 'uprobe:MODULE:*'` lists a Python module's functions; the same wildcard in a script attaches to each."""

import io

from pybpf.cli.pybpftrace import main
from pybpf.trace.compiler import compile_script
from pybpf.trace.runtime import Session
from support import testapp


def test_list_a_modules_functions(capsys):
    assert main(["-l", "uprobe:support.testapp:*"]) == 0
    assert capsys.readouterr().out.splitlines() == ["uprobe:support.testapp:add", "uprobe:support.testapp:greet",
                                                    "uprobe:support.testapp:handle", "uprobe:support.testapp:slow"]


def test_list_with_a_pattern_and_a_short_probe_name(capsys):
    assert main(["-l", "ur:support.testapp:[gs]*"]) == 0
    assert capsys.readouterr().out.splitlines() == ["uretprobe:support.testapp:greet",
                                                    "uretprobe:support.testapp:slow"]


def test_list_lists_class_methods_defined_in_the_module(capsys):
    assert main(["-l", "uprobe:pybpf.usdt:*"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert {"uprobe:pybpf.usdt:probe", "uprobe:pybpf.usdt:Probe.fire", "uprobe:pybpf.usdt:Probe.attach"} <= set(listed)
    assert not any("threading" in line or "Lock" in line for line in listed)  # imported names are not listed


def test_list_of_a_module_that_does_not_import_is_an_error(capsys):
    assert main(["-l", "uprobe:no_such_module_here:*"]) == 1
    assert "ERROR: -l: cannot import module 'no_such_module_here'" in capsys.readouterr().err


def test_a_wildcard_attaches_to_every_matching_function():
    out = io.StringIO()
    session = Session(compile_script("uprobe:support.testapp:[ag]* { @[probe] = count(); }", cache=False), out=out,
                      err=io.StringIO())
    session.start()
    try:
        testapp.add(1, 2)
        testapp.greet("ada")
        testapp.greet("bob")
    finally:
        session.finish()
    assert "@[uprobe:support.testapp:add]: 1" in out.getvalue()
    assert "@[uprobe:support.testapp:greet]: 2" in out.getvalue()


def test_a_wildcard_matching_nothing_is_a_diagnostic(capsys):
    assert main(["--no-cache", "-e", "uprobe:support.testapp:zz* { }"]) == 1
    assert "No probes to attach: support.testapp has no function matching zz*" in capsys.readouterr().err
