"""pybpf.api: each command-line command is one call, printing the same."""

import io

from pybpf import api
from pybpf.cli.main import main
from support.objects import object_path


def test_objdump_is_the_command_line_text(capsys):
    path = str(object_path("progs"))
    for flags, options in (([], {}), (["-d"], {"disassemble": True}), (["-d", "-r"], {"disassemble": True,
                                                                                      "relocations": True}),
                           (["--btf"], {"btf": True})):
        assert main(["objdump", path, *flags]) == 0
        assert api.objdump(path, **options) + "\n" == capsys.readouterr().out


def test_run_object_runs_a_script_under_the_probes(tmp_path):
    script = tmp_path / "app.py"
    script.write_text("from support import testapp\nfor i in range(4):\n    testapp.add(1, 1)\n")
    out = io.StringIO()
    assert api.run_object(object_path("pyprobe"), script=[str(script)], out=out) == 0
    assert "  01 00 00 00 00 00 00 00: 04 00 00 00 00 00 00 00" in out.getvalue()  # add(1, 1), four times
