#!/usr/bin/env python3
"""Replay the Linux verifier's own selftests through pybpf's verifier.

The corpus (../shared/corpus/kernel_verifier) holds the test_verifier tests
(corpus.json) and the verifier_*.c programs (progs_corpus.json), and what
the 6.18 kernel did with each (kernel-6.18-*.json).  For every test the
kernel ran, this compares our verdict with the kernel's, checks the
expected log substrings, and counts unsafe accepts (the kernel rejected,
we accepted).

With --retvals every test with BPF_PROG_TEST_RUN return values that both
verifiers accept is also run on pybpf's reference interpreter (a
VirtualKernel with the selftest's maps) and its return values compared with
the kernel's; --by-cause groups the disagreements per file by message.

usage: verifier_corpus.py [CORPUS_DIR] [--mode priv|unpriv|all] [--only SUBSTR] [--retvals] [--by-cause]
                          [-v] [--show N]
"""

from __future__ import annotations

import argparse
import functools
import json
import struct
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pybpf.elf.btf import Btf
from pybpf.uapi import MapType
from pybpf.verifier import MapInfo, verify

VMLINUX = "/sys/kernel/btf/vmlinux"
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "kernel_verifier"
# test_verifier's map fixtures (tools/load_kernel.py MapFactory): kind -> (type, key, value, entries, flags).
FIXTURES = {
    "map_hash_8b": (MapType.BPF_MAP_TYPE_HASH, 8, 8, 1, 1),
    "map_hash_48b": (MapType.BPF_MAP_TYPE_HASH, 8, 48, 1, 1),
    "map_hash_16b": (MapType.BPF_MAP_TYPE_HASH, 8, 16, 1, 1),
    "map_array_48b": (MapType.BPF_MAP_TYPE_ARRAY, 4, 48, 1, 0),
    "map_array_ro": (MapType.BPF_MAP_TYPE_ARRAY, 4, 48, 1, 1 << 7),
    "map_array_wo": (MapType.BPF_MAP_TYPE_ARRAY, 4, 48, 1, 1 << 8),
    "map_array_small": (MapType.BPF_MAP_TYPE_ARRAY, 4, 1, 1, 0),
    "prog1": (MapType.BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, 0),
    "prog2": (MapType.BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 8, 0),
    "map_in_map": (MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 1, 0),
    "cgroup_storage": (MapType.BPF_MAP_TYPE_CGROUP_STORAGE, 16, 64, 0, 0),
    "percpu_cgroup_storage": (MapType.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE, 16, 64, 0, 0),
    "map_sockmap": (MapType.BPF_MAP_TYPE_SOCKMAP, 4, 4, 1, 0),
    "map_sockhash": (MapType.BPF_MAP_TYPE_SOCKHASH, 4, 4, 1, 0),
    "map_xskmap": (MapType.BPF_MAP_TYPE_XSKMAP, 4, 4, 1, 0),
    "map_stacktrace": (MapType.BPF_MAP_TYPE_STACK_TRACE, 4, 8, 1, 0),
    "map_spin_lock": (MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0),
    "sk_storage_map": (MapType.BPF_MAP_TYPE_SK_STORAGE, 4, 8, 0, 1),
    "map_event_output": (MapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 1, 0),
    "map_reuseport_array": (MapType.BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, 4, 8, 1, 0),
    "map_ringbuf": (MapType.BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0),
    "map_timer": (MapType.BPF_MAP_TYPE_ARRAY, 4, 16, 1, 0),
    "map_kptr": (MapType.BPF_MAP_TYPE_ARRAY, 4, 24, 1, 0),
}
BPF_F_STRICT_ALIGNMENT = 1
BPF_F_SLEEPABLE = 16


@dataclass
class Outcome:
    name: str
    file: str
    mode: str
    kernel_loaded: bool
    accepted: bool
    errstr_ok: bool
    log: str

    @property
    def agrees(self) -> bool:
        return self.kernel_loaded == self.accepted

    @property
    def unsafe_accept(self) -> bool:
        return self.accepted and not self.kernel_loaded


def in_order(log: str, pieces: list[str]) -> bool:
    at = 0
    for piece in pieces:
        found = log.find(piece, at)
        if found < 0:
            return False
        at = found + len(piece)
    return True


SPECIAL_STRUCTS = ("bpf_spin_lock", "bpf_res_spin_lock", "bpf_timer", "bpf_wq", "bpf_list_head", "bpf_rb_root",
                   "bpf_refcount", "bpf_task_work")


def value_fields(btf: Btf, type_id: int) -> tuple[dict | None, dict | None]:
    """A map value's special fields from its BTF (btf_parse_fields, top-level members only): kptrs (a pointer
    member whose pointee is tagged "kptr" or "kptr_untrusted") and lock/timer structs."""
    kptrs, fields = {}, {}
    value = btf.resolve(type_id)
    if value.kind not in ("STRUCT", "UNION"):
        return None, None
    for member in value.members:
        member_type = btf.resolve(member.type)
        off = member.offset // 8
        if member_type.kind == "STRUCT" and member_type.name in SPECIAL_STRUCTS:
            fields[off] = member_type.name
        elif member_type.kind == "PTR":
            tagged = btf[member_type.type]
            while tagged.kind in ("TYPE_TAG", "CONST", "VOLATILE", "RESTRICT"):
                if tagged.kind == "TYPE_TAG" and tagged.name in ("kptr", "kptr_untrusted"):
                    kptrs[off] = (tagged.name, btf.resolve(tagged.type).name)
                    break
                tagged = btf[tagged.type]
    return kptrs or None, fields or None


def _fixture(kind: str, fd: int) -> MapInfo:
    mtype, key, value, entries, flags = FIXTURES[kind]
    info = MapInfo(mtype, key, value, entries, flags, fd=fd)
    if kind == "map_in_map":
        info.inner = MapInfo(MapType.BPF_MAP_TYPE_ARRAY, 4, 4, 1)
    if kind in ("map_spin_lock", "map_timer"):  # test_verifier.c's struct val / struct timer
        info.fields = {0: "bpf_spin_lock" if kind == "map_spin_lock" else "bpf_timer"}
    if kind == "map_kptr":  # test_verifier.c's struct btf_ptr
        info.kptrs = {0: ("kptr_untrusted", "prog_test_ref_kfunc"), 8: ("kptr", "prog_test_ref_kfunc"),
                      16: ("kptr", "prog_test_member")}
    return info


@dataclass
class Case:
    """One corpus test as the kernel loaded it in one mode."""

    name: str
    file: str
    code: bytes
    prog_type: int
    attach: int
    strict: bool
    maps: dict
    kernel_loaded: bool
    pieces: list[str]
    sleepable: bool = False
    btf: Btf | None = None
    func_info: tuple = ()
    kernel_btf: Btf | None = None  # this machine's vmlinux BTF, for the kfuncs a test calls
    fixups: dict = field(default_factory=dict)  # corpus.json: fixture kind -> insn indexes (for running it)
    runs: list = field(default_factory=list)  # [(data, expected retval, the 6.18 kernel's retval)]
    map_init: dict = field(default_factory=dict)  # map fd -> (fixture kind or "", initial value of key 0 or None)


def old_style(directory: Path, mode: str):
    """corpus.json tests the kernel ran in `mode`, with what the kernel did."""
    corpus = json.loads((directory / "corpus.json").read_text())
    kernel = {r["index"]: r for r in json.loads((directory / f"kernel-6.18-{mode}.json").read_text())["results"]}
    for test in corpus["tests"]:
        result = kernel.get(test["index"])
        if result is None or result.get("status") == "SKIP" or "loaded" not in result:
            continue
        if test.get("insns_file"):
            continue
        code = bytearray(b"".join(bytes.fromhex(h) for h in test["insns"]))
        maps = {}
        map_init = {}
        for n, (kind, pcs) in enumerate(test["fixups"].items()):
            info = _fixture(kind, 100 + n)
            map_init[info.fd] = (kind, None)
            for pc in pcs:
                struct.pack_into("<i", code, pc * 8 + 4, info.fd)
                maps[pc] = info
        expect = test["expect_unpriv" if mode == "unpriv" else "expect_priv"]
        pieces = expect["errstr"].split("\t") if expect.get("errstr") else []
        runs = []
        if result["loaded"] and result.get("retvals") and test.get("retval_checked"):
            key = "retval_unpriv" if mode == "unpriv" else "retval"
            for run, got in zip(test["retvals"], result["retvals"]):
                runs.append((bytes.fromhex(run.get("data_hex") or "") or bytes(64), run.get(key, got), got))
        yield Case(test["name"], "corpus.json", bytes(code), test["prog_type_effective"],
                   test.get("expected_attach_type", 0), bool(test["flags"] & 2), maps, result["loaded"], pieces,
                   sleepable=bool(test["flags"] & BPF_F_SLEEPABLE), fixups=test["fixups"], runs=runs,
                   map_init=map_init)


@functools.cache
def vmlinux():
    """This machine's kernel BTF and its FUNC ids by name, or None where /sys/kernel/btf/vmlinux is missing."""
    try:
        btf = Btf.parse(Path(VMLINUX).read_bytes())
    except OSError:
        return None
    return btf, {t.name: t.id for t in btf.iter_types() if t.kind == "FUNC"}


def new_style(directory: Path, mode: str):
    """progs_corpus.json tests the kernel ran in `mode`."""
    corpus = json.loads((directory / "progs_corpus.json").read_text())
    kernel = {r["index"]: r for r in
              json.loads((directory / f"kernel-6.18-progs-{mode}.json").read_text())["results"]}
    btfs: dict[str, Btf | None] = {}
    for test in corpus["tests"]:
        result = kernel.get(test["index"])
        if result is None or result.get("status") == "SKIP" or "loaded" not in result:
            continue
        obj = corpus["objects"][test["file"]]
        if test["file"] not in btfs:
            btfs[test["file"]] = Btf.parse(bytes.fromhex(obj["btf_hex"])) if obj.get("btf_hex") else None
        infos: dict[str, MapInfo] = {}
        maps = {}
        map_init = {}
        for ref in test.get("map_refs", []):
            name = ref["map"]
            if name not in infos:
                spec = obj["maps"][name]
                info = MapInfo(spec["type"], spec["key_size"], spec["value_size"], spec["max_entries"],
                               spec.get("map_flags", 0), name=name[:15] if not name.startswith(".") else "",
                               frozen=bool(spec.get("freeze")), fd=100 + len(infos))
                if spec.get("freeze") and spec.get("init_hex") is not None:
                    info.values = bytes.fromhex(spec["init_hex"])
                if spec.get("inner"):
                    inner = spec["inner"]
                    info.inner = MapInfo(inner.get("type"), inner.get("key_size", 4), inner.get("value_size", 4),
                                         inner.get("max_entries", 1), inner.get("map_flags", 0))
                if btfs[test["file"]] is not None and spec.get("value_type_id"):
                    info.kptrs, info.fields = value_fields(btfs[test["file"]], spec["value_type_id"])
                infos[name] = info
                init = bytes.fromhex(spec["init_hex"]) if spec.get("init_hex") is not None else None
                kind = "prog_array_slots" if spec.get("init_slots") or spec.get("inner") else ""
                if (test["file"], name) in TEST_VAL_MAPS:
                    kind = "map_array_48b"
                map_init[info.fd] = (kind, init)
            maps[ref["insn"]] = infos[name]
        code = bytearray(b"".join(bytes.fromhex(h) for h in test["insns"]))
        for pc, info in maps.items():
            struct.pack_into("<i", code, pc * 8 + 4, info.fd)
        kfuncs = vmlinux() if test.get("kfunc_refs") else None
        for ref in test.get("kfunc_refs") or ():  # as libbpf resolves them: the FUNC's id in vmlinux BTF
            struct.pack_into("<i", code, ref["insn"] * 8 + 4, kfuncs[1].get(ref["name"], 0) if kfuncs else 0)
        code = bytes(code)
        spec = test["spec"][mode]
        runs = []
        if result["loaded"] and result.get("retval") is not None and spec.get("retval") is not None:
            runs.append((bytes(64), spec["retval"], result["retval"]))
        yield Case(test["name"], "progs_corpus.json", code, test["prog_type"], test.get("expected_attach_type", 0),
                   bool(test["spec"]["flags_set"] & BPF_F_STRICT_ALIGNMENT), maps, result["loaded"],
                   spec.get("msgs") or [], sleepable=bool(test.get("sec_flags", 0) & BPF_F_SLEEPABLE),
                   btf=btfs[test["file"]], func_info=tuple(tuple(f) for f in test.get("func_info") or ()),
                   kernel_btf=kfuncs[0] if kfuncs else None,
                   runs=runs, map_init=map_init)


def cases(directory: Path = DEFAULT_DIR, modes=("priv", "unpriv"), only: str = ""):
    for mode in modes:
        for source in (old_style, new_style):
            for case in source(directory, mode):
                if not only or only in case.name:
                    yield mode, case


def check(case: Case, mode: str, limit: int = 1_000_000):
    return verify(case.code, case.prog_type, maps=case.maps, privileged=mode == "priv", log_level=1,
                  expected_attach_type=case.attach, strict_alignment=case.strict, complexity_limit=limit,
                  sleepable=case.sleepable, btf=case.btf, func_info=case.func_info, kernel_btf=case.kernel_btf)


def replay(directory: Path = DEFAULT_DIR, modes=("priv", "unpriv"), only: str = "",
           limit: int = 1_000_000) -> list[Outcome]:
    outcomes = []
    for mode, case in cases(directory, modes, only):
        result = check(case, mode, limit)
        errstr_ok = not case.pieces or in_order(result.log, case.pieces)
        outcomes.append(Outcome(case.name, case.file, mode, case.kernel_loaded, result.accepted, errstr_ok,
                                result.log))
    return outcomes


# -- return values on the reference interpreter ----------------------------------------
POINTER_VALUE = 0xCAFE4A  # test_verifier's "any pointer": not compared
# test_verifier's map_array_48b element 0: index = 28, foo[6] = 0xabcdef12 (tools/load_kernel.py TEST_VAL).
TEST_VAL = struct.pack("<I11i", 7 * 4, 0, 0, 0, 0, 0, 0, 0xABCDEF12 - (1 << 32), 0, 0, 0, 0)
PROG_ARRAY_KEYS = {"prog1": (0, 1, 2), "prog2": (7, 1, 2)}
# prog_tests/verifier.c's init_test_val_map(): the test_progs maps that hold TEST_VAL too.
TEST_VAL_MAPS = {("verifier_array_access.c", "map_array_ro"), ("verifier_value_ptr_arith.c", "map_array_48b")}


@dataclass
class RunOutcome:
    name: str
    file: str
    mode: str
    status: str  # "agree", "differ", or "skip"
    why: str = ""


def _tail_call_targets(kernel, kind: str, prog_type: int, map_fd: int) -> None:
    """create_prog_array(): "return 42", a tail call to key p2 then "return 41", and "return 24"."""
    from pybpf.isa import encode
    from pybpf.isa.asm import assemble
    p1, p2, p3 = PROG_ARRAY_KEYS[kind]
    simple = lambda value: encode(assemble(f"r0 = {value}\nexit"))  # noqa: E731
    loop = bytearray(encode(assemble(f"r3 = {p2}\nr2 = 0 ll\ncall 12\nr0 = 41\nexit")))
    loop[8 + 1] |= 1 << 4  # the lddw becomes BPF_LD_MAP_FD of the prog array
    struct.pack_into("<i", loop, 8 + 4, map_fd)
    for key, code in zip((p1, p2, p3), (simple(42), bytes(loop), simple(24))):
        fd = kernel.prog_load(prog_type, code).fd
        kernel.map_update(map_fd, struct.pack("<i", key), struct.pack("<i", fd))


def run_case(case: Case, mode: str) -> RunOutcome:
    """Load an accepted test into a VirtualKernel (maps as the selftest creates them) and compare each
    BPF_PROG_TEST_RUN return value with the 6.18 kernel's."""
    from pybpf.kernel.errors import BpfError
    from pybpf.kernel.virtual import VirtualKernel
    from pybpf.errors import PybpfError

    out = RunOutcome(case.name, case.file, mode, "skip")
    kernel = VirtualKernel()
    code = bytearray(case.code)
    fds: dict[int, int] = {}
    try:
        for pc, info in sorted(case.maps.items()):
            if info.fd not in fds:
                kind, init = case.map_init.get(info.fd, ("", None))
                if kind == "prog_array_slots":
                    out.why = "prog array or map-in-map contents from the object"
                    return out
                inner = 0
                if info.inner is not None:
                    inner = kernel.map_create(info.inner.map_type, info.inner.key_size, info.inner.value_size,
                                              info.inner.max_entries)
                fd = kernel.map_create(info.map_type, info.key_size, info.value_size, info.max_entries,
                                       info.flags & ~((1 << 7) | (1 << 8)), inner_map_fd=inner)
                fds[info.fd] = fd
                if kind in ("map_array_48b", "map_array_ro", "map_array_wo", "map_array_small"):
                    kernel.map_update(fd, bytes(4), TEST_VAL[:info.value_size])
                elif kind in PROG_ARRAY_KEYS:
                    _tail_call_targets(kernel, kind, case.prog_type, fd)
                elif init is not None and info.max_entries == 1:
                    kernel.map_update(fd, bytes(4), init)
            struct.pack_into("<i", code, pc * 8 + 4, fds[info.fd])
        loaded = kernel.prog_load(case.prog_type, bytes(code), expected_attach_type=case.attach)
    except (BpfError, PybpfError, KeyError, ValueError) as err:
        text = str(err)
        if "read before it is" in text or "read only" in text:
            out.why = "the virtual kernel's load check refuses a read in dead code"
        elif "is not supported by the v" in text:
            out.why = "map type not supported by the virtual kernel"
        else:
            out.why = f"setup: {type(err).__name__}: {text[:80]}"
        return out
    for data, want, got in case.runs:
        if got == "notrun" or want == POINTER_VALUE:
            continue
        try:
            if case.prog_type in (31, 17):  # syscall, raw tracepoint: a context, no packet
                retval = kernel.prog_test_run(loaded.fd).retval
            else:
                retval = kernel.prog_test_run(loaded.fd, data).retval
        except BpfError as err:
            out.why = f"test_run: {str(err)[:80]}"
            return out
        except PybpfError as err:
            if "is not implemented" in str(err):
                out.why = "helper not implemented by the virtual kernel"
            else:
                out.status, out.why = "differ", f"fault: {str(err)[:100]}"
            return out
        if retval != got & 0xFFFFFFFF:
            out.status, out.why = "differ", f"retval {retval} != {got & 0xFFFFFFFF}"
            return out
        out.status = "agree"
    if out.status == "skip" and not out.why:
        out.why = "no retval to compare (pointer value or not run)"
    return out


def run_retvals(directory: Path = DEFAULT_DIR, modes=("priv", "unpriv"), only: str = "",
                limit: int = 1_000_000) -> list[RunOutcome]:
    """run_case() for every test with return values that both the kernel and pybpf's verifier accept."""
    outcomes = []
    for mode, case in cases(directory, modes, only):
        if case.runs and check(case, mode, limit).accepted:
            outcomes.append(run_case(case, mode))
    return outcomes


def _pct(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / max(whole, 1):.1f}%)"


def summary(outcomes: list[Outcome], runs: list[RunOutcome] | None = None) -> list[str]:
    """One line per (file, mode): verdicts, unsafe accepts, log substrings and, given runs, retvals."""
    lines = []
    groups: dict[tuple[str, str], list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault((o.file, o.mode), []).append(o)
    for (file, mode), group in sorted(groups.items()):
        n = len(group)
        agree = sum(o.agrees for o in group)
        rejects = [o for o in group if not o.kernel_loaded]
        unsafe = sum(o.unsafe_accept for o in group)
        msgs = [o for o in rejects if not o.accepted]
        msg_ok = sum(o.errstr_ok for o in msgs)
        line = (f"{file:18} {mode:6} verdicts {_pct(agree, n)}  unsafe accepts {unsafe}/{len(rejects)}  "
                f"log substrings {_pct(msg_ok, len(msgs))}")
        if runs is not None:
            mine = [r for r in runs if r.file == file and r.mode == mode]
            ran = [r for r in mine if r.status != "skip"]
            line += f"  retvals {_pct(sum(r.status == 'agree' for r in ran), len(ran))} ({len(mine) - len(ran)} not run)"
        lines.append(line)
    return lines


def cause(o: Outcome) -> str:
    """The kernel message our verifier stopped with, numbers blurred, for grouping disagreements."""
    import re
    lines = o.log.strip().splitlines()
    text = lines[-2] if len(lines) > 1 else (lines[0] if lines else "?")
    if o.accepted:
        return "UNSAFE: accepted what the kernel refused"
    return re.sub(r"\b(R|insn |fp|id=|off=|size=|#)?-?\d+\b", lambda m: (m.group(1) or "") + "N", text)[:90]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--mode", choices=("priv", "unpriv", "all"), default="all")
    parser.add_argument("--only", default="")
    parser.add_argument("--limit", type=int, default=1_000_000, help="complexity limit (processed insns)")
    parser.add_argument("--show", type=int, default=0, help="print N disagreements with their logs")
    parser.add_argument("--retvals", action="store_true",
                        help="also run accepted tests on the reference interpreter and compare return values")
    parser.add_argument("--by-cause", action="store_true", help="group the disagreements by file and cause")
    parser.add_argument("-v", action="store_true", help="list every disagreement")
    args = parser.parse_args(argv)
    modes = ("priv", "unpriv") if args.mode == "all" else (args.mode,)
    outcomes = replay(args.directory, modes, args.only, args.limit)
    runs = run_retvals(args.directory, modes, args.only, args.limit) if args.retvals else None
    for line in summary(outcomes, runs):
        print(line)
    wrong = [o for o in outcomes if not o.agrees]
    if args.v:
        for o in wrong:
            print(f"{'UNSAFE ' if o.unsafe_accept else 'REFUSED'} {o.mode} {o.name}")
        for r in runs or ():
            if r.status == "differ":
                print(f"RETVAL  {r.mode} {r.name}: {r.why}")
    for o in wrong[:args.show]:
        print(f"--- {o.mode} {o.name} (kernel {'accepted' if o.kernel_loaded else 'rejected'})")
        print("\n".join(o.log.splitlines()[-6:]))
    if args.by_cause or args.v:
        for file in sorted({o.file for o in wrong}):
            print(f"\n{file}: disagreements by cause")
            for text, count in Counter(cause(o) for o in wrong if o.file == file).most_common():
                print(f"{count:5} {text}")
        if runs:
            print("\nretvals not run, by reason")
            for text, count in Counter(r.why for r in runs if r.status == "skip").most_common():
                print(f"{count:5} {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
