"""Values of `.kconfig` externs: LINUX_KERNEL_VERSION and the running kernel's CONFIG_* options.

As libbpf's bpf_object__resolve_externs: LINUX_KERNEL_VERSION is
KERNEL_VERSION(a, b, c) of the running kernel; CONFIG_* come from
/proc/config.gz, else /boot/config-$(uname -r).  `y` is 1, `m` 2, `n` 0 (the
tristate encoding), numbers are numbers, quoted strings fill char arrays.
An option the configuration does not set is 0, as libbpf gives a weak
extern; with no configuration to read at all, asking for one is an error.
"""

from __future__ import annotations

import errno
import functools
import gzip
import platform
import re

from .errors import BpfError

CONFIG_PATHS = ("/proc/config.gz", f"/boot/config-{platform.release()}")
TRISTATE = {"y": 1, "m": 2, "n": 0}


def kernel_version() -> int:
    """KERNEL_VERSION(a, b, c) of the running system, as LINUX_KERNEL_VERSION reads (0 if unknown)."""
    numbers = re.findall(r"\d+", platform.release())[:3]
    a, b, c = (int(n) for n in numbers + ["0"] * (3 - len(numbers)))
    return (a << 16) + (b << 8) + min(c, 255)


@functools.cache
def kernel_config() -> tuple[str, dict[str, str]] | None:
    """(path, {CONFIG_NAME: raw value}) of the running kernel's configuration, or None if none is readable."""
    for path in CONFIG_PATHS:
        try:
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rt") as f:
                text = f.read()
        except OSError:
            continue
        return path, dict(re.findall(r"^(CONFIG_\w+)=(.*)$", text, re.M))
    return None


def _encode(name: str, raw: str, size: int, path: str) -> bytes:
    if raw in TRISTATE:
        return TRISTATE[raw].to_bytes(size, "little")
    if raw.startswith('"'):
        text = raw.strip('"').encode()
        if len(text) >= size:
            raise BpfError("kconfig", errno.E2BIG, f"{path}: {name}={raw} does not fit its {size}-byte array")
        return text.ljust(size, b"\0")
    try:
        value = int(raw, 0)
    except ValueError:
        raise BpfError("kconfig", errno.EINVAL, f"{path}: {name}={raw} is neither y/m/n, a number "
                       "nor a string") from None
    return (value & ((1 << 8 * size) - 1)).to_bytes(size, "little")


def kconfig_value(name: str, size: int, path: str = "") -> bytes:
    """The `size` bytes a `.kconfig` extern `name` holds on the running kernel (path: the object, for errors)."""
    if name == "LINUX_KERNEL_VERSION":
        return kernel_version().to_bytes(size, "little")
    if not name.startswith("CONFIG_"):
        raise BpfError("kconfig", errno.EINVAL, f"{path}: extern '{name}' in .kconfig is neither "
                       "LINUX_KERNEL_VERSION nor a CONFIG_* option")
    config = kernel_config()
    if config is None:
        raise BpfError("kconfig", errno.ENOENT, f"{path}: extern '{name}' needs the kernel's configuration, "
                       f"and neither {' nor '.join(CONFIG_PATHS)} is readable")
    source, options = config
    raw = options.get(name)
    return bytes(size) if raw is None else _encode(name, raw, size, source)
