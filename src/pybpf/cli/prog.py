"""`pybpf prog`: the running kernel's programs, as bpftool shows them.

    pybpf prog list                  every loaded program
    pybpf prog show id 42
    pybpf prog dump xlated id 42     the code after the verifier's rewrites
    pybpf prog sizes [id 42]         xlated and jited instruction counts, verified instructions
"""

from __future__ import annotations

import sys

from .. import api
from .inspect_args import object_id
from .io import InputError


def add_arguments(parser) -> None:
    parser.add_argument("action", choices=("list", "show", "dump", "sizes"))
    parser.add_argument("words", nargs="*", metavar="ARG", help="[id] ID; for dump: xlated id ID")


def run(args) -> int:
    if args.action == "dump":
        if not args.words or args.words[0] != "xlated":
            raise InputError("only `pybpf prog dump xlated id ID` is supported")
        prog_id = object_id(args.words[1:], "prog")
        if prog_id is None:
            raise InputError("`prog dump xlated` needs a program: id ID")
        sys.stdout.write(api.prog_dump_xlated(prog_id))
    elif args.action == "sizes":
        sys.stdout.write(api.prog_sizes(object_id(args.words, "prog")))
    else:
        sys.stdout.write(api.prog_show(object_id(args.words, "prog")))
    return 0
