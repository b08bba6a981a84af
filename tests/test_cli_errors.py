"""The CLI's error matrix: every way a user can go wrong gives one line naming what is wrong
and what to do, exit code 2 (usage/config) or 1 (runtime), no traceback unless --debug,
and nothing written before is lost."""

import errno
import os

import h5py
import pytest

from neuromem.cli import main
from neuromem.store import read_result


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("neuromem: ")
    return lines[0]


@pytest.fixture
def files(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\ntask = "toy"\n[data\n')
    text = tmp_path / "notes.h5"
    text.write_text("these are notes, not HDF5")
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["a"] = 1
    return tmp_path, bad, text, foreign


CASES = [
    # (label, argv builder, exit code, words the message must contain)
    ("unknown network", lambda t, b, x, f: ["run", "digits_stpd"], 2,
     ["digits_stpd", "did you mean 'digits_stdp'"]),
    ("unknown device", lambda t, b, x, f: ["device", "show", "taox_hfox_wu201"], 2,
     ["did you mean 'taox_hfox_wu2018'"]),
    ("unknown device in --set", lambda t, b, x, f: ["run", "toy", "--set", "device=idael"], 2,
     ["idael", "did you mean 'ideal'"]),
    ("unknown key", lambda t, b, x, f: ["run", "toy", "--set", "data.n_draw=3"], 2,
     ["data.n_draw", "unknown key", "n_draws"]),
    ("wrong type", lambda t, b, x, f: ["run", "toy", "--set", "data.n_draws=many"], 2,
     ["data.n_draws", "integer", "many"]),
    ("out of range", lambda t, b, x, f: ["run", "toy", "--set", "data.n_draws=0"], 2,
     ["data.n_draws"]),
    ("malformed card", lambda t, b, x, f: ["run", b], 2, ["bad.toml", "TOML", "line 3"]),
    ("missing card file", lambda t, b, x, f: ["run", t / "missing.toml"], 2,
     ["missing.toml", "not found"]),
    ("unknown dataset", lambda t, b, x, f: ["run", "kws", "--dataset", "spech_commands"], 2,
     ["did you mean 'speech_commands'"]),
    ("missing dataset folder", lambda t, b, x, f: ["run", "kws", "--dataset", "speech_commands",
                                                   "--data-dir", t / "nope"], 2,
     ["nope", "not found", "datasets/README.md"]),
    ("missing output folder", lambda t, b, x, f: ["run", "toy", "-o", t / "no" / "r.h5"], 2,
     ["output folder does not exist"]),
    ("bad seed", lambda t, b, x, f: ["run", "toy", "--seed", "-1"], 2, ["seed", "-1"]),
    ("unknown tech preset", lambda t, b, x, f: ["energy", f, "--tech", "isac"], 2,
     ["did you mean 'isaac_32nm'"]),
    ("missing sweep card", lambda t, b, x, f: ["sweep", t / "nosuch.toml"], 2,
     ["nosuch.toml", "not found"]),
    ("corrupt HDF5", lambda t, b, x, f: ["inspect", x], 1,
     ["notes.h5", "not a readable HDF5 file"]),
    ("foreign HDF5", lambda t, b, x, f: ["energy", f], 1,
     ["foreign.h5", "not a neuromem result"]),
    ("missing result", lambda t, b, x, f: ["inspect", t / "gone.h5"], 1, ["gone.h5"]),
    ("a bug in a task", lambda t, b, x, f: ["run", "toy", "--set", "data.crash=raise"], 1,
     ["internal error", "RuntimeError", "--debug"]),
]


@pytest.mark.parametrize("label, argv, code, words", CASES, ids=[c[0] for c in CASES])
def test_error_is_one_line_with_the_right_exit_code(capsys, files, label, argv, code, words):
    got, out, err = run_cli(capsys, *argv(*files))
    assert got == code, err
    line = one_line(err)
    for word in words:
        assert word in line, (word, line)


def test_debug_shows_the_traceback_before_or_after_the_command(capsys):
    for argv in (["--debug", "run", "toy", "--set", "data.crash=raise"],
                 ["run", "toy", "--set", "data.crash=raise", "--debug"]):
        with pytest.raises(RuntimeError, match="crashed on purpose"):
            main(argv)


def test_usage_errors_exit_2(capsys):
    for argv in (["run"], ["run", "toy", "--no-such-flag"], ["frobnicate"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
    assert main([]) == 2                               # no command: help on stderr


def test_full_disk_keeps_the_previous_result(capsys, tmp_path, monkeypatch):
    path = tmp_path / "r.h5"
    assert run_cli(capsys, "run", "toy", "--set", "data.x=1", "-o", path)[0] == 0
    before = read_result(path).metrics
    original = h5py.Group.create_dataset

    def full(self, *args, **kwargs):                   # the disk fills up mid-write
        if len(calls) >= 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        calls.append(1)
        return original(self, *args, **kwargs)
    calls = []
    monkeypatch.setattr(h5py.Group, "create_dataset", full)
    code, _, err = run_cli(capsys, "run", "toy", "--set", "data.x=2", "-o", path)
    monkeypatch.undo()
    assert code == 1
    line = one_line(err)
    assert "disk is full" in line and str(path) in line
    after = read_result(path)
    assert after.metrics == before and after.metrics["x_plus_mean"] == before["x_plus_mean"]
    assert not list(tmp_path.glob("*.tmp*"))           # no half-written leftovers


def test_a_system_error_is_one_line_naming_the_file(capsys, tmp_path, monkeypatch):
    import neuromem.store as store

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp_path / "r.h5"))
    monkeypatch.setattr(store, "write_result", refuse)
    code, _, err = run_cli(capsys, "run", "toy", "-o", tmp_path / "r.h5")
    assert code == 1
    line = one_line(err)
    assert "r.h5" in line and "Permission denied" in line
