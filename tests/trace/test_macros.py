"""Macros (`macro f($x, @m, e) { ... }`): expansion, hygiene, and bpftrace's diagnostics for misuse."""

import pytest

from pybpf.cli.pybpftrace import main

OUTPUT = {
    "mutates the passed variable": ('macro inc($x) { $x += 1; } begin { $a = 1; inc($a); inc($a); print($a); }',
                                    "3\n"),
    "value is the last expression": ('macro inc($x) { $x += 1; $x } begin { $a = 1; $b = inc($a); print(($a, $b)); }',
                                     "(2, 2)\n"),
    "mutates the passed map": ('macro set(@x) { @x[1] = 2; } begin { @a[1] = 1; set(@a); }',
                               "\n\n@a[1]: 2\n"),
    "expression argument": ('macro add_one(x) { x + 1 } begin { @a = 1; print(add_one(@a + 1)); clear(@a); }',
                            "3\n"),
    "nested macros in any order": ('macro add2(x) { x + add1(x) } macro add3(x) { x + add2(x) } '
                                   'macro add1(x) { x + 1 } begin { print(add3(1)); }', "4\n"),
    "renames the body's variables": ('macro inc(x) { let $y = x + 1; $y } begin { $y = 2; $z = inc(5); '
                                     'print(($y, $z)); }', "(2, 6)\n"),
    "each use re-evaluates the argument": ('macro three(x) { x; x; x; } begin { three({ printf("hi") }); }', "hihihi"),
    "bare name of a macro with no parameters": ('macro one() { $x = 1; $x } begin { $a = one; print($a); }', "1\n"),
    "parameter names shadow macros": ('macro add() { 2 } macro ident(add) { add } begin { print(ident(1)); }', "1\n"),
    "a builtin of the same name with other arguments": ('macro cpu(x) { x } begin { print(cpu("hi")); '
                                                        'print(cpu() >= 0); }', "hi\ntrue\n"),
    "map loop in a macro": ('macro total(@a) { let $x = 1; for ($kv : @a) { $x += $kv.1; } $x } '
                            'begin { @x[1] = 5; @x[2] = 10; print(total(@x)); clear(@x); }', "16\n"),
    "a literal body stays a literal": ('macro fmt() { "hi\\n" } begin { printf(fmt()); }', "hi\n"),
    "exit in a macro": ('macro early() { exit(); } begin { early(); print(1); }', ""),
}


def with_exit(script: str) -> str:
    """The script, stopping after its last probe (a BEGIN-only script otherwise runs until Ctrl-C)."""
    if "exit()" in script:
        return script
    head, _, tail = script.rpartition("}")
    return f"{head}exit(); }}{tail}"


@pytest.mark.parametrize("name", OUTPUT)
def test_macro_output(name, capsys):
    script, expected = OUTPUT[name]
    assert main(["--no-cache", "-e", with_exit(script)]) == 0
    assert capsys.readouterr().out.rstrip("\n") == expected.rstrip("\n")  # exit() ends with blank lines


ERRORS = {
    'macro add(@x, y) { @x + 1 } begin { add(1, 1); }': '''\
stdin:1:37-46: ERROR: Call to add() has arguments that do not match any definition.
macro add(@x, y) { @x + 1 } begin { add(1, 1); }
                                    ~~~~~~~~~
stdin:1:41-42: ERROR: Mismatched arg. add() expects a map for arg @x but got an expression.
macro add(@x, y) { @x + 1 } begin { add(1, 1); }
                                        ~
stdin:1:11-13: ERROR: This is the argument in the closest definition.
macro add(@x, y) { @x + 1 } begin { add(1, 1); }
          ~~''',
    'macro add(x) { x + 1 } macro add(x, y) { x + y } begin { add(1, 1, 1); }': '''\
stdin:1:58-70: ERROR: Call to add() has arguments that do not match any definition.
macro add(x) { x + 1 } macro add(x, y) { x + y } begin { add(1, 1, 1); }
                                                         ~~~~~~~~~~~~
stdin:1:24-33: ERROR: The closest definition of add() has a different number of arguments. Expected: 2 but got 3
macro add(x) { x + 1 } macro add(x, y) { x + y } begin { add(1, 1, 1); }
                       ~~~~~~~~~''',
    'macro a(x) { b(x) } macro b(x) { a(x) } begin { print(a(1)); }': '''\
stdin:1:34-38: ERROR: Recursive macro call detected. Call chain: a > b > a
macro a(x) { b(x) } macro b(x) { a(x) } begin { print(a(1)); }
                                 ~~~~
stdin:1:14-18: ERROR: expanded from
macro a(x) { b(x) } macro b(x) { a(x) } begin { print(a(1)); }
             ~~~~
stdin:1:55-59: ERROR: expanded from
macro a(x) { b(x) } macro b(x) { a(x) } begin { print(a(1)); }
                                                      ~~~~''',
    'macro f(x) { @a = 1; x } begin { print(f(1)); }': '''\
stdin:1:14-16: ERROR: Unhygienic access to map: @a. Maps must be passed into the macro as arguments.
macro f(x) { @a = 1; x } begin { print(f(1)); }
             ~~
stdin:1:40-44: ERROR: expanded from
macro f(x) { @a = 1; x } begin { print(f(1)); }
                                       ~~~~''',
    # bpftrace's note for code a macro call put in place, on errors and errorf alike (runtime suite:
    # call.errorf_macro_expansion)
    'macro set($x) { $x = 1; $x } begin { $a = "string"; set($a); }': '''\
stdin:1:17-23: ERROR: Type mismatch for $a: trying to assign value of type 'int8' when variable already has a type \
'string[7]'
macro set($x) { $x = 1; $x } begin { $a = "string"; set($a); }
                ~~~~~~
stdin:1:53-60: ERROR: expanded from
macro set($x) { $x = 1; $x } begin { $a = "string"; set($a); }
                                                    ~~~~~~~''',
    'macro set(x, x) { x } begin { set(1, 1); }': '''\
stdin:1:14-15: ERROR: Ident for macro argument has already been used: x
macro set(x, x) { x } begin { set(1, 1); }
             ~''',
}


@pytest.mark.parametrize("script", ERRORS)
def test_macro_diagnostics(script, capsys):
    assert main(["--no-cache", "-e", script]) != 0
    assert capsys.readouterr().err.strip() == ERRORS[script]
