"""The verifier: a static proof that a program is safe, in the Linux verifier's terms.

    result = verify(insns, prog_type=ProgType.BPF_PROG_TYPE_XDP, log_level=1)
    result.accepted, result.log, result.error

Modules follow kernel/bpf/verifier.c's seams: `program` (checks before the
walk: subprograms, encodings, control flow), `core` (the walk and state
pruning), `insns` (ALU and jumps), `memory` (loads, stores, helper memory),
`calls` (helpers, subprograms, exit), `global_funcs` (global functions
verified on their own against their BTF signature), `kfuncs` (kernel function
calls), `ctx` (context access per program
type), `bounds`/`tnum`/`scalar_alu`/`branches` (scalar tracking), `regs` and
`state` (the abstract state and its log format).
"""

from __future__ import annotations

from dataclasses import dataclass

from .core import BPF_COMPLEXITY_LIMIT_INSNS, Options, Stats, Verifier
from .errors import VerifierError
from .program import slots_of
from .regs import MapInfo

__all__ = ["verify", "Result", "Options", "MapInfo", "VerifierError", "BPF_COMPLEXITY_LIMIT_INSNS"]


@dataclass
class Result:
    accepted: bool
    log: str
    stats: Stats
    error: VerifierError | None = None

    @property
    def errno(self) -> int:
        return 0 if self.accepted else self.error.errno


def verify(program, prog_type: int = 1, *, maps: dict | None = None, privileged: bool = True,
           log_level: int = 0, gpl: bool = True, expected_attach_type: int = 0,
           strict_alignment: bool = False, complexity_limit: int = BPF_COMPLEXITY_LIMIT_INSNS,
           sleepable: bool = False, btf=None, func_info=(), kernel_btf=None) -> Result:
    """Verify `program` (bytes or a list of `Insn`).

    `maps` maps the pc of each map-referencing lddw to the `MapInfo` of its map.
    `btf` (a `pybpf.elf.btf.Btf`) and `func_info` ((first insn, FUNC type id) per subprogram) are the
    program's BTF, as BPF_PROG_LOAD's prog_btf_fd and func_info give it; `kernel_btf` the kernel's
    (vmlinux), whose ids kfunc calls name (see `kfuncs.py`).
    The log holds the kernel's messages: the error, and at log_level >= 1 the
    instruction trace; the last line is the kernel's "processed N insns" summary.
    """
    options = Options(prog_type=prog_type, expected_attach_type=expected_attach_type, privileged=privileged,
                      log_level=log_level, gpl=gpl, strict_alignment=strict_alignment, maps=dict(maps or {}),
                      complexity_limit=complexity_limit, sleepable=sleepable, btf=btf,
                      func_info=tuple(tuple(f) for f in func_info), kernel_btf=kernel_btf)
    try:
        slots = slots_of(program)
    except VerifierError as err:
        return Result(False, f"{err.message}\n", Stats(), err)
    verifier = Verifier(slots, options)
    error = None
    try:
        verifier.run()
    except VerifierError as err:
        error = err
        if err.pc is None:
            err.pc = verifier.pc
        verifier.log.lines.append(err.message)
    log = verifier.log.text
    if log_level or error is not None:
        log += verifier.stats.line() + "\n"
    return Result(error is None, log, verifier.stats, error)
