"""Hostile inputs: malformed and extreme cards, huge sizes, garbage and foreign HDF5 files,
unwritable outputs and Ctrl-C mid-run, through the CLI and the public Python API.

Every case must end in neuromem's own one-line error (``neuromem: error: ...``, exit 2 for a
card or an argument, 1 for a file that cannot be read or written), never a traceback or an
``internal error``; property tests (hypothesis) cover the spaces too large to list: every
parameter of every device kind and of the network sections against NaN, infinities, negative,
zero, huge, wrong-typed values, and random bytes as result files. WAV inputs are tested with
the audio loaders (another issue).
"""

import dataclasses
import math
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neuromem import cli
from neuromem.cards import device_from_mapping, find_card
from neuromem.devices import DEVICE_KINDS
from neuromem.exceptions import ConfigError, StoreError
from neuromem.layers import CrossbarLayer
from neuromem.neurons import LIFParams
from neuromem.plasticity import STDPParams
from neuromem.schema import build
from neuromem.store import is_complete, read_result, write_result

IDEAL = tomllib.loads(Path(find_card("ideal", "synapse_models")).read_text())
HOSTILE = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, -1.0, 0.0, -0.0, 1e308, -1e308, 5e-324,
                     0, -1, 2**63, -(2**63), True, False, "1.0", "", None, [1.0], {}]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70))
_FAST = settings(max_examples=150, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


def _valid_value(cls, name, value) -> bool:
    meta = {f.name: f.metadata for f in dataclasses.fields(cls)}[name]
    if isinstance(value, float) and math.isnan(value):
        return False
    if isinstance(value, float) and math.isinf(value):
        return meta["allow_inf"] and value > 0
    return True


# ------------------------------------------------------------------ cards: properties

def _pulse_card(**params):
    card = {k: v for k, v in IDEAL.items()}
    card["parameters"] = {**IDEAL["parameters"], **params}
    return card


@pytest.mark.parametrize("kind", sorted(DEVICE_KINDS))
@given(data=st.data())
@_FAST
def test_any_hostile_device_parameter_is_refused_by_name_or_gives_a_sane_device(kind, data):
    cls = DEVICE_KINDS[kind]
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    name = data.draw(st.sampled_from(names), label="parameter")
    value = data.draw(HOSTILE, label="value")
    base = {"parameters": {}} if kind != "pulse" else _pulse_card()
    card = {"name": "hostile", "kind": kind, **{k: v for k, v in base.items() if k != "kind"}}
    card["parameters"] = {**card.get("parameters", {}), name: value}
    try:
        device = device_from_mapping(card, file="hostile.toml")
    except ConfigError as err:
        assert err.file == "hostile.toml" and err.key and err.key.startswith("parameters."), err
        return
    # accepted: the value stored is the value given (after int -> float), never NaN or -inf
    got = getattr(device.params, name)
    if value is not None:
        assert _valid_value(cls, name, value)
        assert got == value or (isinstance(got, float) and got == float(value))
    for f in dataclasses.fields(device.params):
        v = getattr(device.params, f.name)
        if isinstance(v, float):
            assert not math.isnan(v) and v != -math.inf, (f.name, v)
    assert device.params.g_min_S < device.params.g_max_S if hasattr(device.params,
                                                                     "g_min_S") else True


@pytest.mark.parametrize("cls,section", [(LIFParams, "neuron"), (STDPParams, "stdp")])
@given(data=st.data())
@_FAST
def test_any_hostile_network_section_value_is_refused_by_name_or_accepted(cls, section, data):
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    name = data.draw(st.sampled_from(names), label="parameter")
    value = data.draw(HOSTILE, label="value")
    try:
        obj = build(cls, {name: value}, file="net.toml", section=section)
    except ConfigError as err:
        assert err.file == "net.toml" and err.key.startswith(f"{section}."), err
        return
    assert _valid_value(cls, name, value)
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, float):
            assert not math.isnan(v), (f.name, v)


# ------------------------------------------------------------ cards: the CLI matrix

@pytest.mark.parametrize("key,value,expect", [
    ("g_max_S", "nan", "finite"), ("g_max_S", "inf", "finite"), ("g_max_S", "-inf", "finite"),
    ("g_max_S", "-1e-5", "> 0"), ("g_min_S", "2e-5", "below g_max_S"),
    ("g_min_S", "-1e-6", ">= 0"), ("levels", "0", ">= 2"), ("levels", "1", ">= 2"),
    ("levels", "2.5", "integer"), ("v_read_V", "-0.5", "> 0"), ("t_read_s", "0.0", "> 0"),
    ("ctoc_sigma", "-0.1", ">= 0"), ("stuck_on_rate", "1.5", "[0, 1]"),
    ("g_max_S", '"1e-5"', "number"),
])
def test_extreme_device_cards_exit_2_naming_file_and_key(tmp_path, key, value, expect,
                                                         one_line_error):
    text = Path(find_card("ideal", "synapse_models")).read_text()
    lines = [f"{key} = {value}" if line.startswith(f"{key} =") else line
             for line in text.splitlines()]
    if not any(line.startswith(f"{key} =") for line in text.splitlines()):
        lines.append(f"{key} = {value}")
    card = tmp_path / "bad.toml"
    card.write_text("\n".join(lines) + "\n")
    err = one_line_error(cli.main(["device", "show", str(card)]), 2)
    assert str(card) in err and f"parameters.{key}" in err and expect in err


@pytest.mark.parametrize("text,key", [
    ("not toml [", None), ("", "kind"), ('kind = "warp"\n[parameters]\n', "kind"),
    ('kind = "pulse"\n', "parameters"), ('kind = "pulse"\n[parameters]\nlevels = 2\n',
                                         "missing required key"),
])
def test_malformed_device_cards_exit_2(tmp_path, text, key, one_line_error):
    card = tmp_path / "bad.toml"
    card.write_text(text)
    err = one_line_error(cli.main(["device", "show", str(card)]), 2)
    assert str(card) in err and (key is None or key in err)


@pytest.mark.parametrize("override,key", [
    ("network.n_exc=-5", "network.n_exc"), ("network.n_exc=0", "network.n_exc"),
    ("network.dt_s=nan", "network.dt_s"), ("network.dt_s=inf", "network.dt_s"),
    ("neuron.tau_mem_s=-0.02", "neuron.tau_mem_s"), ("data.epochs=0", "data.epochs"),
    ("device.g_max_S=nan", "device.g_max_S"), ("device.levels=0", "device.levels"),
])
def test_extreme_network_overrides_exit_2(override, key, one_line_error):
    code = cli.main(["run", "digits_stdp", "--quick", "--set", override])
    err = one_line_error(code, 2)
    assert key.split(".")[-1] in err


# ----------------------------------------------------------------------- huge sizes

def test_a_crossbar_beyond_memory_is_refused_with_the_estimate():
    from neuromem.cards import load_device
    from neuromem.layers import _available_memory
    have = _available_memory()
    cells = 64 * 10**9
    with pytest.raises(ConfigError) as info:
        CrossbarLayer(64, 10**9, load_device("ideal").params, np.random.default_rng(0))
    text = str(info.value)
    assert f"{cells * 32 / 2**30:.1f} GiB" in text and "64,000,000,000 cells" in text
    assert f"{have / 2**30:.1f} GiB of memory available" in text
    with pytest.raises(ConfigError, match=f"{cells * 40 / 2**30:.1f} GiB"):
        CrossbarLayer(64, 10**9, load_device("ideal").params, np.random.default_rng(0),
                      mapping="differential")


def test_the_cli_refuses_a_huge_network_before_allocating(one_line_error):
    code = cli.main(["run", "digits_stdp", "--quick", "--set", "network.n_exc=1000000000"])
    err = one_line_error(code, 2)
    assert "GiB" in err and "memory available" in err


# ------------------------------------------------------------- garbage and foreign HDF5

@pytest.fixture
def hostile_files(tmp_path):
    files = {"random": tmp_path / "random.h5", "empty": tmp_path / "empty.h5",
             "foreign": tmp_path / "foreign.h5", "truncated": tmp_path / "truncated.h5",
             "text": tmp_path / "notes.h5", "incomplete": tmp_path / "incomplete.h5"}
    files["random"].write_bytes(np.random.default_rng(0).bytes(8192))
    files["empty"].write_bytes(b"")
    files["text"].write_text("metrics: accuracy 0.9\n")
    with h5py.File(files["foreign"], "w") as f:
        f["x"] = np.arange(3)
        f.attrs["format"] = "someone-else"
    good = write_result(tmp_path / "good.h5", metrics={"accuracy": 0.5},
                        state={"g": np.zeros((64, 64))})
    files["truncated"].write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with h5py.File(files["incomplete"], "w") as f:
        f.attrs["format"] = "neuromem-result"
        f.attrs["format_version"] = 1
    return files


@pytest.mark.parametrize("command", [["inspect"], ["energy"], ["energy", "--no-store"]])
def test_garbage_and_foreign_hdf5_give_one_line_exit_1(hostile_files, command, one_line_error):
    for name, path in hostile_files.items():
        args = [*command[:1], str(path), *command[1:]]
        err = one_line_error(cli.main(args), 1)
        assert str(path) in err, (name, err)


def test_garbage_hdf5_through_the_python_api(hostile_files):
    from neuromem.sweep import read_index
    for path in hostile_files.values():
        assert not is_complete(path)
        with pytest.raises(StoreError, match=str(path)):
            read_result(path)
        with pytest.raises(StoreError):
            read_index(path)


@given(blob=st.binary(min_size=0, max_size=4096))
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_bytes_are_never_read_as_a_result(tmp_path, blob):
    path = tmp_path / "blob.h5"
    path.write_bytes(blob)
    assert not is_complete(path)
    with pytest.raises(StoreError):
        read_result(path)


@pytest.mark.parametrize("offset_fraction", [0.1, 0.3, 0.5, 0.7, 0.9])
def test_a_scribbled_result_file_fails_cleanly_or_reads(tmp_path, offset_fraction):
    """Random bytes inside a result file: reading raises StoreError or returns a Result,
    never another exception (silent changes to array bytes are what sweep checksums
    catch: tests/test_sweep_hardening.py)."""
    path = write_result(tmp_path / "r.h5", metrics={"accuracy": 0.5, "n": 3},
                        state={"g": np.arange(4096.0)}, events={"spikes": 10})
    data = bytearray(path.read_bytes())
    start = int(len(data) * offset_fraction)
    data[start:start + 512] = np.random.default_rng(1).bytes(512)
    path.write_bytes(bytes(data))
    try:
        read_result(path)
    except StoreError as err:
        assert str(path) in str(err)


# ------------------------------------------------------------------------- outputs

def test_run_output_that_is_a_folder_or_unwritable_exits_2_before_running(tmp_path, one_line_error):
    folder = tmp_path / "out.h5"
    folder.mkdir()
    err = one_line_error(cli.main(["run", "toy", "-o", str(folder)]), 2)
    assert "is a folder" in err and "-o" in err
    err = one_line_error(cli.main(["run", "toy", "-o", "/proc/neuromem.h5"]), 2)
    assert "cannot write in /proc" in err
    err = one_line_error(cli.main(["run", "toy", "-o", str(tmp_path / "no" / "r.h5")]),
                 2)
    assert "does not exist" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.h5"]


def test_sweep_output_that_is_a_file_or_unwritable(tmp_path, one_line_error):
    card = tmp_path / "s.toml"
    card.write_text('network = "toy"\n')
    afile = tmp_path / "taken"
    afile.write_text("x")
    err = one_line_error(cli.main(["sweep", str(card), "-o", str(afile), "--serial"]),
                 2)
    assert "is a file" in err
    err = one_line_error(cli.main(["sweep", str(card), "-o", "/proc/neuromem_sweep",
                                   "--serial"]), 1)
    assert "/proc/neuromem_sweep" in err
    assert afile.read_text() == "x"


def test_energy_on_a_result_without_energy_inputs_leaves_it_unchanged(tmp_path, one_line_error):
    """(Read-only files cannot be made here: the tests run as root, so unwritable outputs
    are tested under /proc above.)"""
    path = write_result(tmp_path / "r.h5", metrics={"accuracy": 0.5})
    before = path.read_bytes()
    err = one_line_error(cli.main(["energy", str(path)]), 1)
    assert str(path) in err
    assert path.read_bytes() == before


# ------------------------------------------------------------------------- Ctrl-C

def test_ctrl_c_while_writing_leaves_the_previous_result_and_no_partial_file(tmp_path,
                                                                             monkeypatch):
    path = write_result(tmp_path / "r.h5", metrics={"accuracy": 0.25})
    before = path.read_bytes()
    original = h5py.Group.create_dataset
    calls = {"n": 0}

    def interrupted(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)
    monkeypatch.setattr(h5py.Group, "create_dataset", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_result(path, metrics={"accuracy": 0.75}, cards={"a": {}, "b": {}},
                     state={"g": np.zeros(10)})
    monkeypatch.undo()
    assert path.read_bytes() == before and read_result(path).metrics["accuracy"] == 0.25
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.h5"]


def test_sigint_mid_run_exits_130_and_keeps_the_previous_result(tmp_path):
    network = tmp_path / "slow.toml"
    network.write_text(Path(find_card("toy", "networks")).read_text()
                       .replace("sleep_s = 0.0", "sleep_s = 60.0"))
    out = tmp_path / "r.h5"
    write_result(out, metrics={"accuracy": 0.25})
    before = out.read_bytes()
    proc = subprocess.Popen([sys.executable, "-m", "neuromem", "run", str(network), "-o",
                             str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=Path(__file__).resolve().parents[1])
    try:
        time.sleep(2.5)                         # imports done, the task is sleeping
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.h5", "slow.toml"]
    assert not list(tmp_path.glob("*.tmp")) and not (tmp_path / "r_report.png").exists()


# ------------------------------------------------------------------- sweep cards

def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value == math.inf else
                                                "-inf" if value == -math.inf else repr(value))
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


@given(key=st.sampled_from(["data.x", "data.n_draws", "data.sleep_s", "data.crash",
                            "device.g_max_S", "device.levels", "device.g_max_dtod"]),
       values=st.lists(st.one_of(
           st.sampled_from([math.nan, math.inf, -math.inf, -1.0, 0.0, 0, -1, 2.5, True,
                            "", "raise", "100"]),
           st.floats(allow_nan=False, allow_infinity=False, width=32),
           st.integers(min_value=-10, max_value=10)), min_size=1, max_size=4))
@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_sweep_card_is_refused_naming_the_grid_key_or_every_run_resolves(tmp_path, key,
                                                                           values):
    """Up-front validation: a sweep that loads has no run whose cards are invalid."""
    from neuromem.cards import resolve_device
    from neuromem.sweep import load_sweep
    from neuromem.sweep.worker import RunJob, resolve_run
    from neuromem.tasks.toy import ToyData
    texts = list(dict.fromkeys(_toml_value(v) for v in values))
    card = tmp_path / "s.toml"
    card.write_text(f'network = "toy"\n[grid]\n"{key}" = [{", ".join(texts)}]\n')
    try:
        sweep = load_sweep(card)
    except ConfigError as err:
        assert err.file == str(card), err
        assert err.key in (f"grid.{key}", "grid") or err.key.startswith("grid."), err
        return
    for run in sweep.runs:
        job = RunJob(run.run_id, run.replicate, run.seed, run.params, run.overrides,
                     sweep.network_data, str(sweep.network_path), sweep.quick, "unused.h5")
        data, path, device_overrides = resolve_run(job)
        build(ToyData, data.get("data", {}), file=path, section="data")
        resolve_device(data.get("device", "ideal"), device_overrides, file=path)
