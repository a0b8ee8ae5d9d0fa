"""Global functions: verified once on their own, against their BTF signature.

A subprogram whose BTF FUNC has global linkage (a non-static C function) is
not walked at each call the way a static one is.  Linux (6.18) instead:

- reads its signature into argument kinds (`btf_prepare_func_args`): an int or
  enum is a scalar, a pointer to the program's context struct (or one tagged
  `arg:ctx`) is ctx, a pointer to a sized type is memory of that size that may
  be NULL unless tagged `arg:nonnull`, `arg:trusted` (maybe `arg:nullable`) is a
  trusted kernel pointer, `arg:arena` anything, `arg:untrusted` read-only;
- at each call checks the caller's registers against those kinds
  (`btf_check_func_arg_match`), then treats the call as returning an unknown
  scalar ("Func#1 ('f') is global and assumed valid.");
- after the main program, walks every global function some verified code
  called, once, from a frame whose registers are the argument kinds
  (`do_check_subprogs`: "Validating f() func#1...").

Static subprograms get the same argument check at a call, but a mismatch only
makes their BTF unreliable: their body is walked with the caller's registers.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from ..errors import PybpfError
from ..helpers import REGISTRY
from ..isa.opcodes import BPF_CALL, BPF_JMP
from ..uapi import ProgType
from . import memory
from .ctx import READ, WRITE
from .errors import VerifierError
from .regs import BTF_ID, CTX, MEM, PACKET, PACKET_END, PACKET_META, SCALAR, STACK
from .state import Frame, State

BTF_FUNC_GLOBAL = 1
MAX_BPF_FUNC_REG_ARGS = 5
# The program's context struct per type, as C names it and as the kernel does (bpf_ctx_convert,
# btf_is_projection_of); a pointer to either is a context argument without any tag.
CTX_STRUCTS = {
    ProgType.BPF_PROG_TYPE_SOCKET_FILTER: ("__sk_buff", "sk_buff"),
    ProgType.BPF_PROG_TYPE_SCHED_CLS: ("__sk_buff", "sk_buff"),
    ProgType.BPF_PROG_TYPE_SCHED_ACT: ("__sk_buff", "sk_buff"),
    ProgType.BPF_PROG_TYPE_CGROUP_SKB: ("__sk_buff", "sk_buff"),
    ProgType.BPF_PROG_TYPE_LWT_IN: ("__sk_buff", "sk_buff"),
    ProgType.BPF_PROG_TYPE_LWT_OUT: ("__sk_buff", "sk_buff"),
    ProgType.BPF_PROG_TYPE_LWT_XMIT: ("__sk_buff", "sk_buff"),
    ProgType.BPF_PROG_TYPE_LWT_SEG6LOCAL: ("__sk_buff", "sk_buff"),
    ProgType.BPF_PROG_TYPE_SK_SKB: ("__sk_buff", "sk_buff"),
    ProgType.BPF_PROG_TYPE_FLOW_DISSECTOR: ("__sk_buff", "bpf_flow_dissector"),
    ProgType.BPF_PROG_TYPE_XDP: ("xdp_md", "xdp_buff"),
    ProgType.BPF_PROG_TYPE_CGROUP_SOCK: ("bpf_sock", "sock"),
    ProgType.BPF_PROG_TYPE_CGROUP_SOCK_ADDR: ("bpf_sock_addr", "bpf_sock_addr_kern"),
    ProgType.BPF_PROG_TYPE_SOCK_OPS: ("bpf_sock_ops", "bpf_sock_ops_kern"),
    ProgType.BPF_PROG_TYPE_SK_MSG: ("sk_msg_md", "sk_msg"),
    ProgType.BPF_PROG_TYPE_KPROBE: ("pt_regs",),
    ProgType.BPF_PROG_TYPE_PERF_EVENT: ("bpf_perf_event_data", "bpf_perf_event_data_kern"),
    ProgType.BPF_PROG_TYPE_RAW_TRACEPOINT: ("bpf_raw_tracepoint_args",),
    ProgType.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE: ("bpf_raw_tracepoint_args",),
    ProgType.BPF_PROG_TYPE_CGROUP_DEVICE: ("bpf_cgroup_dev_ctx",),
    ProgType.BPF_PROG_TYPE_CGROUP_SYSCTL: ("bpf_sysctl", "bpf_sysctl_kern"),
    ProgType.BPF_PROG_TYPE_CGROUP_SOCKOPT: ("bpf_sockopt", "bpf_sockopt_kern"),
    ProgType.BPF_PROG_TYPE_SK_REUSEPORT: ("sk_reuseport_md", "sk_reuseport_kern"),
    ProgType.BPF_PROG_TYPE_SK_LOOKUP: ("bpf_sk_lookup", "bpf_sk_lookup_kern"),
    ProgType.BPF_PROG_TYPE_NETFILTER: ("bpf_nf_ctx",),
}
ARG_TAGS = ("ctx", "trusted", "untrusted", "nonnull", "nullable", "arena")
BTF_ID_EXPECTED = "ptr_, trusted_ptr_, rcu_ptr_"


@dataclass(frozen=True)
class Arg:
    """One argument as the verifier expects it (struct bpf_subprog_arg_info)."""

    kind: str  # "scalar", "ctx", "mem", "btf_id", "arena", "dynptr"
    null: bool = False  # may be NULL (PTR_MAYBE_NULL)
    size: int = 0  # mem: the bytes it points to
    btf_name: str = ""  # btf_id: the struct's name
    flags: frozenset = frozenset()  # "trusted", "untrusted", "rdonly"


class ArgsError(Exception):
    """btf_prepare_func_args() refused the signature; `logged` is what it wrote to the log (maybe nothing)."""

    def __init__(self, logged: str, code: int = errno.EINVAL) -> None:
        super().__init__(logged)
        self.logged = logged
        self.code = code


def fail(message: str, code: int = errno.EACCES) -> VerifierError:
    return VerifierError(message, None, code)


def is_global(v, subprog: int) -> bool:
    return v.opts.btf is not None and v.subprogs[subprog].linkage == BTF_FUNC_GLOBAL


def subprog_name(v, subprog: int) -> str:
    if v.opts.btf is None or subprog >= len(v.opts.func_info):
        return ""
    return v.opts.btf[v.opts.func_info[subprog][1]].name


# -- the signature --------------------------------------------------------------------
def _kind_str(t) -> str:
    """btf_type_str()."""
    return "UNKNOWN" if t.kind == "VOID" else t.kind


def _arg_tags(btf, func_id: int, index: int) -> list[str]:
    """The `arg:` decl tags on parameter `index` of FUNC `func_id`, in type id order."""
    return [t.name[4:] for t in btf.iter_types()
            if t.kind == "DECL_TAG" and t.type == func_id and t.component_idx == index and t.name.startswith("arg:")]


def _is_ctx_pointer(btf, ptr, prog_type: int) -> bool:
    """btf_is_prog_ctx_type(): a pointer to the program type's context struct (by name)."""
    target = btf[ptr.type]
    while target.kind in ("CONST", "VOLATILE", "RESTRICT", "TYPE_TAG", "TYPEDEF"):
        if target.kind == "TYPEDEF" and target.name == "bpf_user_pt_regs_t":
            return prog_type == ProgType.BPF_PROG_TYPE_KPROBE
        target = btf[target.type]
    return target.kind == "STRUCT" and target.name in CTX_STRUCTS.get(prog_type, ())


def _resolve_arg(v, btf, func, proto, i: int, glob: bool) -> Arg:
    name = func.name
    tags = _arg_tags(btf, func.id, i)
    for tag in tags:
        if not glob:
            raise ArgsError(f"arg#{i} type tag is not supported in static functions", errno.EOPNOTSUPP)
        if tag not in ARG_TAGS:
            raise ArgsError(f"arg#{i} has unsupported set of tags", errno.EOPNOTSUPP)
    tags = set(tags)
    t = btf.resolve(proto.members[i].type)
    if t.kind == "PTR":
        pointee = btf.resolve(t.type)
        kernel_name = pointee.name.split("___")[0]  # CO-RE flavours (task_struct___local) name the kernel's type
        if "ctx" in tags or _is_ctx_pointer(btf, t, v.opts.prog_type):
            if tags - {"ctx"}:
                raise ArgsError(f"arg#{i} has invalid combination of tags")
            return Arg("ctx")
        if pointee.kind == "STRUCT" and pointee.name == "bpf_dynptr":
            if tags:
                raise ArgsError(f"arg#{i} has invalid combination of tags")
            return Arg("dynptr")
        if "trusted" in tags:
            if "nonnull" in tags:
                raise ArgsError(f"arg#{i} has invalid combination of tags")
            return Arg("btf_id", null="nullable" in tags, btf_name=kernel_name, flags=frozenset({"trusted"}))
        if "untrusted" in tags:
            if tags - {"untrusted"}:
                raise ArgsError(f"arg#{i} untrusted cannot be combined with any other tags")
            if pointee.kind in ("VOID", "INT", "ENUM", "ENUM64", "FLOAT"):
                return Arg("mem", flags=frozenset({"rdonly", "untrusted"}))
            return Arg("btf_id", btf_name=kernel_name, flags=frozenset({"untrusted"}))
        if "arena" in tags:
            if tags - {"arena"}:
                raise ArgsError(f"arg#{i} arena cannot be combined with any other tags")
            return Arg("arena")
        if glob:
            if "nullable" in tags:
                raise ArgsError(f"arg#{i} has invalid combination of tags")
            try:
                size = btf.size_of(t.type)
            except PybpfError:  # (the BTF reader's ElfError: void, a forward declaration, a function)
                shown = "" if pointee.kind == "VOID" else pointee.name
                raise ArgsError(f"arg#{i} reference type('{_kind_str(pointee)} {shown}') size cannot be "
                                f"determined: -22") from None
            return Arg("mem", null="nonnull" not in tags, size=size)
    if tags:
        raise ArgsError(f"arg#{i} has pointer tag, but is not a pointer type")
    if t.kind in ("INT", "ENUM", "ENUM64"):
        return Arg("scalar")
    if not glob:
        raise ArgsError("")
    raise ArgsError(f"Arg#{i} type {_kind_str(t)} in {name}() is not supported yet.")


def prepare_func_args(v, subprog: int) -> list[Arg]:
    """btf_prepare_func_args(): the argument kinds of `subprog` from its BTF, once (cached on `v`)."""
    cached = v.func_args.get(subprog)
    if isinstance(cached, ArgsError):
        raise cached
    if cached is not None:
        return cached
    try:
        args = _prepare(v, subprog)
    except ArgsError as err:
        v.func_args[subprog] = err
        raise
    v.func_args[subprog] = args
    return args


def _prepare(v, subprog: int) -> list[Arg]:
    btf = v.opts.btf
    glob = is_global(v, subprog)
    if btf is None or subprog >= len(v.opts.func_info):
        raise ArgsError("")
    func = btf[v.opts.func_info[subprog][1]]
    proto = btf[func.type]
    if len(proto.members) > MAX_BPF_FUNC_REG_ARGS:
        if not glob:
            raise ArgsError("")
        raise ArgsError(f"Global function {func.name}() with {len(proto.members)} > {MAX_BPF_FUNC_REG_ARGS} args. "
                        "Buggy compiler.")
    ret = btf.resolve(proto.type)
    if ret.kind not in ("INT", "ENUM", "ENUM64"):
        if not glob:
            raise ArgsError("")
        raise ArgsError(f"Global function {func.name}() doesn't return scalar. Only those are supported.")
    return [_resolve_arg(v, btf, func, proto, i, glob) for i in range(len(proto.members))]


def log_main_args(v) -> None:
    """do_check_common() for the main program: its signature is read too, and what that logs is logged
    (e.g. a `void *ctx` is "arg#0 reference type('UNKNOWN ') size cannot be determined: -22")."""
    if v.opts.btf is None or not v.opts.func_info:
        return
    try:
        prepare_func_args(v, 0)
    except ArgsError as err:
        if err.logged:
            v.log(err.logged)


# -- at the call ------------------------------------------------------------------------
def check_call_args(v, subprog: int) -> VerifierError | None:
    """btf_check_subprog_call(): the caller's R1-R5 against the callee's signature; the error, or None.
    A mismatch makes the callee's BTF unreliable (a static callee is then walked without the check)."""
    if v.opts.btf is None or not v.opts.func_info:
        return fail("", errno.EINVAL)
    if subprog in v.unreliable:
        return fail("", errno.EINVAL)
    try:
        args = prepare_func_args(v, subprog)
        for i, arg in enumerate(args):
            ARG_MATCH[arg.kind](v, i, i + 1, v.cur.regs[i + 1], arg)
    except ArgsError as err:
        v.unreliable.add(subprog)
        return fail(err.logged, err.code)
    except VerifierError as err:
        v.unreliable.add(subprog)
        return err
    return None


def _match_scalar(v, i, regno, reg, arg) -> None:
    if reg.type != SCALAR:
        raise fail(f"R{regno} is not a scalar", errno.EINVAL)


def _match_ctx(v, i, regno, reg, arg) -> None:
    if reg.type == CTX:
        memory.check_ptr_off(reg, regno)
        return
    raise fail(f"arg#{i} expects pointer to ctx", errno.EINVAL)


def _match_mem(v, i, regno, reg, arg) -> None:
    """check_mem_reg(): the callee may read and write `size` bytes (so what the caller knew of them is
    forgotten); a maybe-NULL pointer is checked as if not NULL, then refused unless the argument is nullable."""
    if "untrusted" in arg.flags:
        return  # any value: the callee may only read it, through probe reads
    if reg.is_const(0):  # NULL itself: fine where the argument may be NULL
        if not arg.null:
            raise fail(f"arg#{i} is expected to be non-NULL", errno.EINVAL)
        return
    was_null = reg.null
    reg.null = False
    try:
        if reg.type == CTX:
            _ctx_mem(v, regno, reg, arg.size)
        elif reg.type == BTF_ID:  # check_ptr_to_btf_access(): the callee may write, and kernel objects are read-only
            raise fail("only read is supported")
        else:
            if reg.type == STACK:  # Linux says "read from" here (no helper meta), not "indirect access to"
                memory.stack_bounds(v, regno, reg, reg.off, arg.size, READ)
            memory.check_helper_mem(v, regno, arg.size, READ, True)
            memory.check_helper_mem(v, regno, arg.size, WRITE, True, uninit_ok=True)
    except VerifierError as err:
        raise fail(err.message, errno.EINVAL) from None
    finally:
        reg.null = was_null
    if reg.null and not arg.null:
        raise fail(f"arg#{i} is expected to be non-NULL", errno.EINVAL)


# Program types whose context has no convert_ctx_access: check_helper_mem_access() checks a context
# pointer passed as memory by accessing its last byte; elsewhere a context is not memory.
CTX_AS_MEMORY = (ProgType.BPF_PROG_TYPE_SYSCALL, ProgType.BPF_PROG_TYPE_KPROBE, ProgType.BPF_PROG_TYPE_TRACEPOINT,
                 ProgType.BPF_PROG_TYPE_RAW_TRACEPOINT, ProgType.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE,
                 ProgType.BPF_PROG_TYPE_TRACING)


def _ctx_mem(v, regno: int, reg, size: int) -> None:
    if v.opts.prog_type not in CTX_AS_MEMORY:
        raise fail(f"R{regno} type={reg.type_str()} expected=fp")
    if size:
        memory.check_mem_access(v, v.pc, regno, size - 1, 1, READ, -1)
        memory.check_mem_access(v, v.pc, regno, size - 1, 1, WRITE, -1)


def _match_btf_id(v, i, regno, reg, arg) -> None:
    if "untrusted" in arg.flags:
        return
    if reg.is_const(0) and arg.null:
        return
    if reg.type != BTF_ID or "trusted" not in reg.flags or (reg.null and not arg.null):
        raise fail(f"R{regno} type={reg.type_str()} expected={BTF_ID_EXPECTED}")
    if reg.btf_name != arg.btf_name:
        raise fail(f"R{regno} is of type {reg.btf_name} but {arg.btf_name} is expected")
    memory.check_ptr_off(reg, regno)


def _match_arena(v, i, regno, reg, arg) -> None:
    if reg.type != SCALAR:
        raise fail(f"R{regno} is not a pointer to arena or scalar.", errno.EINVAL)


def _match_dynptr(v, i, regno, reg, arg) -> None:
    raise fail(f"arg#{i}: dynptr arguments to global functions are not supported by this verifier",
               errno.EINVAL)


ARG_MATCH = {"scalar": _match_scalar, "ctx": _match_ctx, "mem": _match_mem, "btf_id": _match_btf_id,
             "arena": _match_arena, "dynptr": _match_dynptr}


def call_global(v, pc: int, subprog: int, err: VerifierError | None) -> bool:
    """check_func_call() for a global callee: the arguments matched, so it returns an unknown scalar."""
    name = subprog_name(v, subprog)
    if err is not None:
        lines = [err.message] if err.message else []
        raise fail("\n".join(lines + [f"Caller passes invalid args into func#{subprog} ('{name}')"]), err.errno)
    v.log(f"Func#{subprog} ('{name}') is global and assumed valid.")
    if _changes_pkt_data(v, subprog):
        for reg in v.cur.all_regs():
            if reg.type in (PACKET, PACKET_META, PACKET_END):
                reg.set_unknown() if v.allow_ptr_leaks else reg.set_not_init()
    v.called_globals.add(subprog)
    regs = v.cur.regs
    for i in range(1, 6):
        regs[i].set_not_init()
    regs[0].set_unknown()
    v.pc = pc + 1
    return False


def _changes_pkt_data(v, subprog: int, seen: set | None = None) -> bool:
    """A helper that moves packet data is called by `subprog` or a subprogram it calls."""
    seen = set() if seen is None else seen
    seen.add(subprog)
    sp = v.subprogs[subprog]
    for pc in range(sp.start, sp.end):
        s = v.slots[pc]
        if s.code == (BPF_JMP | BPF_CALL) and s.src == 0:
            spec = REGISTRY.get(s.imm)
            if spec is not None and "changes_pkt_data" in spec.effects:
                return True
    return any(_changes_pkt_data(v, c, seen) for c in sp.callees if c not in seen)


# -- on their own ------------------------------------------------------------------------
def check_subprogs(v) -> None:
    """do_check_subprogs(): every global function verified code called, once, until no new one is called."""
    verified: set[int] = set()
    while True:
        new = 0
        for subprog in range(1, len(v.subprogs)):
            if not is_global(v, subprog) or subprog not in v.called_globals or subprog in verified:
                continue
            _check_alone(v, subprog)
            v.log(f"Func#{subprog} ('{subprog_name(v, subprog)}') is safe for any args that match its prototype")
            verified.add(subprog)
            new += 1
        if not new:
            return


def _check_alone(v, subprog: int) -> None:
    """do_check_common() for a global function: registers from its signature, frame 0, then the walk."""
    name = subprog_name(v, subprog)
    v.log(f"Validating {name}() func#{subprog}...")
    start = v.subprogs[subprog].start
    v.pc = start
    try:
        args = prepare_func_args(v, subprog)
    except ArgsError as err:
        raise fail(err.logged, err.code) from None
    state = State()
    state.frames = [Frame(0, -1, subprog)]
    regs = state.regs
    for i in range(1, 6):
        regs[i].set_not_init()
    for i, arg in enumerate(args):
        _arg_reg(v, regs[i + 1], arg, i)
    v.cur, v.cur_cp, v.pending = state, None, []
    v.walk()


def _arg_reg(v, reg, arg: Arg, arg_index: int) -> None:
    if arg.kind == "ctx":
        reg.set_pointer(CTX)
    elif arg.kind == "mem":
        reg.set_pointer(MEM, null=arg.null, mem_size=arg.size, flags=arg.flags & {"rdonly", "untrusted"})
        if arg.null:
            reg.id = v.new_id()
    elif arg.kind == "btf_id":
        reg.set_pointer(BTF_ID, null=arg.null, btf_name=arg.btf_name, flags=arg.flags)
        reg.id = v.new_id()
    elif arg.kind in ("scalar", "arena"):
        reg.set_unknown()
    else:
        raise fail(f"arg#{arg_index}: dynptr arguments to global functions are not supported by this verifier",
                   errno.EINVAL)
