"""`config = { ... }` and the BPFTRACE_* environment: bpftrace's settings, checked and resolved once.

As bpftrace's Config (src/config.cpp) and ConfigAnalyser: a key may be
written `max_strlen` or `BPFTRACE_MAX_STRLEN` (any case); old names are
renamed with a warning; an unknown key or a bad value is an error at the
entry; then the environment is read and wins over the script (bpftrace's
"env var takes precedence").  The result is a dict of every setting, with
bpftrace's defaults, in `Resources.config`.

Settings that act in pybpftrace: max_strlen (str()'s size), on_stack_limit (bigger
buffers go to scratch memory, scratch.py), stack_mode
(kstack/ustack without a mode), print_maps_on_exit, max_cat_bytes,
max_map_keys (a map's max_entries), missing_probes (Linux probes that
match nothing), license (checked).  The others are accepted and kept.
"""

from __future__ import annotations

import os

from ..errors import PybpfError
from . import ast
from .source import Diagnostics, Span

# In the order bpftrace lists them (its table is a hash map).
LICENSES = ("Dual MIT/GPL", "Dual BSD/GPL", "Dual MPL/GPL", "GPL and additional rights", "GPL v2", "GPL")
LICENSE_HELP = "https://docs.kernel.org/bpf/bpf_licensing.html#using-bpf-programs-in-the-linux-kernel"
TRUE, FALSE = ("1", "true", "on", "yes"), ("0", "false", "off", "no")


def _integer(key: str, value):
    if isinstance(value, int):
        return value
    if str(value).isdigit():
        return int(value)
    raise ValueError(f"{key}: expecting a number, got {value}")


def _boolean(key: str, value):
    text = str(value).lower()
    if isinstance(value, int) or text in TRUE + FALSE:
        return value != 0 if isinstance(value, int) else text in TRUE
    raise ValueError(f"{key}: Invalid bool value: valid values are true, false, 1 or 0.")


def _text(key: str, value):
    return str(value)


def _choice(*names: str, message: str):
    def parse(key: str, value):
        text = str(value).lower()
        if text not in names:
            raise ValueError(f"{key}: {message}")
        return text
    return parse


def _license(key: str, value):
    if value not in LICENSES:
        raise ValueError(f"Invalid value for license. Found: {value}. Valid values: {', '.join(LICENSES)}. "
                         f"Read more about BPF programs and licensing: {LICENSE_HELP}")
    return value


# name -> (parser, bpftrace's default)
SETTINGS = {
    "cache_user_symbols": (_choice("per_pid", "per_program", "none", "1", "0", message=(
        "Invalid value for cache_user_symbols: valid values are PER_PID, PER_PROGRAM, and NONE.")), "per_program"),
    "cpp_demangle": (_boolean, True),
    "lazy_symbolication": (_boolean, True),
    "license": (_license, "GPL"),
    "log_size": (_integer, 1000000),
    "max_bpf_progs": (_integer, 1024),
    "max_cat_bytes": (_integer, 10240),
    "max_map_keys": (_integer, 4096),
    "max_probes": (_integer, 1024),
    "max_strlen": (_integer, 64),  # bpftrace 0.17's; current bpftrace's is 1024
    "on_stack_limit": (_integer, 32),
    "perf_rb_pages": (_integer, 0),
    "stack_mode": (_choice("bpftrace", "perf", "raw", "build_id", message=(
        "Invalid value for stack_mode: valid values are bpftrace, perf, raw and build_id.")), "bpftrace"),
    "str_trunc_trailer": (_text, ".."),
    "missing_probes": (_choice("ignore", "warn", "error", message=(
        "Invalid value for missing_probes: valid values are ignore, warn and error.")), "error"),
    "print_maps_on_exit": (_boolean, True),
    "use_blazesym": (_boolean, False),
    "show_debug_info": (_boolean, False),
    "unstable_import": (_choice("enable", "warn", "error", "1", "0", message=(
        "Invalid value for unstable config: valid values are enable, warn and error.")), "error"),
    "unstable_tseries": (_choice("enable", "warn", "error", "1", "0", message=(
        "Invalid value for unstable config: valid values are enable, warn and error.")), "warn"),
    "unstable_typeinfo": (_choice("enable", "warn", "error", "1", "0", message=(
        "Invalid value for unstable config: valid values are enable, warn and error.")), "error"),
    "unstable_dw_ustack": (_choice("enable", "warn", "error", "1", "0", message=(
        "Invalid value for unstable config: valid values are enable, warn and error.")), "warn"),
}
RENAMED = {"strlen": "max_strlen", "no_cpp_demangle": "cpp_demangle", "cat_bytes_max": "max_cat_bytes",
           "map_keys_max": "max_map_keys"}
ENV_ONLY = ("btf", "kernel_build", "kernel_source", "vmlinux")
ENV_PREFIX = "bpftrace_"


def _key(written: str) -> str:
    key = written.lower()
    return key[len(ENV_PREFIX):] if key.startswith(ENV_PREFIX) else key


def _entry_span(source_text: str, name: str, value: ast.Expr) -> Span:
    """From the key to the end of its value (the parser keeps the value's span only)."""
    start = source_text.rfind(name, 0, value.span.start)
    return Span(start if start >= 0 else value.span.start, value.span.end)


def resolve(config: dict[str, ast.Expr], source_text: str, diagnostics: Diagnostics,
            environ: dict[str, str] | None = None) -> dict[str, object]:
    """Every setting's value: bpftrace's default, then the script's config block, then BPFTRACE_* variables."""
    environ = os.environ if environ is None else environ
    values = {name: default for name, (_, default) in SETTINGS.items()}
    for written, value in config.items():
        span = _entry_span(source_text, written, value)
        if isinstance(value, (ast.Integer, ast.String)):
            raw = value.value
        elif isinstance(value, ast.Builtin):  # stack_mode = perf
            raw = value.name
        else:
            diagnostics.error(value.span, f"Invalid value for config variable {written}")
            continue
        key = _key(written)
        if key in RENAMED:
            diagnostics.warning(span, f"{written} has been renamed, please use {RENAMED[key]}")
            key = RENAMED[key]
        if key in ENV_ONLY:
            diagnostics.error(span, f"{written}: can only be set as an environment variable")
            continue
        if key not in SETTINGS:
            diagnostics.error(span, f"{written}: not a known configuration option")
            continue
        try:
            values[key] = SETTINGS[key][0](written, raw)
        except ValueError as err:
            diagnostics.error(span, str(err))
    for key, (parse, _) in SETTINGS.items():
        setting = environ.get((ENV_PREFIX + key).upper())
        if setting is not None:
            try:
                values[key] = parse((ENV_PREFIX + key).upper(), setting)
            except ValueError as err:
                raise PybpfError(str(err)) from None
    return values


def apply_map_keys(program: ast.Program, resources) -> None:
    """max_map_keys: the max_entries of every map the script does not declare with a size."""
    declared = {declaration.name for declaration in program.declarations}
    for info in resources.maps.values():
        if info.name not in declared:
            info.entries = resources.config["max_map_keys"]
