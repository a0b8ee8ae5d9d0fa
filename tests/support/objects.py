"""The committed test objects (tests/data/elf, built by build.sh there)."""

from support.paths import DATA

ELF_DIR = DATA / "elf"
OBJECTS = sorted(ELF_DIR.glob("*.o"))


def object_path(name: str):
    return ELF_DIR / f"{name}.o"


def object_bytes(name: str) -> bytes:
    return object_path(name).read_bytes()
