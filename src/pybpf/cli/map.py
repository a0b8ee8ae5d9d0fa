"""`pybpf map`: the running kernel's maps, as bpftool shows them.

    pybpf map list              every map
    pybpf map show id 7
    pybpf map dump id 7         every key and value in hex
"""

from __future__ import annotations

import sys

from .. import api
from .inspect_args import object_id
from .io import InputError


def add_arguments(parser) -> None:
    parser.add_argument("action", choices=("list", "show", "dump"))
    parser.add_argument("words", nargs="*", metavar="ARG", help="[id] ID")


def run(args) -> int:
    map_id = object_id(args.words, "map")
    if args.action == "dump":
        if map_id is None:
            raise InputError("`map dump` needs a map: id ID")
        sys.stdout.write(api.map_dump(map_id))
    else:
        sys.stdout.write(api.map_show(map_id))
    return 0
