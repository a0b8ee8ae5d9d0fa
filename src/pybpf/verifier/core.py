"""The path walk: do_check() over every path, with state pruning.

`Verifier.run()` explores the program depth first the way the kernel does:
the fall-through edge of a conditional jump now, the taken edge later from
a stack of saved states.  At prune points a state is checkpointed; a state
covered by a finished checkpoint at the same instruction is not explored
again, and one equal to an unfinished ancestor is an infinite loop.
Instruction checks live in `insns.py` (ALU, loads, stores, jumps) and
`calls.py` (helpers, subprograms, exit).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

from ..uapi import ProgType
from .calls import check_tail_call_maps
from .errors import VerifierError
from .global_funcs import check_subprogs as check_global_subprogs, log_main_args
from ..isa.opcodes import BPF_JCOND, BPF_JMP, BPF_JMP32, BPF_PSEUDO_MAP_IDX_VALUE, BPF_PSEUDO_MAP_VALUE
from ..uapi import MapType
from .program import Slot, Subprog, can_be_sleepable, check_btf_func, check_cfg, check_encodings, find_subprogs
from .regs import CTX, MapInfo
from .liveness import live_registers
from .stack_liveness import StackLiveness
from .state import ALL_LIVE, EXACT, MAX_CALL_FRAMES, NOT_EXACT, RANGE_WITHIN, State, state_str

BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000
BPF_COMPLEXITY_LIMIT_JMP_SEQ = 8192
LOOP_CHECKPOINTS = 64  # in-progress checkpoints at one instruction before new ones are made sparingly
PRIVILEGED_INSN_LIMIT, UNPRIVILEGED_INSN_LIMIT = 1_000_000, 4096
# is_tracing_prog_type()
TRACING_TYPES = (ProgType.BPF_PROG_TYPE_KPROBE, ProgType.BPF_PROG_TYPE_TRACEPOINT, ProgType.BPF_PROG_TYPE_PERF_EVENT,
                 ProgType.BPF_PROG_TYPE_RAW_TRACEPOINT, ProgType.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE)
# Maps whose values have a fixed address (map_direct_value_addr).
DIRECT_VALUE_MAPS = (MapType.BPF_MAP_TYPE_ARRAY,)


@dataclass
class Options:
    prog_type: int = ProgType.BPF_PROG_TYPE_SOCKET_FILTER
    expected_attach_type: int = 0
    privileged: bool = True
    log_level: int = 0
    gpl: bool = True
    strict_alignment: bool = False
    maps: dict[int, MapInfo] = field(default_factory=dict)  # the map each map-referencing lddw names
    complexity_limit: int = BPF_COMPLEXITY_LIMIT_INSNS  # instructions processed before giving up
    sleepable: bool = False  # BPF_F_SLEEPABLE
    btf: object = None  # the program's BTF (pybpf.elf.btf.Btf), with func_info: (insn, FUNC type id) per subprogram
    func_info: tuple = ()
    kernel_btf: object = None  # the kernel's BTF (vmlinux), which names kfuncs and gives their prototypes


@dataclass
class Stats:
    processed: int = 0
    max_states_per_insn: int = 0
    total_states: int = 0
    peak_states: int = 0
    mark_read: int = 0

    def line(self) -> str:
        return (f"processed {self.processed} insns (limit {BPF_COMPLEXITY_LIMIT_INSNS}) max_states_per_insn "
                f"{self.max_states_per_insn} total_states {self.total_states} peak_states {self.peak_states} "
                f"mark_read {self.mark_read}")


class Log:
    """The verifier log text, as the kernel writes it at a given log level."""

    def __init__(self, level: int) -> None:
        self.level = level
        self.lines: list[str] = []

    def __call__(self, text: str) -> None:
        if self.level:
            self.lines.append(text)

    @property
    def text(self) -> str:
        return "".join(line if line.endswith("\n") else line + "\n" for line in self.lines)


class Checkpoint:
    """A state saved at a prune point, with the number of unfinished paths through it.

    `state.hist` is the path from the parent checkpoint to this one and `last_idx` the instruction
    processed just before it, for precision backtracking; `hits` and `misses` count how often it covered
    a state and how often not, to drop the useless ones as the kernel does."""

    __slots__ = ("state", "branches", "parent", "last_idx", "hits", "misses", "sig", "pc")

    def __init__(self, state: State, parent: "Checkpoint | None", last_idx: int, sig: tuple, pc: int) -> None:
        self.pc = pc
        self.state = state
        self.branches = 1
        self.parent = parent
        self.last_idx = last_idx
        self.hits = self.misses = 0
        self.sig = sig  # exact_signature() at creation: states that differ in it are not identical


def exact_signature(state: State) -> tuple:
    """What two identical states (states_equal EXACT) must share, cheap to compare: every register's
    type, offset and tnum.  The infinite-loop check tries the exact comparison only when signatures match,
    as the kernel's states_maybe_looping() does before its states_equal()."""
    return (state.may_goto_depth, *[(r.type, r.off, r.b.var_off) for frame in state.frames for r in frame.regs])


class Verifier:
    def __init__(self, slots: list[Slot], options: Options) -> None:
        self.slots = slots
        self.opts = options
        self.log = Log(options.log_level)
        self.stats = Stats()
        self.capable = options.privileged
        self.allow_ptr_leaks = options.privileged
        self.id_gen = 0
        self.subprogs: list[Subprog] = []
        self.prune_points: set[int] = set()
        self.explored: dict[int, list[Checkpoint]] = {}  # finished checkpoints per instruction
        # Checkpoints still being explored (a path through them is pending), per instruction, and by
        # exact_signature(): they never cover a state, they only detect infinite loops.
        self.running: dict[int, dict[Checkpoint, None]] = {}
        self.running_sigs: dict[int, dict[tuple, list[Checkpoint]]] = {}
        self.kept_states = 0
        self.ctx_insns: dict[int, bool] = {}  # insn -> did its pointer operand point to ctx
        self.alu_masks: dict[int, tuple[int, int]] = {}  # insn -> its Spectre v1 mask (sanitize.py)
        self.tail_call_maps: dict[int, object] = {}  # insn -> the prog array every path passes, or None
        self.func_args: dict[int, object] = {}  # subprog -> its argument kinds, or why not (global_funcs.py)
        self.unreliable: set[int] = set()  # subprogs whose BTF a call did not match
        self.called_globals: set[int] = set()  # global functions verified code calls
        self.pending: list[tuple[State, Checkpoint | None, int, int]] = []
        self.cur: State = State()
        self.cur_cp: Checkpoint | None = None
        self.fresh_cp: Checkpoint | None = None  # the checkpoint the last visit_state() made
        self.pc = 0
        self.live: list[int] = []  # registers live before each instruction (liveness.py)
        self.stack_live = StackLiveness([])  # stack slots each instruction reads and overwrites (stack_liveness.py)
        self.insn_pc = 0  # the instruction being checked (self.pc moves on during its check)
        self.stack_rec = None  # the stack slot the current instruction spilled to or filled from
        self.linked_rec = ()  # the registers the current conditional jump refined together
        self.jmps_processed = 0
        self.bt_effects = None  # what precision backtracking does at each instruction (precision.effects())
        self.prev_jmps = self.prev_insns = 0  # the counts when the last checkpoint was made

    def new_id(self) -> int:
        self.id_gen += 1
        return self.id_gen

    # -- entry --------------------------------------------------------------------
    def run(self) -> None:
        slots = self.slots
        limit = PRIVILEGED_INSN_LIMIT if self.capable else UNPRIVILEGED_INSN_LIMIT
        if not slots:
            raise VerifierError("empty program", None, errno.EINVAL)
        if len(slots) > limit:
            raise VerifierError(f"program has {len(slots)} instructions, the limit is {limit}", None, errno.E2BIG)
        if self.opts.sleepable and not can_be_sleepable(self.opts.prog_type, self.opts.expected_attach_type):
            raise VerifierError("Only fentry/fexit/fmod_ret, lsm, iter, uprobe, and struct_ops programs can be "
                                "sleepable", None, errno.EINVAL)
        self.subprogs = find_subprogs(slots, self.capable)
        if self.opts.btf is not None and self.opts.func_info:
            check_btf_func(self.subprogs, self.opts.btf, self.opts.func_info)
        check_encodings(slots, self.opts.maps, self._check_lddw)
        self.prune_points = check_cfg(slots, self.capable)
        self.live = live_registers(slots)
        self.stack_live = StackLiveness(slots)
        self.cur = State()
        regs = self.cur.regs
        regs[1].set_pointer(CTX)
        log_main_args(self)
        self.walk()
        check_global_subprogs(self)
        self.check_stack_depth()
        check_tail_call_maps(self)

    def _check_lddw(self, pc: int, s: Slot, second: Slot) -> None:
        info = self.opts.maps.get(pc)
        if info is None:
            raise VerifierError(f"fd {s.imm} is not pointing to valid bpf_map", pc, errno.EBADF)
        self._check_map_prog_compatibility(pc, info)
        if s.src in (BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_MAP_IDX_VALUE):
            off = second.imm & 0xFFFFFFFF
            if info.map_type not in DIRECT_VALUE_MAPS:
                raise VerifierError("no direct value access support for this map type", pc, errno.EINVAL)
            if off >= 1 << 29:
                raise VerifierError(f"direct value offset of {off} is not allowed", pc, errno.EINVAL)
            if off >= info.value_size:
                raise VerifierError(f"invalid access to map value pointer, value_size={info.value_size} "
                                    f"off={off}", pc, errno.EACCES)

    def _check_map_prog_compatibility(self, pc: int, info: MapInfo) -> None:
        """check_map_prog_compatibility(): maps whose values hold locks or timers, per program type."""
        fields = set((info.fields or {}).values())
        tracing = self.opts.prog_type in TRACING_TYPES
        if "bpf_spin_lock" in fields:
            if self.opts.prog_type == ProgType.BPF_PROG_TYPE_SOCKET_FILTER:
                raise VerifierError("socket filter progs cannot use bpf_spin_lock yet", pc, errno.EINVAL)
            if tracing:
                raise VerifierError("tracing progs cannot use bpf_spin_lock yet", pc, errno.EINVAL)
        if "bpf_timer" in fields and tracing:
            raise VerifierError("tracing progs cannot use bpf_timer yet", pc, errno.EINVAL)

    # -- the walk -----------------------------------------------------------------
    def walk(self) -> None:
        from .insns import step
        prev = None
        while True:
            pc = self.pc
            if self.stats.processed >= self.opts.complexity_limit:
                raise VerifierError(f"BPF program is too large. Processed {self.stats.processed} insn", pc,
                                    errno.E2BIG)
            if pc in self.prune_points and self.visit_state(pc):
                if self.log.level:
                    self.log(f"{pc}: safe" if prev is None else f"from {prev} to {pc}: safe")
                if not self.pop():
                    return
                prev = None
                continue
            self.stats.processed += 1
            if self.log.level >= 2:
                self.log(f"{pc}:{state_str(self.cur)}")
            self.stack_rec, self.linked_rec = None, ()
            depth = len(self.cur.frames)
            if self.slots[pc].cls in (BPF_JMP, BPF_JMP32):
                self.jmps_processed += 1
            self.insn_pc = pc
            self.stack_live.writes = 0
            done = step(self, pc, self.slots[pc])
            self.stack_live.visited(pc)
            if done:
                self.finish_path()
                if not self.pop():
                    return
                prev = None
            else:
                self.cur.hist.append((pc, depth, self.stack_rec, self.linked_rec))

    def push(self, state: State, pc: int, from_pc: int) -> None:
        if self.cur_cp is not None:
            self.cur_cp.branches += 1
        state.hist.append((from_pc, len(self.cur.frames), None, self.linked_rec))
        self.pending.append((state, self.cur_cp, pc, from_pc))
        if len(self.pending) > BPF_COMPLEXITY_LIMIT_JMP_SEQ:
            raise VerifierError(f"The sequence of {len(self.pending)} jumps is too complex.", from_pc, errno.E2BIG)

    def pop(self) -> bool:
        if not self.pending:
            return False
        state, cp, pc, from_pc = self.pending.pop()
        self.cur, self.cur_cp, self.pc = state, cp, pc
        if self.log.level:
            self.log(f"from {from_pc} to {pc}:{state_str(state)}")
        return True

    def finish_path(self) -> None:
        """update_branch_counts(): the path ended; checkpoints with no live path left are complete."""
        cp = self.cur_cp
        while cp is not None:
            cp.branches -= 1
            if cp.branches:
                break
            del self.running[cp.pc][cp]
            self.running_sigs[cp.pc][cp.sig].remove(cp)
            self.explored.setdefault(cp.pc, []).append(cp)
            cp = cp.parent

    def visit_state(self, pc: int) -> bool:
        """is_state_visited(): True when the current state is covered and the path can stop."""
        from .precision import propagate
        from .state import states_equal
        checkpoints = self.explored.setdefault(pc, [])
        may_goto = self.slots[pc].code == (BPF_JMP | BPF_JCOND)
        frames = range(len(self.cur.frames))
        live = [self.live_mask(self.cur, i, pc) for i in frames] if checkpoints or may_goto else None
        loose = NOT_EXACT if self.capable else RANGE_WITHIN
        # The infinite-loop check compares every register: with dead ones ignored it would fire at an
        # earlier instruction than the kernel's, whose sparser checkpoints skip it (jgt_imm64_and_may_goto).
        every = [ALL_LIVE] * len(frames)
        # Inside a loop being unrolled (checkpoints here still being explored), the kernel makes a new
        # checkpoint only every 20 jumps or 100 instructions; we do once LOOP_CHECKPOINTS of them pile up at
        # one instruction (every later visit compares against them all).  may_goto loop heads always get
        # one: their iterations converge by meeting the earlier ones.
        jmps = self.jmps_processed - self.prev_jmps
        insns = self.stats.processed - self.prev_insns
        thin = not may_goto and jmps < 20 and insns < 100
        running = self.running.setdefault(pc, {})
        running_sigs = self.running_sigs.setdefault(pc, {})
        sig = exact_signature(self.cur) if running else None  # no checkpoint here is still being explored
        if may_goto:
            for cp in running:
                if (cp.state.may_goto_depth != self.cur.may_goto_depth
                        and states_equal(cp.state, self.cur, RANGE_WITHIN, live)):
                    # Another iteration of a may_goto loop, covered by an earlier one still being explored:
                    # its precision marks are not final, so every scalar it holds counts as precise here.
                    propagate(self, cp.state, pc, every_scalar=True)
                    self.finish_path()
                    return True
        for cp in running_sigs.get(sig, ()):
            if (states_equal(cp.state, self.cur, EXACT, every) and self._on_path(cp)
                    and cp.state.may_goto_depth == self.cur.may_goto_depth):
                self.log(f"infinite loop detected at insn {pc}")
                raise VerifierError(f"infinite loop detected at insn {pc}", pc, errno.EINVAL)
        in_loop = len(running)
        stack_live = [self.stack_live_mask(self.cur, i, pc) for i in frames] if checkpoints else None
        for cp in list(checkpoints):
            if states_equal(cp.state, self.cur, loose, live, stack_live):
                cp.hits += 1
                propagate(self, cp.state, pc)
                self.finish_path()
                return True
            cp.misses += 1
            if cp.misses > cp.hits * (64 if may_goto else 3) + (64 if may_goto else 3):
                # The kernel's heuristic: a finished checkpoint that keeps missing is unlikely to cover
                # anything; dropping it only costs pruning (the states on the path keep their parents).
                checkpoints.remove(cp)
                self.kept_states -= 1
        if thin and in_loop >= LOOP_CHECKPOINTS:
            return False
        self.prev_jmps, self.prev_insns = self.jmps_processed, self.stats.processed
        if sig is None:
            sig = exact_signature(self.cur)
        hist, self.cur.hist = self.cur.hist, []
        self.cur.traced = {}
        last_idx = hist[-1][0] if hist else self.cur.first_idx
        cp = Checkpoint(self.cur.copy(), self.cur_cp, last_idx, sig, pc)
        cp.state.hist = hist
        self.cur.first_idx = pc
        running[cp] = None
        running_sigs.setdefault(sig, []).append(cp)
        self.cur_cp = self.fresh_cp = cp
        self.stats.total_states += 1
        self.kept_states += 1
        self.stats.peak_states = max(self.stats.peak_states, self.kept_states)
        self.stats.max_states_per_insn = max(self.stats.max_states_per_insn, len(checkpoints) + len(running))
        return False

    def live_mask(self, state: State, frame: int, pc: int) -> int:
        """The registers of `frame` that may still be read: at pc for the innermost frame, after the call
        for a caller (its live registers before the call site, which include the arguments)."""
        if frame == len(state.frames) - 1:
            return self.live[pc]
        return self.live[state.frames[frame + 1].callsite]

    def stack_live_mask(self, state: State, frame: int, pc: int) -> int:
        """The stack slots of `frame` that may still be read (stack_liveness.py), as live_mask() has it."""
        if frame == len(state.frames) - 1:
            return self.stack_live.live_before(pc)
        return self.stack_live.live_before(state.frames[frame + 1].callsite)

    def previous_iteration(self, pc: int):
        """find_prev_entry(): the checkpoint at `pc` one loop iteration back on the current path."""
        node = self.cur_cp
        if node is not None and node is self.fresh_cp:  # the checkpoint of this very visit
            node = node.parent
        while node is not None:
            if node.pc == pc:
                return node.state
            node = node.parent
        return None

    def _on_path(self, cp: Checkpoint) -> bool:
        node = self.cur_cp
        while node is not None:
            if node is cp:
                return True
            node = node.parent
        return False

    # -- after the walk ---------------------------------------------------------
    def check_stack_depth(self) -> None:
        """check_max_stack_depth(): every chain of calls in the program text (dead code
        included) is at most 8 frames deep and its frames fit in 512 bytes."""
        def frame_size(sp: Subprog) -> int:
            return (max(sp.stack_depth, 1) + 31) // 32 * 32

        def walk(index: int, frame: int, depth: int) -> None:
            if frame >= MAX_CALL_FRAMES:
                raise VerifierError(f"the call stack of {frame} frames is too deep !", None, errno.E2BIG)
            total = depth + frame_size(self.subprogs[index])
            if total > 512:
                raise VerifierError(f"combined stack size of {frame + 1} calls is {total}. Too large", None,
                                    errno.EACCES)
            for callee in self.subprogs[index].callees:
                walk(callee, frame + 1, total)

        walk(0, 0, 0)

    def subprog_of(self, pc: int) -> int:
        for i, sp in enumerate(self.subprogs):
            if sp.start <= pc < sp.end:
                return i
        return 0

