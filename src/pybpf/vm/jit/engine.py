"""NativeEngine: an Interpreter whose program runs as host machine code (codegen + compile).

The engine keeps the Interpreter's constructor, attributes and helpers
(`call_helper`, `map_packet`, `mem`, `stacks`, `kernel` ...); only running
differs.  The native code reads and writes the VM's regions directly
(pointers are real addresses), calls Python for helpers and LD_ABS/LD_IND
through one ctypes callback, and in checked mode for every memory access
(the AddressSpace decides, as for the interpreter) and counts instructions
per basic block against max_steps.  Without checked mode there is no
bounds check and no step limit: only verified programs belong there.
"""

from __future__ import annotations

import ctypes
import weakref
from operator import length_hint

from ..check import subprogram_entries
from ..fault import VMFault
from ..inline_maps import hash_maps, inline_arrays, plain_helpers
from ..interp import MAX_CALL_DEPTH, MAX_STEPS, MAX_TAIL_CALL_CNT, MAY_GOTO_BUDGET, STACK_SIZE, Interpreter, TailCall
from ..memory import MemoryFault
from ..standalone import NeedsKernel
from . import layout as L
from .codegen import CHECK_SYMBOL, HELPER_SYMBOL, LOOP_SYMBOL, PROG_SYMBOL, Codegen
from .compile import compiled, digest
from .native_hash import NativeHash
from .native_helpers import native_ids
from .native_helpers import symbols as native_symbols
from .native_ringbuf import plan as ring_plan

M64 = (1 << 64) - 1
_State = ctypes.c_uint64 * L.WORDS
# PYFUNCTYPE: the GIL stays held (the callbacks need it anyway), which makes the call itself cheaper.
_PROG = ctypes.PYFUNCTYPE(None, ctypes.c_void_p)
_LOOP = ctypes.PYFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64)
_HELPER = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, *[ctypes.c_uint64] * 7)
_CHECK = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64)
# address of an engine's state -> the engine, for the callbacks
# (a plain dict of weak references: a WeakValueDictionary lookup costs more than the rest of a helper call)
_LIVE: "dict[int, weakref.ref[NativeEngine]]" = {}


def _helper(state, pc, helper_id, r1, r2, r3, r4, r5):
    engine = _LIVE[state]()
    try:
        impl = engine.plain.get(helper_id)
        if impl is not None:  # a helper that runs no program code: its implementation, straight
            return impl(engine, r1, r2, r3, r4, r5) & M64
        if helper_id == L.HELPER_PACKET:
            return engine.load_packet(pc, r1, r2)
        return engine.helper_call(pc, helper_id, r1, r2, r3, r4, r5)
    except NeedsKernel:
        return engine.hold(engine.needs_kernel(pc))
    except BaseException as err:  # noqa: BLE001 - carried across the native frames, raised by _enter
        return engine.hold(err)


def _check(state, pc, addr, flags):
    engine = _LIVE[state]()
    size = flags & 0xFF
    try:
        engine.mem.find(addr, size, bool(flags & L.WRITE))
        if flags & L.ATOMIC and addr % size:
            raise VMFault(pc, engine.slots[pc], f"misaligned {size}-byte atomic access at {addr:#x}", addr)
        return 0
    except MemoryFault as fault:
        engine.hold(VMFault(pc, engine.slots[pc], str(fault), fault.addr))
        return 1
    except BaseException as err:  # noqa: BLE001
        engine.hold(err)
        return 1


_HELPER_CB, _CHECK_CB = _HELPER(_helper), _CHECK(_check)
_HELPER_ADDR = ctypes.cast(_HELPER_CB, ctypes.c_void_p).value
_CHECK_ADDR = ctypes.cast(_CHECK_CB, ctypes.c_void_p).value


class NativeEngine(Interpreter):
    """Runs one program as native code.  checked: bounds-check every access and count steps.

    Same constructor as Interpreter plus `checked`; `compile_seconds` is the
    time the first compilation of this program took (cached afterwards).
    """

    engine = "native"

    def __init__(self, insns, *, checked: bool = False, **options):
        super().__init__(insns, **options)
        self.checked = checked
        self.state = _State()
        self.state[L.STACKS:L.STACKS + MAX_CALL_DEPTH] = [frame.end for frame in self.stacks]
        self._state_addr = ctypes.addressof(self.state)
        self.words = memoryview(self.state).cast("B").cast("Q")  # cheaper to index than the ctypes array
        self._args = False  # some of r2-r5 in RUN_ARGS are not 0
        self.state[L.LIMIT] = self.max_steps
        if checked:
            self.state[L.REGIONS] = self.mem.native_table()
        self._held: BaseException | None = None
        self._lddw = {}
        for pc, insn in enumerate(self.slots):
            if insn is not None and insn.spec.kind == "lddw":
                regs = [0] * 11
                self.compiled[pc](regs)
                self._lddw[pc] = regs[insn.dst]
        self._prog = self._loop = None
        self.entry_addresses: dict[str, int] = {}  # the machine code's entries, once compiled
        self.compile_seconds = 0.0
        self._entries = subprogram_entries(self.slots)
        # helper id -> implementation of the helpers called that run no program code (inline_maps.plain_helpers)
        self.plain = {i: self.helpers[i].impl for i in plain_helpers(self.helpers, self.slots)}
        _LIVE[self._state_addr] = weakref.ref(self)
        weakref.finalize(self, _LIVE.pop, self._state_addr, None)

    def compile(self) -> None:
        """Compile (or find in the cache) the native code; done before the first run, once kernel is set.

        Array maps the program names with lddw are looked up inline (their values sit at
        stable addresses), plain hash maps through their native index (native_hash), so it
        waits until the virtual kernel has set `kernel`.
        """
        key, build = self._codegen()
        entries, self.compile_seconds = compiled(key, build, {
            HELPER_SYMBOL: _HELPER_ADDR, CHECK_SYMBOL: _CHECK_ADDR, **native_symbols()}, (PROG_SYMBOL, LOOP_SYMBOL))
        self.entry_addresses = entries
        self._prog, self._loop = _PROG(entries[PROG_SYMBOL]), _LOOP(entries[LOOP_SYMBOL])

    def module(self):
        """The LLVM IR module (llvmlite `ir.Module`, no target set) that `compile` compiles for this program."""
        return self._codegen()[1]()

    def _codegen(self):
        """(cache key, build): what the generated code depends on, and the function that builds its module."""
        arrays = inline_arrays(self.kernel, self.slots, self._lddw)
        hashes = {handle: layout for handle, bpf_map in hash_maps(self.kernel, self.slots, self._lddw).items()
                  if (layout := NativeHash.of(bpf_map)) is not None}
        code = self.code.read()
        callx = any(i is not None and i.spec.kind == "callx" for i in self.slots)
        native = native_ids(self.helpers)
        rings = ring_plan(self.kernel, self.slots, self._lddw, self.helpers, self.checked)
        key = digest(code, sorted(self._lddw.items()), self.checked, self.code.start if callx else 0,
                     sorted(arrays.items()), sorted(native), sorted(hashes.items()), rings.key() if rings else None)
        return key, lambda: Codegen(self.slots, self._lddw, self.checked, self.code.start, arrays, native,
                                    hashes, rings).build()

    def hold(self, err: BaseException) -> int:
        """Keep a callback's exception for `_enter` to raise once the native frames are gone."""
        if self._held is None:
            self._held = err
        self.words[L.STATUS] = L.FAULT_PYTHON
        return 0

    def load_packet(self, pc: int, offset: int, size: int) -> int:
        packet = self.packet
        if packet is None:
            raise VMFault(pc, self.slots[pc], "LD_ABS/LD_IND without a packet (socket filter programs only)")
        if offset + size > packet.size:  # Linux: `r0 = 0; exit` (bpf_gen_ld_abs)
            self.state[L.PACKET_MISS] = 1
            return 0
        return int.from_bytes(packet.read(offset, size), "big")

    # -- running ---------------------------------------------------------------
    def run(self, r1: int = 0, r2: int = 0, r3: int = 0, r4: int = 0, r5: int = 0) -> int:
        """Interpreter.run: one call of the native `loop`; unchecked, `steps` stays 0 (no step count)."""
        if r2 or r3 or r4 or r5 or self._args:
            self._set_args(r2, r3, r4, r5)
        self.tail_calls = 0
        if self._loop is not None and self._loop(self._state_addr, 1, r1 & M64) and not self.checked:
            return self.words[L.R0]
        return self._runs(1, r1, self._loop is not None)

    def run_repeat(self, r1: int, repeat: int) -> int:
        """`repeat` runs with r1 (BPF_PROG_TEST_RUN's loop), all in native code; the last run's r0."""
        if self._args:
            self._set_args(0, 0, 0, 0)
        return self._runs(max(repeat, 1), r1)

    def _set_args(self, r2: int, r3: int, r4: int, r5: int) -> None:
        self.state[L.RUN_ARGS + 1:L.RUN_ARGS + 5] = [r2 & M64, r3 & M64, r4 & M64, r5 & M64]
        self._args = bool(r2 or r3 or r4 or r5)

    def _runs(self, repeat: int, r1: int, ran: bool = False) -> int:
        """The rest of `repeat` runs after the first call of `loop` (ran: that call is done), faults raised."""
        if self._loop is None:
            self.compile()
        words = self.words
        r0 = 0
        while repeat:
            self.tail_calls = 0
            if ran:  # run() made the call: a status says its one run stopped
                done, ran = (0 if words[L.STATUS] else 1), False
            else:
                done = self._loop(self._state_addr, repeat, r1 & M64)
            if self.checked:
                self.steps = min(words[L.STEPS], self.max_steps)
            if done == repeat:
                return words[L.R0]
            status, words[L.STATUS] = words[L.STATUS], 0
            try:
                self._raise(status)
            except TailCall as call:
                r0, used = _tail_calls(call, r1)
                self.steps += used if self.checked else 0
            repeat -= done + 1
        return r0

    def _run(self, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        ctypes.memset(self.stacks[0].start, 0, STACK_SIZE)
        self.frames = []
        self.state[L.MAY_GOTO] = MAY_GOTO_BUDGET
        return self._enter(0, 0, (r1, r2, r3, r4, r5))

    def call(self, address: int, *args: int) -> int:
        """Call the subprogram at a code address (bpf_loop, for_each_map_elem ...) one frame deeper."""
        offset = address - self.code.start
        target = offset // 8
        if not 0 <= offset < self.code.size or offset % 8 or target not in self._entries:
            raise VMFault(-1, None, f"callback {address:#x} is not a subprogram of this program", address)
        caller = self.state[L.DEPTH]
        depth = caller + 1
        if depth >= MAX_CALL_DEPTH:
            raise VMFault(target, self.slots[target], f"call depth exceeds {MAX_CALL_DEPTH} frames")
        ctypes.memset(self.stacks[depth].start, 0, STACK_SIZE)
        try:
            return self._enter(target, depth, (tuple(args) + (0,) * 5)[:5])
        finally:
            self.state[L.DEPTH] = caller  # the helper may call back again

    def _enter(self, pc: int, depth: int, args) -> int:
        if self._prog is None:
            self.compile()
        state = self.state
        outer = depth == 0
        if outer:
            ticks = self._ticks
            state[L.STEPS] = 0
            state[L.LIMIT] = length_hint(ticks)
            state[L.STATUS] = 0
            self._held = None
        state[L.ENTRY], state[L.BASE], state[L.DEPTH] = pc, depth, depth
        state[L.ARGS:L.ARGS + 5] = [a & M64 for a in args]
        try:
            self._prog(self._state_addr)
        finally:
            if outer:
                done = self.max_steps - length_hint(self._ticks) + min(state[L.STEPS], state[L.LIMIT])
                self._ticks.__setstate__(done)
                state[L.LIMIT] = self.max_steps  # what `loop` runs against
        status = state[L.STATUS]
        if status:
            if outer:
                state[L.STATUS] = 0
            self._raise(status)
        return state[L.R0]

    def _raise(self, status: int):
        if status == L.FAULT_PYTHON:
            err, self._held = self._held, None
            raise err
        pc = ctypes.c_int64(self.state[L.FAULT_PC]).value
        insn = self.slots[pc] if pc >= 0 else None
        reason = {L.FAULT_DEPTH: f"call depth exceeds {MAX_CALL_DEPTH} frames",
                  L.FAULT_STEPS: f"instruction limit of {self.max_steps} reached",
                  L.FAULT_CALLX: "callx target is not a subprogram of this program",
                  L.FAULT_ENTRY: "the entry is not a subprogram of this program"}[status]
        raise VMFault(pc, insn, reason)


def _tail_calls(call: TailCall, ctx: int) -> tuple[int, int]:
    """Go on as Interpreter.run does after the first program's bpf_tail_call: (r0, instructions counted)."""
    total = call.target.max_steps
    ticks = iter(range(total))
    for tail_calls in range(1, MAX_TAIL_CALL_CNT + 1):
        interp = call.target
        interp.tail_calls, interp._ticks = tail_calls, ticks
        try:
            return interp._run(ctx, 0, 0, 0, 0), total - length_hint(ticks)
        except TailCall as again:
            call = again
    raise AssertionError("bpf_tail_call refuses the 34th call")  # pragma: no cover


def run(insns, memory: bytes = b"", *, max_steps: int = MAX_STEPS, helpers=None, packet: bytes | None = None,
        resolver=None, trace=None, checked: bool = True):
    """`pybpf.vm.run` on the native engine (checked by default: bare programs are unverified)."""
    from .. import RunResult

    vm = NativeEngine(list(insns), helpers=helpers, max_steps=max_steps, resolver=resolver, trace=trace,
                      checked=checked)
    region = vm.mem.map("memory", memory) if memory else None
    if packet is not None:
        vm.map_packet(packet)
    r0 = vm.run(region.start if region else 0, len(memory))
    return RunResult(r0, region.read() if region else b"", vm.steps)
