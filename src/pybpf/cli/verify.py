"""`pybpf verify`: run the verifier on an object file or raw instructions, as a load would.

    pybpf verify prog.o                       every program of an object
    pybpf verify --type xdp < prog.hex        raw instructions (hex or binary) on standard input
    pybpf verify --type socket_filter --unpriv --log-level 2 prog.bin

Prints the verifier log and exits 0 when every program is accepted, 1 when
one is rejected (the log then ends with the kernel's reason).
"""

from __future__ import annotations

import sys

from .. import api
from .io import bytecode, read_input


def add_arguments(parser) -> None:
    parser.add_argument("program", nargs="?", metavar="FILE",
                        help="a BPF ELF object, or bytecode (raw or hex); default: hex bytecode on standard input")
    parser.add_argument("--type", default="socket_filter", metavar="TYPE",
                        help="program type of raw bytecode, in libbpf's names: socket_filter, xdp, tc, tracepoint, "
                             "kprobe, perf_event, raw_tracepoint, cgroup_skb, ... (default %(default)s)")
    parser.add_argument("--unpriv", action="store_true", help="verify as for a process without CAP_BPF/CAP_PERFMON")
    parser.add_argument("--log-level", type=int, default=1, choices=(0, 1, 2),
                        help="1: the instruction trace; 2: also the state before each instruction")
    parser.add_argument("--strict-alignment", action="store_true", help="as with BPF_F_STRICT_ALIGNMENT")


def run(args) -> int:
    data = read_input(args.program)
    options = dict(privileged=not args.unpriv, log_level=args.log_level, strict_alignment=args.strict_alignment)
    origin = args.program if args.program not in (None, "-") else "<stdin>"
    if data[:4] == b"\x7fELF":
        results = api.verify_object(data, name=origin, **options)  # an ElfError names origin
    else:
        ptype = api.prog_type_of(args.type)  # a PybpfError names the bad --type
        results = {args.program or "stdin": api.verify(bytecode(data, args.program or "stdin"), ptype, **options)}
    status = 0
    for name, result in results.items():
        if len(results) > 1:
            print(f"{name}:")
        sys.stdout.write(result.log)
        print(f"{name}: {'accepted' if result.accepted else 'rejected'}")
        status = status or (0 if result.accepted else 1)
    return status
