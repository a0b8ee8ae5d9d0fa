"""Which stack slots may still be read, per instruction (the kernel's 6.18 kernel/bpf/liveness.c).

A checkpoint that holds data in a slot nobody reads again must not stop
it from covering a state that holds something else there (bpftrace's
loops spill on an error path only, and without this each of their
iterations forks a path that no earlier one covers).  As Linux 6.18 does,
the walk records what each instruction reads and writes of the stack:

- `may_read[pc]`: the slots some visit of pc read (union over visits);
- `must_write[pc]`: the slots every visit of pc overwrote whole (an 8-byte
  store at a constant offset; intersection over visits).

A read through a pointer into a caller's stack is recorded at the call
instruction of that caller's frame (the callee reads it while the call is
under way), and a write there is not recorded at all (never a kill).
Liveness is then the backward data flow over each function's instructions
(a call falls through, an exit ends the frame):
`live[pc] = may_read[pc] | (OR of live[succ] & ~must_write[pc])`.

It is used only against finished checkpoints: every instruction a finished
checkpoint's paths can reach has been visited, so what they read is
recorded; an instruction not visited yet is taken to kill every slot (it
cannot be reached from any finished checkpoint).  Records only grow the
live sets (reads are added, writes only removed), so the flow is kept up
to date incrementally, from the instructions whose records changed.

Slots are bitmasks: bit i for the 8 bytes at fp-8*(i+1) .. fp-8*i-1.
"""

from __future__ import annotations

from .liveness import successors
from .program import Slot

ALL_SLOTS = (1 << 64) - 1  # MAX_BPF_STACK / 8 slots


def slot_mask(lo: int, hi: int) -> int:
    """The slots the byte range [lo, hi) of a frame (lo < hi <= 0, offsets from fp) touches."""
    first, last = (-hi) // 8, (-lo - 1) // 8
    return ((1 << (last + 1)) - 1) ^ ((1 << first) - 1)


def whole_slots(lo: int, hi: int) -> int:
    """The slots [lo, hi) covers every byte of."""
    first, last = (-hi + 7) // 8, (-lo) // 8 - 1
    if last < first:
        return 0
    return ((1 << (last + 1)) - 1) ^ ((1 << first) - 1)


class StackLiveness:
    """The per-instruction records of stack reads and writes, and the live slots they imply."""

    def __init__(self, slots: list[Slot]) -> None:
        n = len(slots)
        self.succs = [tuple(t for t in successors(pc, s) if 0 <= t < n) for pc, s in enumerate(slots)]
        self.preds: list[list[int]] = [[] for _ in range(n)]
        for pc, targets in enumerate(self.succs):
            for t in targets:
                self.preds[t].append(pc)
        self.may_read = [0] * n
        self.must_write: list[int | None] = [None] * n  # None: not visited yet
        self.live = [0] * n
        self.dirty: set[int] = set()
        self.writes = 0  # what the instruction being checked overwrote whole of its own frame

    def read(self, pc: int, mask: int) -> None:
        if mask & ~self.may_read[pc]:
            self.may_read[pc] |= mask
            self.dirty.add(pc)

    def visited(self, pc: int) -> None:
        """The instruction at pc was checked once more; it overwrote `self.writes`."""
        old = self.must_write[pc]
        new = self.writes if old is None else old & self.writes
        self.writes = 0
        if new != old:
            self.must_write[pc] = new
            self.dirty.add(pc)

    def live_before(self, pc: int) -> int:
        """The slots that may be read at or after pc before being overwritten."""
        if self.dirty:
            self._flow()
        return self.live[pc]

    def _flow(self) -> None:
        live, succs, preds = self.live, self.succs, self.preds
        may_read, must_write = self.may_read, self.must_write
        work = self.dirty
        while work:
            pc = work.pop()
            kills = must_write[pc]
            if kills is None:
                new = may_read[pc]
            else:
                out = 0
                for t in succs[pc]:
                    out |= live[t]
                new = may_read[pc] | (out & ~kills)
            if new != live[pc]:
                live[pc] = new
                work.update(preds[pc])
