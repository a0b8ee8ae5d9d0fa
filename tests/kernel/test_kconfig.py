""".kconfig externs: LINUX_KERNEL_VERSION and CONFIG_* from the running kernel's configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from pybpf import elf
from pybpf.kernel import kconfig
from pybpf.kernel.errors import BpfError
from pybpf.kernel.loader import load_object
from pybpf.kernel.virtual import VirtualKernel

ELF = Path(__file__).parent.parent / "data" / "elf"
CONFIG = ("/proc/config.gz", {"CONFIG_HZ": "250", "CONFIG_BPF": "y", "CONFIG_EXT4_FS": "m",
                              "CONFIG_LOCALVERSION": '"-pybpf"', "CONFIG_PHYSICAL_START": "0x1000000"})


@pytest.fixture
def config(monkeypatch):
    monkeypatch.setattr(kconfig, "kernel_config", lambda: CONFIG)


@pytest.mark.parametrize("name, size, expected", [
    ("CONFIG_HZ", 4, (250).to_bytes(4, "little")),
    ("CONFIG_BPF", 1, b"\x01"),                    # y
    ("CONFIG_EXT4_FS", 4, (2).to_bytes(4, "little")),  # m, as libbpf's tristate
    ("CONFIG_LOCALVERSION", 8, b"-pybpf\0\0"),
    ("CONFIG_PHYSICAL_START", 8, (0x1000000).to_bytes(8, "little")),
    ("CONFIG_NOT_SET_HERE", 4, bytes(4)),          # unset: 0, as a weak extern
])
def test_values_from_the_configuration(config, name, size, expected):
    assert kconfig.kconfig_value(name, size) == expected


def test_a_string_too_long_for_its_array_is_an_error(config):
    with pytest.raises(BpfError, match=r"CONFIG_LOCALVERSION=\"-pybpf\" does not fit its 4-byte array"):
        kconfig.kconfig_value("CONFIG_LOCALVERSION", 4)


def test_no_configuration_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(kconfig, "kernel_config", lambda: None)
    with pytest.raises(BpfError) as err:
        load_object(VirtualKernel(), elf.load(ELF / "kconfig.o"))
    assert "extern 'CONFIG_HZ' needs the kernel's configuration" in str(err.value)
    assert "/proc/config.gz" in str(err.value)
    assert kconfig.kconfig_value("LINUX_KERNEL_VERSION", 4) == kconfig.kernel_version().to_bytes(4, "little")


def test_kconfig_o_returns_the_configured_hz(config):
    kernel = VirtualKernel()
    loaded = load_object(kernel, elf.load(ELF / "kconfig.o"))
    assert kernel.prog_test_run(loaded.prog_fds["read_kconfig"], bytes(64)).retval == 250


@pytest.mark.skipif(kconfig.kernel_config() is None, reason="this host has no readable kernel configuration")
def test_the_running_kernels_configuration_is_read():
    path, options = kconfig.kernel_config()
    assert path in kconfig.CONFIG_PATHS and options["CONFIG_HZ"].isdigit()
