"""`pybpf run FILE.o`: a clang-built object on the virtual kernel, attached by section name."""

from pybpf.cli.main import main
from support.objects import object_path

APP = """
from support import testapp
for i in range(3):
    testapp.add(i % 2, 1)
testapp.handle("/x", 42)
"""


def test_object_probes_a_python_program_in_process(tmp_path, capsys):
    script = tmp_path / "app.py"
    script.write_text(APP)
    assert main(["run", str(object_path("pyprobe")), "--python", str(script)]) == 0
    out, err = capsys.readouterr()
    assert "sizes: 2a 00 00 00 00 00 00 00" in out  # the USDT probe's arg1 through the ring buffer
    assert "map calls (2 entries):" in out
    assert "  00 00 00 00 00 00 00 00: 02 00 00 00 00 00 00 00" in out  # add(0, 1) twice
    assert "  01 00 00 00 00 00 00 00: 01 00 00 00 00 00 00 00" in out  # add(1, 1) once
    assert "not_virtual: section kprobe/do_sys_openat2 has no attach point" in err
    assert "Attached 2 programs" in err


def test_timed_run_detaches_everything_and_a_missing_file_is_one_line(tmp_path, capsys):
    from support import testapp
    script = tmp_path / "app.py"
    script.write_text("pass\n")
    obj = object_path("pyprobe")
    assert main(["run", str(obj), "--seconds", "0"]) == 0
    assert not testapp.REQUEST.enabled
    capsys.readouterr()
    assert main(["run", "/nonexistent.o", "--seconds", "0"]) == 1
    assert "No such file" in capsys.readouterr().err
