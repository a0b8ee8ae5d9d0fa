"""Block expressions, `let`, block scoping, pointers, `&`/`*`, tuple indexing, config: output and diagnostics."""

import pytest

from pybpf.cli.pybpftrace import main
from support.kernel import assert_linux_loads, needs_kernel

OUTPUT = {
    "block expression value": ('begin { print({ $x = 1; print("bob"); $x > 1 }); exit(); }', "bob\nfalse\n"),
    "block expression as a condition": ('begin { if ({ let $a = true; $a }) { print("yes"); } exit(); }', "yes\n"),
    "discard": ('begin { _ = { print(1); 1 }; exit(); }', "1\n"),
    "let without a value is 0": ('begin { let $a; if ($a) { $a = 1; } print($a); exit(); }', "0\n"),
    "let with a type": ('begin { let $a: uint8 = 255; print($a); exit(); }', "255\n"),
    "inner variables are the block's own": ('begin { if (1) { $x = 1; } $x = "s"; print($x); exit(); }', "s\n"),
    "return with a value": ('begin { $a = 1; print($a); return $a; print(2); } interval:ms:1 { exit(); }', "1\n"),
    "pointer steps by its pointee": ('begin { $p = (int32 *) 0x30; $p++; $q = $p + 2; print(($p, $q)); exit(); }',
                                     "(0x34, 0x3c)\n"),
    "pointer compares with integers": ('begin { $p = (int64 *) 0x32; if ($p > 0x31 && $p) { print("ok"); } exit(); }',
                                       "ok\n"),
    "address and dereference": ('begin { $a = (1, "hi"); $b = &$a; print(*$b); exit(); }', "(1, hi)\n"),
    "pre-increment in an expression": ('begin { $a = "hello"; $b = (int8 *) &$a; printf("%c %c\\n", *$b, *++$b); '
                                       'exit(); }', "h e\n"),
    "tuple index by a constant expression": ('begin { $a = (1, 2, 3); print($a[1 + 1]); exit(); }', "3\n"),
    "a variable's tuple widens for a longer string": ('begin { $a = ("hi", 1); print($a); $a = ("hellolongstr", 2); '
                                                     'print($a); $a = ("by", 3); print($a); exit(); }',
                                                     "(hi, 1)\n(hellolongstr, 2)\n(by, 3)\n"),
    "a map's tuple value and key widen": ('begin { @[1] = ("hi", ("hellolongstr", 2)); @[1] = ("hellolongstr", '
                                          '("hi", 5)); @k["a", ("bb", 1)] = 1; @k["ccc", ("d", 2)] = 2; exit(); }',
                                          "\n\n@[1]: (hellolongstr, (hi, 5))\n@k[a, (bb, 1)]: 1\n"
                                          "@k[ccc, (d, 2)]: 2\n"),
    "one tuple for all the keys": ('begin { @a[1, (2, 3)] = 10; $c = (4, (5, 6)); @a[$c] = 12; '
                                   'for ($kv : @a) { if ($kv.0.0 == 1) { delete(@a, $kv.0); } } exit(); }',
                                   "\n\n@a[4, (5, 6)]: 12\n"),
    "an aggregation as a block's value": ('begin { @ = { let $a = 100; avg($a) }; exit(); }', "\n\n@: 100\n"),
    "bool cast": ('begin { @a = count(); print(((bool) @a, (bool) 0)); clear(@a); exit(); }', "(true, false)\n"),
}


@pytest.mark.parametrize("name", OUTPUT)
def test_output(name, capsys):
    script, expected = OUTPUT[name]
    assert main(["--no-cache", "-e", script]) == 0
    assert capsys.readouterr().out.rstrip("\n") == expected.rstrip("\n")


def test_config_print_maps_on_exit(capsys):
    assert main(["--no-cache", "-e", 'config = { print_maps_on_exit = 0 } begin { @a = 1; exit(); }']) == 0
    assert "@a" not in capsys.readouterr().out


ERRORS = {
    'begin { if (1) { $x = 1; } print($x); }': '''\
stdin:1:34-36: ERROR: Undefined or undeclared variable: $x
begin { if (1) { $x = 1; } print($x); }
                                 ~~''',
    'begin { let $a: uint8 = "s"; }': '''\
stdin:1:9-28: ERROR: Type mismatch for $a: trying to assign value of type 'string[2]' when variable already has a type 'uint8'
begin { let $a: uint8 = "s"; }
        ~~~~~~~~~~~~~~~~~~~''',
}


@pytest.mark.parametrize("script", ERRORS)
def test_diagnostics(script, capsys):
    assert main(["--no-cache", "-e", script]) != 0
    assert capsys.readouterr().err.strip() == ERRORS[script]


@needs_kernel
@pytest.mark.kernel
@pytest.mark.parametrize("name", ["block expression value", "pointer steps by its pointee", "address and dereference",
                                  "pre-increment in an expression", "let without a value is 0"])
def test_linux_accepts(name):
    assert_linux_loads(OUTPUT[name][0])


ENUMS = {
    "variants print by name": ('enum { ONE = 1, TWO = 2 }; begin { @[ONE] = 11; @v = (ONE, TWO); exit(); }',
                               "@[ONE]: 11\n@v: (ONE, TWO)"),
    "arithmetic gives an integer": ('enum { ONE = 1, TWO = 2 }; begin { @[ONE + 1] = TWO - 1; exit(); }', "@[2]: 1"),
    "cast to a named enum": ('enum BAZ { FOO = 333, BAR }; begin { print(((enum BAZ) 334, (enum BAZ) 5)); exit(); }',
                             "(BAR, 5)"),
    "printf %s of an enum": ('enum Foo { ONE = 1, TWO = 2 }; begin { $x = 7; printf("%d %s %s\\n", ONE, TWO, '
                             '(enum Foo) $x); exit(); }', "1 TWO 7"),
    "elvis operator": ('begin { $x = 1; $a = $x ?: 10; $b = 0 ?: 20; print(($a, $b)); exit(); }', "(1, 20)"),
    "ternary of statements": ('begin { 1 ? printf("yes\\n") : printf("no\\n"); exit(); }', "yes"),
}


@pytest.mark.parametrize("name", ENUMS)
def test_enums_and_ternaries(name, capsys):
    script, expected = ENUMS[name]
    assert main(["--no-cache", "-e", script]) == 0
    assert capsys.readouterr().out.strip("\n") == expected


def test_unroll_bounds(capsys):
    assert main(["--no-cache", "-e", 'begin { unroll (0) { print(1); } }']) != 0
    assert "ERROR: unroll minimum value is 1" in capsys.readouterr().err
    assert main(["--no-cache", "-e", 'begin { unroll (101) { print(1); } }']) != 0
    assert "ERROR: unroll maximum value is 100" in capsys.readouterr().err
