"""HDF5 result files: round trip, atomic writes, damaged and foreign files, kill -9."""

import dataclasses
import errno
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neuromem
from neuromem.exceptions import StoreError
from neuromem.store import (COMPRESS_MIN_BYTES, FORMAT_VERSION, Snapshots, is_complete,
                            read_result, summarize, to_json, write_result)


def full_run(rng):
    """Every section filled, with awkward values: nan, inf, None, float32, nesting, empties."""
    g_plus = rng.uniform(1e-6, 1e-4, size=(96, 64))                 # 48 KiB: compressed
    return dict(
        metrics={"accuracy": 0.9123456789012345, "n_test": 500, "converged": True,
                 "label": "digits", "loss": float("nan"), "best": float("inf"),
                 "not_measured": None, "lr": np.float32(0.1), "count": np.int32(-7),
                 "confusion": rng.integers(0, 50, size=(10, 10)),
                 "per_class": [0.5, 0.25, 1.0], "classes": ["yes", "no"],
                 "energy": {"spiking_J": 1.5e-9, "mac_J": 3.25e-8}},
        cards={"network": {"name": "digits_stdp", "layers": [784, 100], "tau_mem_s": 0.02,
                           "w": np.arange(3), "g": np.float64(2.5e-5), "bound": float("inf"),
                           "folder": Path("/data/digits")},
               "device": {"name": "ideal", "parameters": {"g_max_S": 1e-4}}},
        events={"train": {"spikes": 123_456_789_012, "pulses": 42},
                "test": {"spikes": 0, "adc_conversions": np.int64(2**40)}},
        state={"layer0": {"g_plus": g_plus, "g_minus": g_plus[::-1].copy()},
               "threshold_V": rng.normal(size=100).astype(np.float32),
               "faulty": rng.random((8, 8)) < 0.1, "step": np.array(17)},
        raster=[rng.integers(0, 1000, size=(n, 2)).astype(np.int32) for n in (5, 0, 300)],
        snapshots=Snapshots(index=np.array([0, 100, 200]), index_name="sample",
                            arrays={"g_plus": rng.random((3, 6, 4)),
                                    "mean_g": rng.random(3)}),
        seed=20240601, command=["neuromem", "run", "digits_stdp", "--seed", "20240601"],
        extra={"note": "unit test", "values": [1, 2.5, None], "nan": float("nan")},
    )


def assert_tree_equal(got, want):
    """Exact equality of nested dicts: floats and arrays come back bit-identical."""
    assert set(got) == set(want)
    for key, value in want.items():
        if isinstance(value, dict):
            assert_tree_equal(got[key], value)
        elif isinstance(value, (np.ndarray, list)):
            assert isinstance(got[key], np.ndarray), key
            np.testing.assert_array_equal(got[key], np.asarray(value), strict=True)
        elif isinstance(value, float) and math.isnan(value):
            assert math.isnan(got[key]), key
        else:
            # Exact ==: HDF5 stores float64 (and float32) bit-exactly.
            assert got[key] == value and type(got[key]) is type(_plain_type(value)), key


def _plain_type(value):
    return value.item() if isinstance(value, np.generic) else value


def write_full(path, rng, **changes):
    run = full_run(rng)
    run.update(changes)
    return write_result(path, **run), run


# ------------------------------------------------------------------------------ round trip

def test_every_section_round_trips(tmp_path, rng):
    path, run = write_full(tmp_path / "run.h5", rng)
    assert path == tmp_path / "run.h5"
    assert not (tmp_path / "run.h5.tmp").exists()
    result = read_result(path)

    assert result.path == path and result.format_version == FORMAT_VERSION
    assert_tree_equal(result.metrics, run["metrics"])
    assert result.metrics["not_measured"] is None and result.metrics["converged"] is True
    assert_tree_equal(result.events, run["events"])
    assert_tree_equal(result.state, run["state"])

    assert set(result.cards) == {"network", "device"}
    net = result.cards["network"]
    assert net["w"] == [0, 1, 2] and net["g"] == 2.5e-5 and net["bound"] == math.inf
    assert net["folder"] == "/data/digits" and net["layers"] == [784, 100]
    assert result.cards["device"] == run["cards"]["device"]

    assert len(result.raster) == 3
    for got, want in zip(result.raster, run["raster"]):
        np.testing.assert_array_equal(got, want, strict=True)
    assert result.raster[1].shape == (0, 2)

    snaps = result.snapshots
    assert snaps.index_name == "sample"
    np.testing.assert_array_equal(snaps.index, run["snapshots"].index, strict=True)
    assert set(snaps.arrays) == {"g_plus", "mean_g"}
    for name, want in run["snapshots"].arrays.items():
        np.testing.assert_array_equal(snaps.arrays[name], want, strict=True)

    assert result.extra["note"] == "unit test" and result.extra["values"] == [1, 2.5, None]
    assert math.isnan(result.extra["nan"])
    assert result.provenance["seed"] == run["seed"]
    assert result.provenance["command"] == "neuromem run digits_stdp --seed 20240601"


def test_minimal_result_has_empty_sections(tmp_path):
    write_result(tmp_path / "r.h5", metrics={}, command="x")
    result = read_result(tmp_path / "r.h5")
    assert result.metrics == {} and result.events == {} and result.state == {}
    assert result.cards == {} and result.provenance["seed"] is None
    assert result.raster is None and result.snapshots is None and result.extra is None


def test_empty_raster_and_snapshots_given_as_dict(tmp_path):
    snaps = {"index": np.array([0.0, 0.5]), "index_name": "time_s",
             "arrays": {"g": np.zeros((2, 3, 3))}}
    write_result(tmp_path / "r.h5", metrics={}, raster=[], snapshots=snaps)
    result = read_result(tmp_path / "r.h5")
    assert result.raster == []
    assert result.snapshots.index_name == "time_s"
    np.testing.assert_array_equal(result.snapshots.arrays["g"], np.zeros((2, 3, 3)))


def test_provenance(tmp_path):
    before = datetime.now(timezone.utc).replace(microsecond=0)
    write_result(tmp_path / "r.h5", metrics={}, seed=2**100 + 1, command="neuromem run kws")
    prov = read_result(tmp_path / "r.h5").provenance
    assert prov["seed"] == 2**100 + 1                     # beyond 64 bits: kept exactly
    assert prov["command"] == "neuromem run kws"
    assert prov["neuromem_version"] == neuromem.__version__
    assert prov["numpy_version"] == np.__version__ and prov["h5py_version"] == h5py.__version__
    assert prov["python_version"].startswith(".".join(map(str, sys.version_info[:3])))
    assert {"numba_version", "scipy_version", "brian2_version", "platform",
            "hostname"} <= set(prov)
    created = datetime.fromisoformat(prov["created_utc"])
    assert created.utcoffset() == timedelta(0)
    assert before <= created <= datetime.now(timezone.utc)
    checkout = Path(neuromem.__file__).resolve().parent.parent
    if (checkout / ".git").exists():
        assert re.fullmatch(r"[0-9a-f]{40}", prov["git_commit"])
        assert isinstance(prov["git_dirty"], bool)
    else:
        assert prov["git_commit"] is None


def test_command_defaults_to_argv(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["neuromem", "run", "a b"])
    write_result(tmp_path / "r.h5", metrics={}, seed=np.uint32(7))
    prov = read_result(tmp_path / "r.h5").provenance
    assert prov["command"] == "neuromem run 'a b'"
    assert prov["seed"] == 7 and type(prov["seed"]) is int


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(metrics=st.dictionaries(
    st.text(st.characters(blacklist_characters="/\0", blacklist_categories=("Cs",)),
            min_size=1, max_size=8).filter(lambda k: k not in (".", "..")),
    st.floats() | st.integers(-2**63, 2**63 - 1) | st.booleans() | st.none()
    | st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)),
              max_size=20)
    | st.lists(st.floats(), max_size=5),
    max_size=6))
def test_metrics_round_trip_property(tmp_path_factory, metrics):
    path = tmp_path_factory.mktemp("prop") / "r.h5"
    write_result(path, metrics=metrics)
    got = read_result(path).metrics
    assert set(got) == set(metrics)
    for key, value in metrics.items():
        if isinstance(value, list):
            np.testing.assert_array_equal(got[key], np.asarray(value, dtype=float))
        elif isinstance(value, float) and math.isnan(value):
            assert math.isnan(got[key])
        else:
            assert got[key] == value and type(got[key]) is type(value)


def test_to_json_encodings():
    @dataclasses.dataclass
    class Params:
        tau_mem_s: float
        where: Path

    text = to_json({"a": np.arange(2), "b": np.float32(0.25), "c": [np.nan, -np.inf],
                    "p": Params(0.02, Path("x/y")), "s": {3, 1}, "t": (1, 2)})
    assert "NaN" in text and "-Infinity" in text
    back = json.loads(text)
    assert back["a"] == [0, 1] and back["b"] == 0.25 and back["s"] == [1, 3]
    assert back["p"] == {"tau_mem_s": 0.02, "where": "x/y"} and back["t"] == [1, 2]
    assert math.isnan(back["c"][0]) and back["c"][1] == -math.inf
    with pytest.raises(TypeError):
        to_json({"x": object()})


# ----------------------------------------------------------------------------- compression

def test_large_arrays_are_chunked_and_gzipped(tmp_path, rng):
    big = rng.random((128, 128))                                   # 128 KiB
    assert big.nbytes >= COMPRESS_MIN_BYTES
    snaps = Snapshots(index=np.arange(4), arrays={"g": rng.random((4, 16, 8))})
    write_result(tmp_path / "r.h5", metrics={"confusion": np.zeros((300, 300), int)},
                 state={"big": big, "small": rng.random(10), "zeros": np.zeros(10**5)},
                 raster=[np.zeros((20_000, 2), np.int64)], snapshots=snaps)
    with h5py.File(tmp_path / "r.h5", "r") as f:
        assert f["state/big"].compression == "gzip" and f["state/big"].chunks is not None
        assert f["state/small"].compression is None
        assert f["metrics/confusion"].compression == "gzip"
        assert f["raster/spikes"].compression == "gzip"
        zeros = f["state/zeros"]
        assert zeros.id.get_storage_size() < zeros.nbytes / 20    # the filter really runs
        assert f["snapshots/g"].chunks == (1, 16, 8)              # one snapshot per chunk
        assert f["snapshots/g"].compression == "gzip"
    np.testing.assert_array_equal(read_result(tmp_path / "r.h5").state["big"], big)


# ------------------------------------------------------------------------------- atomicity

@pytest.fixture
def previous(tmp_path, rng):
    """A complete result already at the path, and its bytes."""
    path, _ = write_full(tmp_path / "run.h5", rng, metrics={"accuracy": 0.5})
    return path, path.read_bytes()


def assert_intact(path, data):
    assert path.read_bytes() == data
    assert read_result(path).metrics["accuracy"] == 0.5
    assert not path.with_name(path.name + ".tmp").exists()


def failing_after(n, exc):
    """A replacement for h5py.Group.create_dataset that raises on its n-th call."""
    original = h5py.Group.create_dataset
    calls = []

    def create_dataset(self, *args, **kwargs):
        calls.append(1)
        if len(calls) >= n:
            raise exc
        return original(self, *args, **kwargs)
    return create_dataset


@pytest.mark.parametrize("with_previous", [False, True])
def test_failure_mid_write_leaves_no_file_and_keeps_previous(tmp_path, rng, with_previous,
                                                             monkeypatch):
    path = tmp_path / "run.h5"
    if with_previous:
        write_full(path, rng, metrics={"accuracy": 0.5})
        data = path.read_bytes()
    monkeypatch.setattr(h5py.Group, "create_dataset", failing_after(4, RuntimeError("boom")))
    with pytest.raises(StoreError, match="boom") as info:
        write_full(path, rng)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert not path.with_name("run.h5.tmp").exists()
    if with_previous:
        monkeypatch.undo()
        assert_intact(path, data)
    else:
        assert list(tmp_path.iterdir()) == []


def test_failure_in_replace_keeps_previous(previous, rng, monkeypatch):
    path, data = previous

    def broken_replace(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied", str(dst))
    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(StoreError, match="Permission denied"):
        write_full(path, rng)
    assert_intact(path, data)


def test_interrupt_passes_through_and_cleans_up(previous, rng, monkeypatch):
    path, data = previous
    monkeypatch.setattr(h5py.Group, "create_dataset", failing_after(2, KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        write_full(path, rng)
    monkeypatch.undo()
    assert_intact(path, data)


@pytest.mark.parametrize("where", ["write", "fsync"])
def test_disk_full_is_reported_and_previous_kept(previous, rng, monkeypatch, where):
    path, data = previous
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    if where == "write":
        monkeypatch.setattr(h5py.Group, "create_dataset", failing_after(3, full))
    else:
        def fsync(fd):
            raise full
        monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(StoreError) as info:
        write_full(path, rng)
    message = str(info.value)
    assert "disk is full" in message and str(path) in message and "unchanged" in message
    monkeypatch.undo()
    assert_intact(path, data)


def test_stale_tmp_is_replaced(tmp_path):
    (tmp_path / "r.h5.tmp").write_bytes(b"left by a killed writer")
    write_result(tmp_path / "r.h5", metrics={"a": 1})
    assert read_result(tmp_path / "r.h5").metrics == {"a": 1}
    assert not (tmp_path / "r.h5.tmp").exists()


@pytest.mark.parametrize("changes, match", [
    ({"metrics": {"a": object()}}, "metrics/a"),
    ({"metrics": {"a/b": 1}}, "metrics"),
    ({"events": {"train": {"": 1}}}, "events/train"),
    ({"state": {"a\0b": np.zeros(2)}}, "NUL"),
    ({"metrics": {"label": "a\0b"}}, "metrics/label: HDF5 strings cannot hold NUL"),
    ({"metrics": {"huge": 2**70}}, "64 bits"),
    ({"metrics": None}, "metrics"),
    ({"state": {"layer": {"w": np.array([object()])}}}, "state/layer/w"),
    ({"cards": {"network": {"x": object()}}}, "card 'network'"),
    ({"extra": {"x": {1, object()}}}, "extra"),
    ({"raster": [np.zeros((3, 3), int)]}, r"raster\[0\]"),
    ({"raster": [np.zeros((3, 2))]}, "integers"),
    ({"snapshots": Snapshots(index=np.arange(2), arrays={"g": np.zeros((3, 4))})},
     "snapshots/g"),
    ({"seed": 1.5}, "seed"),
])
def test_unstorable_values_are_refused(previous, rng, changes, match):
    path, data = previous
    with pytest.raises(StoreError, match=match) as info:
        write_full(path, rng, **changes)
    assert str(path) in str(info.value)
    assert_intact(path, data)


def test_missing_folder(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        write_result(tmp_path / "nope" / "r.h5", metrics={})


# --------------------------------------------------------------------- bad files on reading

def assert_unreadable(path, match):
    with pytest.raises(StoreError, match=match) as info:
        read_result(path)
    assert str(path) in str(info.value)
    with pytest.raises(StoreError, match=match):
        summarize(path)
    assert is_complete(path) is False


def test_missing_file(tmp_path):
    assert_unreadable(tmp_path / "absent.h5", "no such result file")


def test_text_file(tmp_path):
    path = tmp_path / "notes.h5"
    path.write_text("accuracy = 0.9\n")
    assert_unreadable(path, "not a readable HDF5 file")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.h5"
    path.touch()
    assert_unreadable(path, "not a readable HDF5 file")


def test_truncated_file(tmp_path, rng):
    path, _ = write_full(tmp_path / "run.h5", rng)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert_unreadable(path, "not a readable HDF5 file")


def test_foreign_hdf5(tmp_path, rng):
    path = tmp_path / "foreign.h5"
    with h5py.File(path, "w") as f:
        f["data"] = rng.random(10)
    assert_unreadable(path, "not a neuromem result")


def test_incomplete_file(tmp_path, rng):
    path, _ = write_full(tmp_path / "run.h5", rng)
    with h5py.File(path, "r+") as f:
        del f.attrs["complete"]
    assert_unreadable(path, "incomplete")


def test_newer_format_version(tmp_path, rng):
    path, _ = write_full(tmp_path / "run.h5", rng)
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = FORMAT_VERSION + 1
    with pytest.raises(StoreError, match="newer") as info:
        read_result(path)
    assert str(path) in str(info.value)
    assert is_complete(path) is True                  # complete, just not readable here


def test_damaged_member(tmp_path, rng):
    path, _ = write_full(tmp_path / "run.h5", rng)
    with h5py.File(path, "r+") as f:
        del f["cards/network"]
        f["cards/network"] = "{not json"
    with pytest.raises(StoreError, match="damaged result file"):
        read_result(path)


def test_is_complete(tmp_path, rng):
    path, _ = write_full(tmp_path / "run.h5", rng)
    assert is_complete(path) is True and is_complete(str(path)) is True
    assert is_complete(tmp_path) is False             # a folder


# --------------------------------------------------------------------------------- summary

def test_summarize(tmp_path, rng):
    path, _ = write_full(tmp_path / "run.h5", rng)
    text = summarize(path)
    lines = text.splitlines()
    assert lines[0].startswith(str(path)) and "neuromem-result v1" in lines[0]
    assert "seed      20240601" in text and "neuromem run digits_stdp" in text
    assert "cards     network, device" in text
    assert re.search(r"accuracy\s+0\.912346", text)
    assert re.search(r"confusion\s+int64 \(10, 10\)", text)
    assert re.search(r"energy/mac_J\s+3\.25e-08", text)
    assert re.search(r"train/spikes\s+123,456,789,012", text)
    assert re.search(r"layer0/g_plus\s+float64 \(96, 64\)\s+48\.0 KiB -> .* stored \(gzip\)",
                     text)
    assert "raster    3 samples, 305 spikes" in text
    assert "snapshots 3 (sample 0 .. 200)" in text
    assert "extra     note, values, nan" in text
    assert not text.endswith("\n")


# ------------------------------------------------------------------------------- kill -9

WRITER = """
import sys
import numpy as np
from neuromem.store import write_result
rng = np.random.default_rng(int(sys.argv[2]))
state = {"g": rng.random((200, 200)), "h": rng.random((150, 150))}
print("ready", flush=True)
i = 0
while True:
    i += 1
    write_result(sys.argv[1], metrics={"iteration": i, "accuracy": 0.5},
                 state=state, events={"spikes": i * 1000}, seed=i, command="kill test",
                 raster=[rng.integers(0, 100, size=(1000, 2))])
"""


@pytest.mark.slow
def test_kill_9_never_leaves_a_damaged_file(tmp_path, rng):
    if not hasattr(signal, "SIGKILL"):
        pytest.skip("no SIGKILL on this platform")
    path = tmp_path / "run.h5"
    deadline = time.monotonic() + 25
    seen_iterations = []
    for kill in range(10):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(kill)],
                                stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.02, 0.2))
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait(timeout=10)
            proc.stdout.close()
        assert proc.returncode == -signal.SIGKILL
        if path.exists():
            assert is_complete(path)
            result = read_result(path)
            assert result.metrics["accuracy"] == 0.5
            assert result.events["spikes"] == 1000 * result.metrics["iteration"]
            seen_iterations.append(result.metrics["iteration"])
        assert time.monotonic() < deadline, "kill test took too long"
    assert seen_iterations, "the writer never finished a single file in 10 runs"
