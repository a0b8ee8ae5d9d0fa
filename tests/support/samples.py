"""A representative instruction for every row of the opcode table, from a seeded generator."""

import random

from pybpf.isa.insn import Insn
from pybpf.isa.opcodes import SPECS, Spec


def sample(spec: Spec, rng: random.Random, small: bool = False) -> Insn:
    fixed = dict(spec.fixed)

    def field(name, low, high):
        return rng.randrange(low, high) if name in spec.operands else fixed.get(name, 0)

    imm_range = (-50, 50) if small else (-(1 << 31), 1 << 31)
    imm2 = None
    if spec.kind == "lddw":
        imm2 = rng.randrange(*imm_range) if "imm2" in spec.operands else 0
    return Insn(spec.code, field("dst", 0, 11), field("src", 0, 11), field("off", -(1 << 15), 1 << 15),
                field("imm", *imm_range), imm2)


def samples(per_spec: int = 3, seed: int = 9669, small: bool = False) -> list[Insn]:
    rng = random.Random(seed)
    return [sample(spec, rng, small) for spec in SPECS for _ in range(per_spec)]
