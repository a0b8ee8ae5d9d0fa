"""Attach a loaded program to a target of the real kernel: `attach(kernel, prog_fd, target, **options)`.

Targets are spelled as for the virtual kernel (and bpftrace's probes):

    tracepoint:CATEGORY:NAME        perf tracepoint event + BPF_LINK_CREATE (SET_BPF ioctl as a fallback)
    raw_tracepoint:NAME             BPF_RAW_TRACEPOINT_OPEN
    uprobe:PATH:SYMBOL[+OFF]        uprobe PMU (pid= option); uretprobe: likewise
    usdt:PATH:PROVIDER:NAME         uprobe on each stapsdt site; semaphores raised in pid=; with
                                    layout_cookies=True each site's cookie is its argument layout's index
    software:EVENT:PERIOD           perf software event on every CPU (cpu-clock, page-faults...)
    hardware:EVENT:PERIOD           perf hardware event, where this machine has a PMU
    profile:hz:N / profile:N        cpu-clock at N Hz on every CPU
    interval:hz:N / interval:ms:N   cpu-clock on one CPU
    kprobe:FUNC / kretprobe:FUNC    kprobe PMU
    fentry:FUNC / fexit:FUNC        needs BTF trampolines

The returned `Link` owns every fd it made (perf events, links); `close()`
releases them all (and lowers USDT semaphores).  Every live link is in
`LINKS`, closed at interpreter exit and, after `install_signal_handlers()`,
on SIGINT/SIGTERM, so nothing of ours stays attached.
"""

from __future__ import annotations

import atexit
import ctypes
import errno
import os
import signal
import weakref

from ...errors import PybpfError
from ...uapi import BpfCmd
from . import perf
from .syscall import KernelError, bpf

u32, u64 = ctypes.c_uint32, ctypes.c_uint64
BPF_PERF_EVENT = 41  # enum bpf_attach_type


class AttachError(PybpfError):
    """A target that cannot be attached here: what is missing and why."""


class LinkCreateAttr(ctypes.Structure):
    """BPF_LINK_CREATE for perf events (bpf_attr.link_create with its perf_event member)."""

    _fields_ = [("prog_fd", u32), ("target_fd", u32), ("attach_type", u32), ("flags", u32),
                ("bpf_cookie", u64)]


class RawTracepointAttr(ctypes.Structure):
    """BPF_RAW_TRACEPOINT_OPEN."""

    _fields_ = [("name", u64), ("prog_fd", u32), ("_pad", u32), ("cookie", u64)]


LINKS: "weakref.WeakSet[Link]" = weakref.WeakSet()


class Link:
    """What one attach made: `fds` (perf events and bpf links), closed together by `close()`."""

    def __init__(self, target: str, fds: list[int] | None = None):
        self.target, self.fds = target, list(fds or [])
        self._undo: list = []  # callables run on close (USDT semaphores)
        LINKS.add(self)

    def close(self) -> None:
        fds, self.fds = self.fds, []
        for fd in reversed(fds):
            try:
                os.close(fd)
            except OSError:
                pass
        undo, self._undo = self._undo, []
        for action in undo:
            try:
                action()
            except (OSError, PybpfError):  # the process is gone, or no longer maps the binary
                pass
        LINKS.discard(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"Link({self.target!r}, fds={self.fds})"


def close_all() -> None:
    """Close every live link (at exit, or from a signal handler)."""
    for link in list(LINKS):
        link.close()


atexit.register(close_all)


def install_signal_handlers(signals=(signal.SIGINT, signal.SIGTERM)) -> None:
    """On these signals close every link first, then do what the signal did before."""
    for sig in signals:
        previous = signal.getsignal(sig)

        def handler(signum, frame, previous=previous):
            close_all()
            if callable(previous):
                previous(signum, frame)
            elif previous == signal.SIG_DFL:
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)
        signal.signal(sig, handler)


# -- perf event fds to links --------------------------------------------------

def _bind_perf(link: Link, prog_fd: int, event_fd: int, cookie: int = 0) -> None:
    """Attach prog to a perf event through BPF_LINK_CREATE (a link with an id), else the SET_BPF ioctl."""
    link.fds.append(event_fd)
    try:
        link.fds.append(bpf(BpfCmd.BPF_LINK_CREATE, LinkCreateAttr(prog_fd=prog_fd, target_fd=event_fd,
                                                                    attach_type=BPF_PERF_EVENT,
                                                                    bpf_cookie=cookie)))
    except KernelError as err:
        if err.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, 524):
            raise
        perf.set_bpf(event_fd, prog_fd)


# The program type each kind of target runs, for the message when the kernel refuses another.
PROG_TYPE_FOR = {"tracepoint": "BPF_PROG_TYPE_TRACEPOINT", "uprobe": "BPF_PROG_TYPE_KPROBE",
                 "uretprobe": "BPF_PROG_TYPE_KPROBE", "usdt": "BPF_PROG_TYPE_KPROBE",
                 "kprobe": "BPF_PROG_TYPE_KPROBE", "kretprobe": "BPF_PROG_TYPE_KPROBE",
                 "software": "BPF_PROG_TYPE_PERF_EVENT", "hardware": "BPF_PROG_TYPE_PERF_EVENT",
                 "profile": "BPF_PROG_TYPE_PERF_EVENT", "interval": "BPF_PROG_TYPE_PERF_EVENT",
                 "raw_tracepoint": "BPF_PROG_TYPE_RAW_TRACEPOINT"}


def _wrong_type(link: Link, err: OSError) -> AttachError:
    kind = link.target.split(":")[0]
    need = PROG_TYPE_FOR.get(kind, "another program type")
    return AttachError(f"{link.target}: the kernel refused the program ({errno.errorcode.get(err.errno)}): "
                       f"{kind} targets run {need} programs; is the program of that type?")


def _attach_events(link: Link, prog_fd: int, attrs_cpus, cookie: int = 0) -> Link:
    try:
        for attr, pid, cpu in attrs_cpus:
            event_fd = perf.perf_event_open(attr, pid, cpu, what=f"attach {link.target}")
            try:
                _bind_perf(link, prog_fd, event_fd, cookie)
            except (perf.PerfError, KernelError) as err:
                if err.errno == errno.EINVAL:
                    raise _wrong_type(link, err) from None
                raise
    except BaseException:
        link.close()
        raise
    return link


# -- one function per target kind ---------------------------------------------

def _tracepoint(link, prog_fd, args, options):
    from .tracefs import tracepoint_id
    if len(args) != 2:
        raise AttachError(f"{link.target}: expected tracepoint:CATEGORY:NAME")
    attr = perf.PerfEventAttr(type=perf.PERF_TYPE_TRACEPOINT, config=tracepoint_id(*args), sample_period=1,
                              wakeup_events=1)
    return _attach_events(link, prog_fd, [(attr, -1, 0)], options.get("cookie", 0))


def _raw_tracepoint(link, prog_fd, args, options):
    if len(args) != 1:
        raise AttachError(f"{link.target}: expected raw_tracepoint:NAME")
    name = ctypes.create_string_buffer(args[0].encode())
    try:
        link.fds.append(bpf(BpfCmd.BPF_RAW_TRACEPOINT_OPEN, RawTracepointAttr(name=ctypes.addressof(name),
                                                                             prog_fd=prog_fd)))
    except KernelError as err:
        if err.errno == errno.ENOENT:
            raise AttachError(f"{link.target}: no raw tracepoint {args[0]!r} in this kernel") from None
        if err.errno == errno.EINVAL:
            raise _wrong_type(link, err) from None
        raise
    return link


def _probe_pmu(name: str, target: str) -> int:
    kind = perf.pmu_type(name)
    if kind is None:
        raise AttachError(f"{target}: this kernel has no {name} PMU (/sys/bus/event_source/devices/{name} is "
                          f"missing: built without CONFIG_{name.upper()}_EVENTS?)")
    return kind


def _uprobe_events(link, prog_fd, path: str, offset: int, retprobe: bool, pid: int | None, cookie: int = 0):
    kind = _probe_pmu("uprobe", link.target)
    cpath = ctypes.create_string_buffer(path.encode())
    link._keep = getattr(link, "_keep", []) + [cpath]  # the kernel copies it, but only during the call
    attr = perf.PerfEventAttr(type=kind, config=1 if retprobe else 0, config1=ctypes.addressof(cpath),
                              config2=offset, sample_period=1, wakeup_events=1)
    pid, cpu = (pid, -1) if pid is not None and pid >= 0 else (-1, 0)
    return _attach_events(link, prog_fd, [(attr, pid, cpu)], cookie)


def _uprobe(link, prog_fd, args, options, retprobe=False):
    from .uprobe import resolve_binary, symbol_offset
    if len(args) != 2:
        raise AttachError(f"{link.target}: expected {'uretprobe' if retprobe else 'uprobe'}:PATH:SYMBOL[+OFF]")
    path = resolve_binary(args[0], options.get("pid"))
    return _uprobe_events(link, prog_fd, path, symbol_offset(path, args[1]), retprobe, options.get("pid"),
                          options.get("cookie", 0))


def _usdt(link, prog_fd, args, options):
    from . import usdt
    from .uprobe import resolve_binary
    if len(args) == 2:
        args = [args[0], "", args[1]]
    if len(args) != 3:
        raise AttachError(f"{link.target}: expected usdt:PATH:PROVIDER:NAME")
    pid = options.get("pid")
    path = resolve_binary(args[0], pid)
    sites = usdt.find_probe(path, args[1], args[2])
    layouts = usdt.layouts(sites)
    for probe in sites:
        if probe.semaphore and pid is not None:
            usdt.adjust_semaphore(pid, path, probe, +1)
            link._undo.append(lambda probe=probe: usdt.adjust_semaphore(pid, path, probe, -1))
        link.probes = getattr(link, "probes", []) + [probe]
        # layout_cookies: each site's cookie says which argument layout the program reads
        cookie = layouts.index(probe.args) if options.get("layout_cookies") else options.get("cookie", 0)
        _uprobe_events(link, prog_fd, path, probe.offset, False, pid, cookie)
    return link


def _every_cpu(kind: int, config: int, *, period: int = 0, freq: int = 0, cpus=None):
    for cpu in cpus if cpus is not None else perf.online_cpus():
        attr = perf.PerfEventAttr(type=kind, config=config, sample_period=freq or period,
                                  flags=perf.ATTR_FREQ if freq else 0, wakeup_events=1)
        yield attr, -1, cpu


def _software(link, prog_fd, args, options, kind=perf.PERF_TYPE_SOFTWARE, table=perf.SOFTWARE_EVENTS):
    if not args or args[0] not in table:
        raise AttachError(f"{link.target}: unknown event (known: {', '.join(sorted(table))})")
    period = int(args[1]) if len(args) > 1 and args[1] else (1 if kind == perf.PERF_TYPE_SOFTWARE else 1000000)
    try:
        return _attach_events(link, prog_fd, list(_every_cpu(kind, table[args[0]], period=period)))
    except perf.PerfError as err:
        if kind == perf.PERF_TYPE_HARDWARE and err.errno in (errno.ENOENT, errno.ENODEV, errno.EOPNOTSUPP):
            raise AttachError(f"{link.target}: this machine has no hardware PMU for {args[0]} "
                              f"(a virtual machine without a virtual PMU?): {err}") from None
        raise


def _hardware(link, prog_fd, args, options):
    return _software(link, prog_fd, args, options, perf.PERF_TYPE_HARDWARE, perf.HARDWARE_EVENTS)


_UNIT_NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


def _timer(link, prog_fd, args, options, cpus):
    if len(args) == 1:
        args = ["hz", args[0]]
    if len(args) != 2 or not args[1].isdigit() or int(args[1]) <= 0 or (args[0] != "hz" and args[0] not in _UNIT_NS):
        raise AttachError(f"{link.target}: expected {link.target.split(':')[0]}:hz|s|ms|us|ns:N")
    unit, count = args[0], int(args[1])
    spec = dict(freq=count) if unit == "hz" else dict(period=count * _UNIT_NS[unit])
    return _attach_events(link, prog_fd, list(_every_cpu(perf.PERF_TYPE_SOFTWARE, perf.PERF_COUNT_SW_CPU_CLOCK,
                                                         cpus=cpus, **spec)))


def _profile(link, prog_fd, args, options):
    return _timer(link, prog_fd, args, options, None)


def _interval(link, prog_fd, args, options):
    return _timer(link, prog_fd, args, options, [options.get("cpu", perf.online_cpus()[0])])


def _kprobe(link, prog_fd, args, options, retprobe=False):
    kind = perf.pmu_type("kprobe")
    if kind is None:
        raise AttachError(f"{link.target}: this kernel has no kprobes (no kprobe PMU in "
                          "/sys/bus/event_source/devices; built without CONFIG_KPROBE_EVENTS): "
                          "use a tracepoint or raw_tracepoint instead")
    if len(args) != 1:
        raise AttachError(f"{link.target}: expected kprobe:FUNC[+OFF]")
    func, _, off = args[0].partition("+")
    cfunc = ctypes.create_string_buffer(func.encode())
    link._keep = [cfunc]
    attr = perf.PerfEventAttr(type=kind, config=1 if retprobe else 0, config1=ctypes.addressof(cfunc),
                              config2=int(off, 0) if off else 0, sample_period=1, wakeup_events=1)
    return _attach_events(link, prog_fd, [(attr, -1, 0)])


def _fentry(link, prog_fd, args, options):
    raise AttachError(f"{link.target}: fentry/fexit programs are loaded against the target's BTF id and attach "
                      "through BPF trampolines; this kernel refuses them (EPERM: no trampoline support here), "
                      "use a tracepoint or raw_tracepoint instead")


ATTACHERS = {
    "tracepoint": _tracepoint, "t": _tracepoint,
    "raw_tracepoint": _raw_tracepoint, "rawtracepoint": _raw_tracepoint, "rt": _raw_tracepoint,
    "uprobe": _uprobe, "u": _uprobe,
    "uretprobe": lambda *a: _uprobe(*a, retprobe=True), "ur": lambda *a: _uprobe(*a, retprobe=True),
    "usdt": _usdt, "U": _usdt,
    "software": _software, "s": _software,
    "hardware": _hardware, "h": _hardware,
    "profile": _profile, "p": _profile,
    "interval": _interval, "i": _interval,
    "kprobe": _kprobe, "k": _kprobe,
    "kretprobe": lambda *a: _kprobe(*a, retprobe=True), "kr": lambda *a: _kprobe(*a, retprobe=True),
    "fentry": _fentry, "fexit": _fentry, "f": _fentry, "fr": _fentry,
}


def split_target(target: str) -> tuple[str, list[str]]:
    """"uprobe:/bin/bash:readline" -> ("uprobe", ["/bin/bash", "readline"])."""
    kind, _, rest = target.partition(":")
    return kind, rest.split(":") if rest else []


def attach(kernel, prog_fd: int, target: str, **options) -> Link:
    """Attach prog_fd to target; the Link owns everything made.  `kernel` is unused beyond the protocol's shape."""
    kind, args = split_target(target)
    attacher = ATTACHERS.get(kind)
    if attacher is None:
        raise AttachError(f"{target}: unknown probe type {kind!r} (known: {', '.join(sorted(k for k in ATTACHERS if len(k) > 2))})")
    return attacher(Link(target), prog_fd, args, options)
