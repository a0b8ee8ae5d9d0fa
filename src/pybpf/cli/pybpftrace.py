"""`pybpftrace`: bpftrace's command line, compiling through llvmlite, on the virtual or the Linux kernel.

--kernel virtual (the default) runs the programs in-process; --kernel linux
loads them with bpf() and attaches them to the running kernel (needs CAP_BPF);
--kernel auto takes Linux when bpf() works here.  On Linux, -c starts any
command paused, attaches, then lets it run (as bpftrace does), and -l lists
the kernel's tracepoints, raw tracepoints, software events, or a binary's
uprobes and USDT probes (`-l 'uprobe:/bin/bash:*'`).
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import threading

from .. import __version__
from ..errors import PybpfError
from ..trace.source import ScriptError

USAGE = """pybpftrace [options] filename
       pybpftrace [options] - <stdin input>
       pybpftrace [options] -e 'program'"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pybpftrace", usage=USAGE,
                                     description="The bpftrace language on pybpf's virtual kernel or the Linux kernel.")
    parser.add_argument("filename", nargs="?", help="a script file, or - for standard input")
    parser.add_argument("params", nargs="*", help="positional parameters: $1, $2, ...")
    parser.add_argument("-e", dest="program", metavar="PROGRAM", help="the script to run")
    parser.add_argument("-c", dest="command", metavar="CMD",
                        help="run CMD under the probes and stop when it exits (the virtual kernel: a Python "
                             "program, 'python app.py ARGS', in-process)")
    parser.add_argument("-p", dest="pid", type=int, metavar="PID",
                        help="uprobes and USDT probes of process PID only (--kernel linux)")
    parser.add_argument("-o", dest="output", metavar="FILE", help="write the script's output to FILE")
    parser.add_argument("-q", action="store_true", help="quiet: no 'Attached N probes' line")
    parser.add_argument("-l", dest="list", nargs="?", const="*", metavar="PATTERN",
                        help="list the probes of the kernel (matching PATTERN)")
    parser.add_argument("-d", "--dry-run", dest="dump", nargs="?", const="all", metavar="STAGE",
                        help="compile only and print the stages: ast, types, ir, asm (default: all)")
    parser.add_argument("--emit-llvm", metavar="FILE", help="write the LLVM IR to FILE and stop")
    parser.add_argument("--emit-elf", metavar="FILE", help="write the BPF ELF object to FILE and stop")
    parser.add_argument("--unsafe", action="store_true", help="allow unsafe functions (system)")
    parser.add_argument("-f", dest="format", default="text", metavar="FORMAT",
                        help="output format: text, or json (one JSON object a line)")
    parser.add_argument("--kernel", default="virtual", choices=["virtual", "linux", "auto"],
                        help="which kernel runs the programs: virtual (default), linux, or auto (linux when bpf() "
                             "works here)")
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help="stop after SECONDS, as with Ctrl-C")
    parser.add_argument("--no-cache", action="store_true",
                        help="compile, verify and translate afresh (the cache is neither read nor written)")
    parser.add_argument("--info", action="store_true", help="print the build and the kernel's features and exit")
    parser.add_argument("--verify-llvm-ir", action="store_true",
                        help="verify the LLVM IR (always done: llvmlite verifies every module it compiles)")
    parser.add_argument("-V", "--version", action="version", version=f"pybpftrace v{__version__}")
    return parser


def _script(args, parser) -> tuple[str, str, list[str]]:
    if args.program is not None:
        params = ([args.filename] if args.filename else []) + args.params
        return args.program, "stdin", params
    if args.filename is None:
        parser.error("a script is needed: -e 'PROGRAM', a file, or - for standard input")
    if args.filename == "-":
        return sys.stdin.read(), "stdin", args.params
    try:
        with open(args.filename, encoding="utf-8") as handle:
            return handle.read(), args.filename, args.params
    except OSError as err:  # bpftrace's words
        raise PybpfError(f"failed to open file '{args.filename}': {err.strerror}") from None


def _command_thread(command: str, done: threading.Event) -> threading.Thread:
    from .pyscript import script_thread  # runpy and traceback: for -c only
    argv = shlex.split(command)
    if not argv or os.path.basename(argv[0]).rstrip("0123456789.") != "python":
        raise PybpfError(f"-c: the virtual kernel runs Python programs in-process ('python app.py ...'), "
                         f"not {argv[0] if argv else 'an empty command'!r}")
    if len(argv) < 2:
        raise PybpfError("-c: which Python program? ('python app.py ...')")
    return script_thread(argv[1:], done)


def _list(pattern: str) -> None:
    import fnmatch
    from ..trace.probes import ALIASES, python_functions
    from ..usdt import probes
    kind, _, rest = pattern.partition(":")
    kind = ALIASES.get(kind, kind)
    module, _, functions = rest.partition(":")
    if kind in ("uprobe", "uretprobe") and module and "*" not in module:  # -l 'uprobe:myapp.server:*'
        try:
            names = python_functions(module)
        except ImportError as err:
            raise PybpfError(f"-l: cannot import module {module!r}: {err}") from None
        for name in names:
            if fnmatch.fnmatchcase(name, functions or "*"):
                print(f"{kind}:{module}:{name}")
        return
    lines = ["BEGIN", "END", "interval:s:N", "interval:ms:N", "interval:us:N", "interval:hz:N", "profile:hz:N",
             "uprobe:MODULE:FUNCTION", "uretprobe:MODULE:FUNCTION", "tracepoint:audit:EVENT"]
    lines += [f"usdt:{probe.provider}:{probe.name}" for probe in probes()]
    for line in lines:
        if fnmatch.fnmatch(line, pattern) or fnmatch.fnmatch(line.split(":")[0], pattern):
            print(line)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    stop = threading.Event()  # Ctrl-C, SIGTERM or the end of the -c command: END runs, the maps print
    previous = {}
    if threading.current_thread() is threading.main_thread():  # a signal while compiling or in BEGIN too
        previous = {number: signal.signal(number, lambda *_: stop.set()) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        from ..trace.runtime import choose_kernel
        args.kernel = choose_kernel(args.kernel)
        if args.info:
            from .pybpftrace_info import info_lines
            try:
                print("\n".join(info_lines()))
            except BrokenPipeError:  # --info | head
                sys.stdout = open(os.devnull, "w")
            return 0
        if args.list is not None:
            try:
                if args.kernel == "linux":
                    from .pybpftrace_linux import list_probes
                    list_probes(args.list, print)
                else:
                    _list(args.list)
            except BrokenPipeError:  # -l | head
                sys.stdout = open(os.devnull, "w")
            return 0
        if args.kernel == "linux":
            from ..kernel.linux.syscall import kernel_available
            ok, why = kernel_available()
            if not ok:
                raise PybpfError(f"--kernel linux: bpf() is not available here ({why}); use --kernel virtual")
            if args.pid is not None and not os.path.exists(f"/proc/{args.pid}"):
                raise PybpfError(f"pid '{args.pid}' does not exist")
        elif args.pid is not None:
            raise PybpfError("-p: the virtual kernel traces this process only; -p needs --kernel linux")
        if args.format not in ("text", "json"):
            raise PybpfError(f'Invalid output format "{args.format}"\nValid formats: json,text')
        text, name, params = _script(args, parser)
        from ..trace.compiler import compile_script
        dumping = args.dump or args.emit_llvm or args.emit_elf
        compiled = compile_script(text, name, params, cache=not (args.no_cache or dumping), unsafe=args.unsafe,
                                  kernel=args.kernel)
        for warning in compiled.resources.warnings:
            print(warning.render(compiled.source), file=sys.stderr)
        if dumping:
            return _dump(args, compiled)
        return _run(args, compiled, stop)
    except ScriptError as err:
        print(err, file=sys.stderr)
        return 1
    except (PybpfError, OSError) as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _dump(args, compiled) -> int:
    if args.emit_llvm:
        with open(args.emit_llvm, "w", encoding="utf-8") as handle:
            handle.write(compiled.ir)
    if args.emit_elf:
        with open(args.emit_elf, "wb") as handle:
            handle.write(compiled.elf)
    if args.dump:
        from ..elf import load
        from ..elf.llvm_layout import llvm_objdump_lines
        from ..trace.dump import ast_lines
        stages = {"ast": lambda: ast_lines(compiled.program), "ir": lambda: compiled.ir.splitlines(),
                  "asm": lambda: llvm_objdump_lines(load(compiled.elf), "pybpftrace.o")}
        chosen = stages if args.dump == "all" else {args.dump: stages.get(args.dump)}
        for stage, lines in chosen.items():
            if lines is None:
                raise PybpfError(f"-d: unknown stage {stage!r} (ast, ir, asm)")
            print(f"\n{stage.upper()}\n{'-' * len(stage)}")
            print("\n".join(lines()))
    return 0


def _run(args, compiled, stop: threading.Event) -> int:
    from ..trace.runtime import Session
    from ..trace.output.lines import WholeLines
    out = open(args.output, "w", encoding="utf-8") if args.output else WholeLines(sys.stdout)
    err = open(os.devnull, "w") if args.q else sys.stderr
    linux = args.kernel == "linux"
    child = None
    try:
        session = Session(compiled, out=out, err=err, output_format=args.format, pid=args.pid)
        if args.command and linux:
            from .pybpftrace_linux import PausedCommand
            child = PausedCommand(args.command, stop)
            session.command_pid = child.pid
            worker = None
        else:
            worker = _command_thread(args.command, stop) if args.command else None
        session.start()
        if worker is not None:
            worker.start()
        if child is not None:
            child.resume()
        session.run(seconds=args.timeout, until=stop)
        session.finish()
        if worker is not None:
            worker.join(timeout=1)
        return session.exit_code
    except KeyboardInterrupt:  # a signal before the run loop: nothing is left attached (Session.start)
        return 1
    finally:
        if child is not None:
            child.close()
        if isinstance(out, WholeLines):
            out.drain()
        else:
            out.close()
        if err is not sys.stderr:
            err.close()


if __name__ == "__main__":
    sys.exit(main())
