"""Calls and returns: helpers checked against the helper registry, bpf-to-bpf
calls with frames, callbacks, legacy packet loads, and program exit.

Argument kinds are the registry's (the kernel's enum bpf_arg_type names);
`ARG_CHECKS` maps each kind to its check, so adding a helper never touches
this file unless it brings a new kind.
"""

from __future__ import annotations

import errno

from ..helpers import REGISTRY, helper_name
from ..uapi import AttachType, MapType, ProgType
from . import global_funcs, kfuncs, memory, precision
from .ctx import READ, WRITE
from .errors import VerifierError
from .regs import (BTF_ID, CTX, FUNC, MAP_KEY, MAP_PTR, MAP_VALUE, MEM, NOT_INIT, PACKET, PACKET_END, PACKET_META, SCALAR,
                   SOCK, SOCK_COMMON, STACK, TCP_SOCK, Reg)
from .state import MAX_CALL_FRAMES, MISC, SPILL, ZERO, Frame

BPF_MAX_VAR_SIZ = 1 << 29
MEM_TYPES = "fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_"
KEY_TYPES = "fp, pkt, pkt_meta, map_key, map_value, mem, alloc_mem, buf, rdonly_buf, arena"
MEM_KINDS = (STACK, PACKET, PACKET_META, MAP_KEY, MAP_VALUE, MEM, BTF_ID)


def fail(message: str, code: int = errno.EACCES) -> VerifierError:
    return VerifierError(message, None, code)


class CallMeta:
    """What earlier arguments of one call tell later ones (struct bpf_call_arg_meta)."""

    def __init__(self) -> None:
        self.map = None
        self.mem_regno = -1
        self.mem_kind = READ
        self.mem_uninit = False
        self.alloc_size = None
        self.release_regno = -1
        self.ref_obj_id = 0
        self.callback = None
        self.callback_ctx = None
        self.const_map_key = -1  # the key, when an array's lookup key is known (get_constant_map_key)
        self.msize_max = 0  # the largest size a size argument may have (msize_max_value)


def _type_error(reg: Reg, regno: int, expected: str) -> VerifierError:
    return fail(f"R{regno} type={reg.type_str()} expected={expected}")


def _null_ok(v, regno: int, reg: Reg) -> bool:
    if not reg.is_const(0):
        return False
    precision.mark_reg(v, regno)  # a NULL argument: another value would be refused
    return True


# -- argument checks ------------------------------------------------------------------
def _anything(v, regno, reg, meta, kind):
    if reg.is_pointer and not v.allow_ptr_leaks:
        raise fail(f"R{regno} leaks addr into helper function")


def _map_ptr(v, regno, reg, meta, kind):
    if reg.type != MAP_PTR:
        raise _type_error(reg, regno, "map_ptr")
    meta.map = reg.map


def _map_mem(size_of, kind_of):
    def check(v, regno, reg, meta, kind):
        if meta.map is None:
            raise fail("invalid map_ptr to access map->key" if size_of == "key" else
                       "invalid map_ptr to access map->value")
        if size_of == "value" and meta.map.map_type in SOCKET_MAPS:  # resolve_map_arg_type(): a socket
            return _sock_common(btf_ok=True)(v, regno, reg, meta, kind)
        if reg.null or reg.type not in (STACK, PACKET, PACKET_META, MAP_KEY, MAP_VALUE, MEM):
            raise _type_error(reg, regno, KEY_TYPES)
        size = meta.map.key_size if size_of == "key" else meta.map.value_size
        memory.check_helper_mem(v, regno, size, kind_of, False, uninit_ok=kind_of == WRITE)
        if size_of == "key" and meta.map.map_type in ELIDE_NULL_MAPS:
            meta.const_map_key = _const_map_key(v, reg, size)
    return check


# Arrays whose lookup with a constant key in range cannot return NULL (can_elide_value_nullness, 6.13+).
ELIDE_NULL_MAPS = (MapType.BPF_MAP_TYPE_ARRAY, MapType.BPF_MAP_TYPE_PERCPU_ARRAY)


def _const_map_key(v, reg: Reg, key_size: int) -> int:
    """get_constant_map_key: the key on the stack when its bytes are known (zeroes or one scalar spill
    of exactly key_size), else -1.  The spilled key is marked precise: pruning then compares it by value."""
    if not v.capable or reg.type != STACK or not reg.b.is_const:
        return -1
    slot, off = v.cur.frames[reg.frameno].slot(reg.off + reg.b.value)
    zeros = next((off - i for i in range(off, -1, -1) if slot.types[i] != ZERO), off + 1)
    if zeros >= key_size:
        return 0
    spill = next((off - i for i in range(off, -1, -1) if slot.types[i] != SPILL), off + 1)
    if not slot.is_spilled_scalar or spill != key_size or not slot.spilled.b.is_const:
        return -1
    precision.mark_stack(v, reg.frameno, (-(reg.off + reg.b.value) - 1) // 8)
    return slot.spilled.b.value


def _mem(kind_of, null_ok=False, uninit=False):
    def check(v, regno, reg, meta, kind):
        meta.mem_regno, meta.mem_kind, meta.mem_uninit = regno, kind_of, uninit
        if null_ok and _null_ok(v, regno, reg):
            meta.mem_regno = -2
            return
        if reg.null or reg.type not in MEM_KINDS:
            raise _type_error(reg, regno, MEM_TYPES)
    return check


def _fixed_mem(size):
    def check(v, regno, reg, meta, kind):
        if reg.null or reg.type not in MEM_KINDS:
            raise _type_error(reg, regno, MEM_TYPES)
        memory.check_alignment(v, reg, 0, size, strict_once=True)  # the int pointers are MEM_ALIGNED
        memory.check_helper_mem(v, regno, size, WRITE, False, uninit_ok=True)
    return check


def _size(zero_ok):
    def check(v, regno, reg, meta, kind):
        if reg.type != SCALAR:
            raise _type_error(reg, regno, "scalar")
        precision.mark_reg(v, regno)  # check_mem_size_reg(): the size's bounds decide the access
        b = reg.b
        if b.smin < 0:
            raise fail(f"R{regno} min value is negative, either use unsigned or 'var &= const'")
        if b.umin == 0 and not zero_ok:
            raise fail(f"R{regno} invalid zero-sized read: u64=[{b.umin},{b.umax}]")
        if b.umax >= BPF_MAX_VAR_SIZ:
            raise fail(f"R{regno} unbounded memory access, use 'var &= const' or 'if (var < const)'")
        meta.msize_max = b.umax
        if meta.mem_regno == -2:
            if b.umax:  # check_helper_mem_access(): only a zero-byte access may use NULL
                raise fail(f"R{regno - 1} type=scalar expected=fp")
            return
        if meta.mem_regno < 0:
            raise fail(f"R{regno} size argument without a memory argument before it", errno.EINVAL)
        memory.check_helper_mem(v, meta.mem_regno, b.umax, meta.mem_kind, zero_ok, uninit_ok=meta.mem_uninit)
    return check


def _alloc_size(v, regno, reg, meta, kind):
    if reg.type != SCALAR:
        raise _type_error(reg, regno, "scalar")
    if not reg.b.is_const:
        raise fail(f"R{regno} is not a known constant'")
    precision.mark_reg(v, regno)
    meta.alloc_size = reg.b.value


def _ctx(null_ok=False):
    def check(v, regno, reg, meta, kind):
        if null_ok and _null_ok(v, regno, reg):
            return
        if reg.type != CTX:
            raise _type_error(reg, regno, "ctx")
        memory.check_ptr_off(reg, regno)
    return check


def _ringbuf_mem(v, regno, reg, meta, kind):
    if reg.type != MEM or "ringbuf" not in reg.flags or reg.null:
        raise _type_error(reg, regno, "ringbuf_mem")
    if reg.off or not reg.b.is_const or reg.b.value:
        raise fail(f"R{regno} must have zero offset when passed to release func or trusted arg to kfunc")
    meta.release_regno = regno


def _func(v, regno, reg, meta, kind):
    if reg.type != FUNC:
        raise _type_error(reg, regno, "func")
    meta.callback = reg.subprog


def _stack_or_null(v, regno, reg, meta, kind):
    if _null_ok(v, regno, reg):
        meta.callback_ctx = None
        return
    if reg.type != STACK:
        raise _type_error(reg, regno, "fp")
    meta.callback_ctx = reg


def _const_str(v, regno, reg, meta, kind):
    if reg.type != MAP_VALUE or reg.null:
        raise _type_error(reg, regno, "map_value")
    info = reg.map
    if not info.frozen or not info.flags & (1 << 7) and info.values is None:
        raise fail(f"R{regno} does not point to a readonly map'")
    if not reg.b.is_const:
        raise fail(f"R{regno} is not a constant address'")
    if info.values is not None:
        start = reg.off + reg.b.value
        if b"\0" not in bytes(info.values[start:]):
            raise fail("string is not zero-terminated")


def _sock_common(btf_ok=False, null_ok=False):
    def check(v, regno, reg, meta, kind):
        if null_ok and _null_ok(v, regno, reg):
            return
        types = (SOCK_COMMON, SOCK, TCP_SOCK) + ((BTF_ID,) if btf_ok else ())
        if reg.null or reg.type not in types:
            raise _type_error(reg, regno, "sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_" if btf_ok
                              else "sock_common, sock, tcp_sock, xdp_sock")
        if reg.ref_obj_id:
            meta.ref_obj_id = reg.ref_obj_id
            meta.release_regno = regno
    return check


ARG_CHECKS = {
    "ARG_ANYTHING": _anything,
    "ARG_CONST_MAP_PTR": _map_ptr,
    "ARG_PTR_TO_MAP_KEY": _map_mem("key", READ),
    "ARG_PTR_TO_MAP_VALUE": _map_mem("value", READ),
    "ARG_PTR_TO_UNINIT_MAP_VALUE": _map_mem("value", WRITE),
    "ARG_PTR_TO_MEM": _mem(READ),
    "ARG_PTR_TO_MEM_RDONLY": _mem(READ),
    "ARG_PTR_TO_MEM_OR_NULL": _mem(READ, null_ok=True),
    "ARG_PTR_TO_MEM_OR_NULL_RDONLY": _mem(READ, null_ok=True),
    "ARG_PTR_TO_UNINIT_MEM": _mem(WRITE, uninit=True),
    "ARG_PTR_TO_FIXED_SIZE_MEM_4": _fixed_mem(4),
    "ARG_PTR_TO_FIXED_SIZE_MEM_8": _fixed_mem(8),
    "ARG_CONST_SIZE": _size(False),
    "ARG_CONST_SIZE_OR_ZERO": _size(True),
    "ARG_CONST_ALLOC_SIZE_OR_ZERO": _alloc_size,
    "ARG_PTR_TO_CTX": _ctx(),
    "ARG_PTR_TO_CTX_OR_NULL": _ctx(null_ok=True),
    "ARG_PTR_TO_RINGBUF_MEM": _ringbuf_mem,
    "ARG_PTR_TO_FUNC": _func,
    "ARG_PTR_TO_STACK_OR_NULL": _stack_or_null,
    "ARG_PTR_TO_CONST_STR": _const_str,
    "ARG_PTR_TO_SOCK_COMMON": _sock_common(),
    "ARG_PTR_TO_BTF_ID_SOCK_COMMON": _sock_common(btf_ok=True),
    "ARG_PTR_TO_SOCKET_OR_NULL": _sock_common(null_ok=True),
}

# Return kinds: (register type, may be NULL, type modifiers).
RETURNS = {
    "RET_PTR_TO_MAP_VALUE_OR_NULL": (MAP_VALUE, True, frozenset()),
    "RET_PTR_TO_MAP_VALUE": (MAP_VALUE, False, frozenset()),
    "RET_PTR_TO_RINGBUF_MEM_OR_NULL": (MEM, True, frozenset({"ringbuf"})),
    "RET_PTR_TO_SOCKET_OR_NULL": (SOCK, True, frozenset()),
    "RET_PTR_TO_SOCK_COMMON_OR_NULL": (SOCK_COMMON, True, frozenset()),
    "RET_PTR_TO_TCP_SOCK_OR_NULL": (TCP_SOCK, True, frozenset()),
    "RET_PTR_TO_BTF_ID_TASK": (BTF_ID, False, frozenset({"trusted"})),
}
# Helpers a program type may not call although they exist (the type's get_func_proto leaves them out).
_TRACING = (ProgType.BPF_PROG_TYPE_KPROBE, ProgType.BPF_PROG_TYPE_TRACEPOINT, ProgType.BPF_PROG_TYPE_PERF_EVENT,
            ProgType.BPF_PROG_TYPE_RAW_TRACEPOINT, ProgType.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE)
_SOCKET_REFS = ("sk_lookup_tcp", "sk_lookup_udp", "skc_lookup_tcp", "sk_release")  # the networking protos only
FORBIDDEN = {t: ("ktime_get_coarse_ns",) + _SOCKET_REFS for t in _TRACING}
FORBIDDEN[ProgType.BPF_PROG_TYPE_FLOW_DISSECTOR] = _SOCKET_REFS
# Helpers that take a callback, and the registers the callback gets.
CALLBACK_ARGS = {"loop": ("index", "ctx"), "for_each_map_elem": ("map", "key", "value", "ctx")}
# Helpers whose map argument must be of given types (check_map_func_compatibility, the common cases).
MAP_TYPES_FOR = {
    "tail_call": (MapType.BPF_MAP_TYPE_PROG_ARRAY,),
    "ringbuf_output": (MapType.BPF_MAP_TYPE_RINGBUF,),
    "ringbuf_reserve": (MapType.BPF_MAP_TYPE_RINGBUF,),
    "ringbuf_query": (MapType.BPF_MAP_TYPE_RINGBUF,),
    "perf_event_output": (MapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY,),
    "get_stackid": (MapType.BPF_MAP_TYPE_STACK_TRACE,),
    "map_push_elem": (MapType.BPF_MAP_TYPE_QUEUE, MapType.BPF_MAP_TYPE_STACK, MapType.BPF_MAP_TYPE_BLOOM_FILTER),
    "map_pop_elem": (MapType.BPF_MAP_TYPE_QUEUE, MapType.BPF_MAP_TYPE_STACK),
    "map_peek_elem": (MapType.BPF_MAP_TYPE_QUEUE, MapType.BPF_MAP_TYPE_STACK, MapType.BPF_MAP_TYPE_BLOOM_FILTER),
    "get_local_storage": (MapType.BPF_MAP_TYPE_CGROUP_STORAGE, MapType.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE),
    "map_lookup_percpu_elem": (MapType.BPF_MAP_TYPE_PERCPU_ARRAY, MapType.BPF_MAP_TYPE_PERCPU_HASH,
                               MapType.BPF_MAP_TYPE_LRU_PERCPU_HASH),
}
# Map types only the helpers above may use (the other direction of the same check).
SPECIAL_MAPS = {MapType.BPF_MAP_TYPE_PROG_ARRAY: ("tail_call",),
                MapType.BPF_MAP_TYPE_RINGBUF: ("ringbuf_output", "ringbuf_reserve", "ringbuf_query"),
                MapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY: ("perf_event_output", "perf_event_read",
                                                       "perf_event_read_value"),
                MapType.BPF_MAP_TYPE_STACK_TRACE: ("get_stackid",),
                MapType.BPF_MAP_TYPE_CGROUP_STORAGE: ("get_local_storage",),
                MapType.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE: ("get_local_storage",),
                MapType.BPF_MAP_TYPE_SK_STORAGE: ("sk_storage_get", "sk_storage_delete")}
# Maps whose lookups give a referenced socket rather than a value.
SOCKET_MAPS = (MapType.BPF_MAP_TYPE_SOCKMAP, MapType.BPF_MAP_TYPE_SOCKHASH)
# check_map_func_compatibility() for socket maps: the helpers each may go into (may_update_sockmap() adds
# map_update_elem and map_delete_elem in the contexts below), and the other direction.
SOCKET_MAP_HELPERS = {
    MapType.BPF_MAP_TYPE_SOCKMAP: ("sk_redirect_map", "sock_map_update", "msg_redirect_map", "sk_select_reuseport",
                                   "map_lookup_elem"),
    MapType.BPF_MAP_TYPE_SOCKHASH: ("sk_redirect_hash", "sock_hash_update", "msg_redirect_hash",
                                    "sk_select_reuseport", "map_lookup_elem"),
}
MAP_TYPES_FOR.update({
    "sk_redirect_map": (MapType.BPF_MAP_TYPE_SOCKMAP,), "sock_map_update": (MapType.BPF_MAP_TYPE_SOCKMAP,),
    "msg_redirect_map": (MapType.BPF_MAP_TYPE_SOCKMAP,), "sk_redirect_hash": (MapType.BPF_MAP_TYPE_SOCKHASH,),
    "sock_hash_update": (MapType.BPF_MAP_TYPE_SOCKHASH,), "msg_redirect_hash": (MapType.BPF_MAP_TYPE_SOCKHASH,),
    "sk_select_reuseport": (MapType.BPF_MAP_TYPE_REUSEPORT_SOCKARRAY,) + SOCKET_MAPS,
})
SOCKMAP_UPDATERS = (ProgType.BPF_PROG_TYPE_SOCKET_FILTER, ProgType.BPF_PROG_TYPE_SCHED_CLS,
                    ProgType.BPF_PROG_TYPE_SCHED_ACT, ProgType.BPF_PROG_TYPE_XDP, ProgType.BPF_PROG_TYPE_SK_REUSEPORT,
                    ProgType.BPF_PROG_TYPE_FLOW_DISSECTOR, ProgType.BPF_PROG_TYPE_SK_LOOKUP)


def _may_update_sockmap(v, helper: str) -> bool:
    """may_update_sockmap(): only where no locked struct sock can be reached."""
    if helper not in ("map_update_elem", "map_delete_elem"):
        return False
    ptype = v.opts.prog_type
    if (ptype in SOCKMAP_UPDATERS
            or (ptype == ProgType.BPF_PROG_TYPE_TRACING and v.opts.expected_attach_type == AttachType.BPF_TRACE_ITER)
            or (ptype == ProgType.BPF_PROG_TYPE_SOCK_OPS and helper == "map_delete_elem")):
        return True
    v.log("cannot update sockmap in this context")
    return False


# Helpers whose result is a negative errno or a length within the size argument (do_refine_retval_range).
SIZED_RESULTS = ("get_stack", "get_task_stack", "probe_read_str", "probe_read_kernel_str", "probe_read_user_str")
MAX_ERRNO = 4095


def _reference_leak(state, prefix: str) -> VerifierError:
    """check_resource_leak: each lingering reference, then what would leak it; -EINVAL."""
    lines = [f"Unreleased reference id={ref} alloc_insn={at}" for ref, at in state.refs]
    return fail("\n".join([*lines, f"{prefix} would lead to reference leak"]), errno.EINVAL)


def check_call(v, pc: int, s) -> bool:
    if s.src == 1:
        return check_subprog_call(v, pc, s)
    if s.src == 2:
        return kfuncs.check_kfunc_call(v, pc, s)
    return check_helper_call(v, pc, s.imm)


def check_helper_call(v, pc: int, helper_id: int) -> bool:
    name = helper_name(helper_id)
    if name is None:
        raise fail(f"invalid func unknown#{helper_id}", errno.EINVAL)
    spec = REGISTRY.get(helper_id)
    if spec is None or spec.name in FORBIDDEN.get(v.opts.prog_type, ()):
        raise fail(f"program of this type cannot use helper {name}#{helper_id}", errno.EINVAL)
    if spec.gpl_only and not v.opts.gpl:
        raise fail("cannot call GPL-restricted function from non-GPL compatible program", errno.EINVAL)
    regs = v.cur.regs
    meta = CallMeta()
    for i, kind in enumerate(spec.args):
        regno = i + 1
        from .insns import read_reg
        reg = read_reg(v, regno)
        check = ARG_CHECKS.get(kind)
        if reg.is_pkt and kind != "ARG_ANYTHING" and not _helper_pkt_access(v, spec):
            raise fail("helper access to the packet is not allowed")
        if check is None:
            raise fail(f"helper {name}#{helper_id}: argument kind {kind} is not supported by this verifier",
                       errno.EINVAL)
        check(v, regno, reg, meta, kind)
    if meta.map is not None:
        allowed = MAP_TYPES_FOR.get(spec.name)
        mtype = meta.map.map_type
        if ((allowed and mtype not in allowed) or (mtype in SPECIAL_MAPS and spec.name not in SPECIAL_MAPS[mtype])
                or (mtype in SOCKET_MAP_HELPERS and spec.name not in SOCKET_MAP_HELPERS[mtype]
                    and not _may_update_sockmap(v, spec.name))):
            # check_map_func_compatibility's error path returns -EINVAL, not -EACCES
            raise fail(f"cannot pass map_type {mtype} into func {name}#{helper_id}", errno.EINVAL)
    if spec.name == "tail_call":
        if v.cur.refs:  # check_reference_leak(): the tail call never returns to release them
            raise _reference_leak(v.cur, "tail_call")
        if not v.capable:
            _record_tail_call_map(v, pc, meta.map)
    if spec.name == "get_local_storage":
        if not regs[2].is_const(0):
            raise fail("get_local_storage() doesn't support non-zero flags", errno.EINVAL)
        precision.mark_reg(v, 2)
    if "release" in spec.effects:
        if meta.release_regno < 0:  # check_func_arg(): the socket argument carries no reference
            regno = 1 + next((i for i, k in enumerate(spec.args) if "SOCK" in k), 0)
            raise fail(f"R{regno} must be referenced when passed to release function")
        _release(v, meta)
    if meta.callback is not None:
        _enter_callback(v, pc, spec.name, meta)
    if "changes_pkt_data" in spec.effects:
        for reg in v.cur.all_regs():
            if reg.type in (PACKET, PACKET_META, PACKET_END):
                reg.set_unknown() if v.allow_ptr_leaks else reg.set_not_init()
    for i in range(1, 6):
        regs[i].set_not_init()
    r0 = regs[0]
    if spec.ret == "RET_VOID":
        r0.set_not_init()
    elif spec.ret == "RET_INTEGER":
        r0.set_unknown()
        if spec.name in SIZED_RESULTS:  # do_refine_retval_range(): -errno or at most the buffer size
            b = r0.b
            b.smin, b.smax, b.s32_min, b.s32_max = -MAX_ERRNO, meta.msize_max, -MAX_ERRNO, meta.msize_max
            b.sync()
    else:
        base, null, flags = RETURNS[spec.ret]
        if spec.name == "map_lookup_elem" and 0 <= meta.const_map_key < meta.map.max_entries:
            null = False  # check_helper_call: an array element named by a constant key always exists
        r0.set_pointer(base, null=null, flags=flags)
        if base in (MAP_VALUE,):
            if meta.map is None:
                raise fail("kernel subsystem misconfigured verifier", errno.EINVAL)
            r0.map = meta.map
            if meta.map.map_type in SOCKET_MAPS:
                r0.set_pointer(SOCK, null=True)
        if base == MEM:
            r0.mem_size = meta.alloc_size or 0
        if base == BTF_ID:
            r0.btf_name = "task_struct"
        # check_helper_call()'s id numbering: one id for the NULL check, then one for an acquired reference
        # (which becomes the NULL-check id too), as the kernel's log numbers them.
        if null:
            r0.id = v.new_id()
        if "acquire" in spec.effects or (base == MAP_VALUE and meta.map.map_type in SOCKET_MAPS):
            r0.id = r0.ref_obj_id = v.new_id()
            v.cur.refs.append((r0.ref_obj_id, pc))
        elif "cast" in spec.effects:
            r0.ref_obj_id = meta.ref_obj_id
    v.pc = pc + 1
    return False


# may_access_direct_pkt_data() with a call's meta: these program types pass packets to pkt_access helpers.
PKT_HELPER_TYPES = (ProgType.BPF_PROG_TYPE_LWT_IN, ProgType.BPF_PROG_TYPE_LWT_OUT, ProgType.BPF_PROG_TYPE_LWT_SEG6LOCAL,
                    ProgType.BPF_PROG_TYPE_SK_REUSEPORT, ProgType.BPF_PROG_TYPE_FLOW_DISSECTOR,
                    ProgType.BPF_PROG_TYPE_CGROUP_SKB, ProgType.BPF_PROG_TYPE_SCHED_CLS, ProgType.BPF_PROG_TYPE_SCHED_ACT,
                    ProgType.BPF_PROG_TYPE_XDP, ProgType.BPF_PROG_TYPE_LWT_XMIT, ProgType.BPF_PROG_TYPE_SK_SKB,
                    ProgType.BPF_PROG_TYPE_SK_MSG)


def _helper_pkt_access(v, spec) -> bool:
    ptype = v.opts.prog_type
    if ptype == ProgType.BPF_PROG_TYPE_CGROUP_SOCKOPT:
        return True
    return ptype in PKT_HELPER_TYPES and "pkt_access" in spec.effects


def _record_tail_call_map(v, pc: int, map_info) -> None:
    """record_func_map(): an unprivileged tail call is bounded by one map's max_entries, so every
    path must pass the same prog array (the kernel refuses a poisoned one in do_misc_fixups())."""
    seen = v.tail_call_maps.setdefault(pc, map_info)
    if seen is not map_info:
        v.tail_call_maps[pc] = None


def check_tail_call_maps(v) -> None:
    for pc, map_info in sorted(v.tail_call_maps.items()):
        if map_info is None:
            raise VerifierError("tail_call abusing map_ptr", pc, errno.EINVAL)


def _release(v, meta: CallMeta) -> None:
    regno = meta.release_regno
    if regno < 0:
        raise fail("release kernel function without a referenced argument", errno.EINVAL)
    reg = v.cur.regs[regno]
    ref = reg.ref_obj_id
    if not ref:
        raise fail(f"R{regno} must be referenced when passed to release function")
    if not any(i == ref for i, _ in v.cur.refs):
        raise fail(f"invalid reference id={ref}", errno.EINVAL)
    v.cur.release_reference(ref, v.allow_ptr_leaks)


def _enter_callback(v, pc: int, helper: str, meta: CallMeta) -> None:
    """Explore the callback body as a frame of its own; its exit ends that path."""
    if len(v.cur.frames) >= MAX_CALL_FRAMES:
        raise fail(f"the call stack of {len(v.cur.frames) + 1} frames is too deep !")
    state = v.cur.copy()
    caller_regs = v.cur.regs
    frame = Frame(len(state.frames), pc, meta.callback)
    frame.callback = True
    roles = CALLBACK_ARGS.get(helper, ())
    for i, role in enumerate(roles):
        reg = frame.regs[i + 1]
        if role == "index":
            reg.set_unknown()
            reg.b.truncate(4)
        elif role == "ctx":
            reg.assign(caller_regs[3])
        elif role == "map":
            reg.set_pointer(MAP_PTR, map=meta.map)
        elif role == "key":
            reg.set_pointer(MAP_KEY, map=meta.map)
        elif role == "value":
            reg.set_pointer(MAP_VALUE, map=meta.map)
    if helper == "for_each_map_elem":
        frame.regs[4].assign(caller_regs[3])
    state.frames.append(frame)
    v.push(state, v.subprogs[meta.callback].start, pc)
    ctx = meta.callback_ctx
    if ctx is not None:
        caller = v.cur.frames[ctx.frameno]
        for slot in caller.stack:
            if slot.is_spill and slot.spilled.type == SCALAR:
                slot.spilled.set_unknown()
            slot.types = [MISC if t == ZERO else t for t in slot.types]


def check_subprog_call(v, pc: int, s) -> bool:
    """check_func_call(): a new frame for the callee, arguments in R1-R5."""
    state = v.cur
    if len(state.frames) >= MAX_CALL_FRAMES:
        raise fail(f"the call stack of {len(state.frames) + 1} frames is too deep !", errno.E2BIG)
    target = pc + s.imm + 1
    callee = v.subprog_of(target)
    err = global_funcs.check_call_args(v, callee)
    if global_funcs.is_global(v, callee):
        return global_funcs.call_global(v, pc, callee, err)
    if err is not None and err.message:
        v.log(err.message)  # a static callee's BTF did not match: noted, and its body walked as called
    caller = state.frame
    frame = Frame(len(state.frames), pc, callee)
    for i in range(1, 6):
        frame.regs[i].assign(caller.regs[i])
    for i in range(1, 6):
        caller.regs[i].set_not_init()
    state.frames.append(frame)
    v.pc = target
    return False


def check_exit(v, pc: int) -> bool:
    state = v.cur
    frame = state.frame
    if len(state.frames) > 1:
        r0 = state.regs[0]
        # Linux's prepare_func_exit: any stack pointer is refused (the caller's too, conservatively); an unset R0
        # goes back unset, and the caller fails only if it reads it.
        if r0.type == STACK:
            raise fail("cannot return stack pointer to the caller")
        if frame.callback and r0.type == NOT_INIT:
            raise fail("R0 !read_ok")
        if frame.callback:
            if r0.type != SCALAR:
                raise fail(f"At callback return the register R0 is not a known value ({r0.type_str()})")
            precision.mark_reg(v, 0)
            lo, hi = frame.callback_ret
            if r0.b.smin < lo or r0.b.smax > hi:
                raise fail(f"At callback return the register R0 has {_range_text(r0)} should have been in "
                           f"[{lo}, {hi}]")
            return True
        state.frames.pop()
        caller = state.frame
        caller.regs[0].assign(r0)
        v.pc = frame.callsite + 1
        return False
    if state.refs:
        raise _reference_leak(state, "BPF_EXIT instruction in main prog")
    r0 = state.regs[0]
    if r0.type == NOT_INIT:
        raise fail("R0 !read_ok")
    if frame.subprog:  # a global function verified on its own returns a scalar to any caller
        if r0.type != SCALAR:
            raise fail(f"At subprogram exit the register R0 is not a scalar value ({r0.type_str()})", errno.EINVAL)
        return True
    if r0.is_pointer and not v.allow_ptr_leaks:
        raise fail("R0 leaks addr as return value")
    wanted = return_range(v.opts.prog_type, v.opts.expected_attach_type)
    if wanted is not None:
        if r0.type != SCALAR:
            raise fail(f"At program exit the register R0 is not a known value ({r0.type_str()})")
        precision.mark_reg(v, 0)
        lo, hi = wanted
        if r0.b.smin < lo or r0.b.smax > hi:
            raise fail(f"At program exit the register R0 has {_range_text(r0)} should have been in [{lo}, {hi}]")
    return True


def _range_text(r0: Reg) -> str:
    b = r0.b
    parts = []
    if b.smin > -(1 << 63):
        parts.append(f"smin={b.smin}")
    if b.smax < (1 << 63) - 1:
        parts.append(f"smax={b.smax}")
    return " ".join(parts) if parts else "unknown scalar value"


def return_range(prog_type: int, attach: int) -> tuple[int, int] | None:
    """check_return_code(): the values a program of this type may return."""
    P, A = ProgType, AttachType
    if prog_type == P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR:
        if attach in (A.BPF_CGROUP_UDP4_RECVMSG, A.BPF_CGROUP_UDP6_RECVMSG, A.BPF_CGROUP_INET4_GETPEERNAME,
                      A.BPF_CGROUP_INET6_GETPEERNAME, A.BPF_CGROUP_INET4_GETSOCKNAME,
                      A.BPF_CGROUP_INET6_GETSOCKNAME, A.BPF_CGROUP_UNIX_RECVMSG, A.BPF_CGROUP_UNIX_GETPEERNAME,
                      A.BPF_CGROUP_UNIX_GETSOCKNAME):
            return 1, 1
        if attach in (A.BPF_CGROUP_INET4_BIND, A.BPF_CGROUP_INET6_BIND):
            return 0, 3
        return 0, 1
    if prog_type == P.BPF_PROG_TYPE_CGROUP_SKB:
        return (0, 3) if attach == A.BPF_CGROUP_INET_EGRESS else (0, 1)
    if prog_type in (P.BPF_PROG_TYPE_CGROUP_SOCK, P.BPF_PROG_TYPE_SOCK_OPS, P.BPF_PROG_TYPE_CGROUP_DEVICE,
                     P.BPF_PROG_TYPE_CGROUP_SYSCTL, P.BPF_PROG_TYPE_CGROUP_SOCKOPT):
        return 0, 1
    if prog_type == P.BPF_PROG_TYPE_SK_LOOKUP:
        return 0, 1
    if prog_type == P.BPF_PROG_TYPE_NETFILTER:
        return 0, 1
    return None


def check_ld_abs(v, pc: int, s) -> bool | None:
    """check_ld_abs(); in a subprogram also its hidden exit: None, or check_exit()'s verdict."""
    from .insns import read_reg
    P = ProgType
    if v.opts.prog_type not in (P.BPF_PROG_TYPE_SOCKET_FILTER, P.BPF_PROG_TYPE_SCHED_CLS,
                                P.BPF_PROG_TYPE_SCHED_ACT):
        raise fail("BPF_LD_[ABS|IND] instructions not allowed for this program type", errno.EINVAL)
    mode = s.code & 0xE0
    if s.dst or s.off or (s.code & 0x18) == 0x18 or (mode == 0x20 and s.src):
        raise fail("BPF_LD_[ABS|IND] uses reserved fields", errno.EINVAL)
    r6 = read_reg(v, 6)
    if v.cur.refs:
        raise _reference_leak(v.cur, "BPF_LD_[ABS|IND]")
    if r6.type != CTX:
        raise fail("at the time of BPF_LD_ABS|IND R6 != pointer to skb", errno.EINVAL)
    if mode == 0x40:
        read_reg(v, s.src)
    memory.check_ptr_off(r6, 6)
    regs = v.cur.regs
    for i in range(1, 6):
        regs[i].set_not_init()
    regs[0].set_unknown()
    regs[0].b.truncate(4)
    if len(v.cur.frames) > 1:
        # bpf_gen_ld_abs() leaves the subprogram with r0 = 0 when the load fails; walk that exit too.
        v.push(v.cur.copy(), pc + 1, pc)
        regs[0].b.set_const(0)
        return check_exit(v, pc)
    return None
