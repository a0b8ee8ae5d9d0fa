"""The `pybpf` command: a table of subcommands, each a small module of its own.

Each command module defines `add_arguments(parser)` and `run(args) -> int`.
User errors (`PybpfError`) print as one line on stderr with exit status 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import PybpfError

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("pybpf.cli.demo", "assemble, disassemble and run a small program"),
    "asm": ("pybpf.cli.asm", "assemble text to bytecode"),
    "disasm": ("pybpf.cli.disasm", "disassemble bytecode to text"),
    "objdump": ("pybpf.cli.objdump", "describe a BPF ELF object: sections, maps, programs, code"),
    "run": ("pybpf.cli.run", "run a program on a memory buffer and print r0"),
    "verify": ("pybpf.cli.verify", "check a program or object with the verifier, as a kernel load would"),
    "prog": ("pybpf.cli.prog", "list, show and dump the running kernel's programs, as bpftool does"),
    "map": ("pybpf.cli.map", "list, show and dump the running kernel's maps, as bpftool does"),
    "btf": ("pybpf.cli.btf", "dump BTF (a file or a loaded BTF id), as bpftool does"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pybpf", description="eBPF in Python.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        cmd.set_defaults(module=module)
        importlib.import_module(module).add_arguments(cmd)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return importlib.import_module(args.module).run(args)
    except PybpfError as err:
        print(f"pybpf {args.command}: error: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
