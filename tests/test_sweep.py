"""Sweeps: card expansion, identities and seeds, engines agreeing bit for bit, and recovery
from killed drivers, killed workers, damaged files and a full disk.

Most tests use the ``toy`` task (neuromem/tasks/toy.py): seeded normal draws, an optional
sleep and an optional crash, so they test the sweep machinery, not the simulator. Results are
compared with exact equality on purpose: the claim under test is bit-identical results
whichever engine runs a run, in whatever order.
"""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from neuromem import cli
from neuromem.exceptions import ConfigError, StoreError
from neuromem.store import is_complete
from neuromem.sweep import (load_sweep, read_index, run_seed, run_sweep, shard_path,
                            summarize_sweep)

X_VALUES = [round(0.5 * k, 1) for k in range(25)]
TOY_50 = f"""
network = "toy"
base_seed = 11
replicates = 2

[fixed]
"data.n_draws" = 6

[grid]
"data.x" = {X_VALUES}
"""


@pytest.fixture(scope="module")
def toy50(tmp_path_factory, write_card):
    """The 50-run toy sweep, run serially once: (card path, index)."""
    folder = tmp_path_factory.mktemp("toy50")
    card = write_card(folder, TOY_50)
    report = run_sweep(card, folder / "serial", engine="serial")
    assert report.n_done == 50 and report.n_failed == 0
    return card, read_index(folder / "serial")


# ------------------------------------------------------------------------- cards and seeds

def test_grid_expansion_identities_and_seeds(tmp_path, write_card):
    card = write_card(tmp_path, TOY_50)
    sweep = load_sweep(card)
    assert sweep.mode == "grid" and sweep.swept == ("data.x",)
    assert len(sweep.runs) == 50 and sweep.describe() == "25 points x 2 replicates = 50 runs"
    ids = [run.run_id for run in sweep.runs]
    assert len(set(ids)) == 50 and all(len(i) == 16 and int(i, 16) >= 0 for i in ids)
    assert [run.replicate for run in sweep.runs[:4]] == [0, 1, 0, 1]
    assert [run.params["data.x"] for run in sweep.runs[::2]] == X_VALUES
    for run in sweep.runs:
        assert run.seed == run_seed(11, run.run_id) and 0 <= run.seed < 2**63
        assert run.overrides == {"data.n_draws": 6, "data.x": run.params["data.x"]}
    # The same card gives the same runs; another base seed or [fixed] value other runs.
    assert [r.run_id for r in load_sweep(card).runs] == ids
    other = load_sweep(write_card(tmp_path, TOY_50.replace("base_seed = 11", "base_seed = 12"),
                                  "other.toml"))
    assert not set(ids) & {r.run_id for r in other.runs}
    # Adding grid values keeps the runs the two sweeps share (ids and seeds).
    grown = load_sweep(write_card(tmp_path, TOY_50.replace('"data.x" = [', '"data.x" = [99.0, '),
                                  "grown.toml"))
    shared = {r.run_id: r.seed for r in grown.runs}
    assert all(shared[r.run_id] == r.seed for r in sweep.runs) and len(shared) == 52
    assert grown.hash != sweep.hash


def test_nested_keys_and_device_keys(tmp_path, write_card):
    card = write_card(tmp_path, """
network = "toy"
[fixed]
data.n_draws = 3
[grid.device]
g_max_dtod = [0.0, 0.25]
""")
    sweep = load_sweep(card)
    assert sweep.fixed == {"data.n_draws": 3} and sweep.swept == ("device.g_max_dtod",)
    assert len(sweep.runs) == 2 and sweep.mode == "grid"


def test_random_draws_are_deterministic_in_range_and_stable(tmp_path, write_card):
    text = """
network = "toy"
base_seed = 5
[random]
n_samples = {n}
"data.x" = {{uniform = [-1.0, 1.0]}}
"data.sleep_s" = {{loguniform = [1e-4, 1e-2]}}
"data.n_draws" = {{int = [1, 3]}}
device = {{choice = ["ideal", "taox_hfox_wu2018"]}}
"device.g_max_dtod" = {{normal = [0.2, 0.01]}}
"""
    sweep = load_sweep(write_card(tmp_path, text.format(n=40)))
    assert sweep.mode == "random" and len(sweep.runs) == 40
    params = [run.params for run in sweep.runs]
    assert all(-1 <= p["data.x"] <= 1 and 1e-4 <= p["data.sleep_s"] <= 1e-2 for p in params)
    assert {p["data.n_draws"] for p in params} == {1, 2, 3}
    assert {p["device"] for p in params} == {"ideal", "taox_hfox_wu2018"}
    assert abs(np.mean([p["device.g_max_dtod"] for p in params]) - 0.2) < 0.01
    assert [r.sample for r in sweep.runs[:3]] == [0, 1, 2]
    more = load_sweep(write_card(tmp_path, text.format(n=50), "more.toml"))
    assert [r.params for r in more.runs[:40]] == params
    assert [r.run_id for r in more.runs[:40]] == [r.run_id for r in sweep.runs]


def test_seed_in_the_grid_is_the_run_seed(tmp_path, write_card):
    sweep = load_sweep(write_card(tmp_path, 'network = "toy"\n[grid]\nseed = [3, 4]\n'))
    assert [r.seed for r in sweep.runs] == [3, 4]
    with pytest.raises(ConfigError, match="replicates"):
        load_sweep(write_card(tmp_path, 'network = "toy"\nreplicates = 2\n[grid]\nseed = [3, 4]\n'))


@pytest.mark.parametrize("text,key", [
    ('network = "toy"\nrepeats = 2\n', "repeats"),
    ('base_seed = 1\n', "network"),
    ('network = "toy"\nreplicates = 0\n', "replicates"),
    ('network = "toy"\n[grid]\n', "grid"),
    ('network = "toy"\n[grid]\n"data.x" = []\n', "grid.data.x"),
    ('network = "toy"\n[grid]\n"data.x" = 1.0\n', "grid.data.x"),
    ('network = "toy"\n[grid]\n"data.x" = [1.0, 1.0]\n', "grid.data.x"),
    ('network = "toy"\n[random]\nn_samples = 3\n"data.x" = {uniform = [2.0, 1.0]}\n',
     "random.data.x"),
    ('network = "toy"\n[random]\nn_samples = 3\n"data.x" = {gaussian = [0.0, 1.0]}\n',
     "random.data.x"),
    ('network = "toy"\n[random]\nn_samples = 3\n"data.x" = {loguniform = [0.0, 1.0]}\n',
     "random.data.x"),
    ('network = "toy"\n[random]\n"data.x" = {uniform = [0.0, 1.0]}\n', "random.n_samples"),
    ('network = "toy"\n[grid]\n"data.x" = [1.0]\n[random]\nn_samples = 2\n', "random"),
    ('network = "toy"\n[fixed]\n"data.x" = 1.0\n[grid]\n"data.x" = [2.0]\n', "data.x"),
    ('network = "toy"\n[grid]\n"nosuch.x" = [1]\n', "grid.nosuch.x"),
    ('network = "toy"\n[grid]\n"device.g_maxx_S" = [1e-6]\n', "grid.device.g_maxx_S"),
    ('network = "toy"\n[grid]\ndevice = ["ideal", "taox"]\n', "grid.device"),
    ('network = "toy"\n[grid]\n"quick.x" = [1]\n', "grid.quick.x"),
    ('network = "toy"\n[fixed]\nseed = 3\n', "fixed.seed"),
])
def test_invalid_sweep_cards_name_file_and_key(tmp_path, text, key, write_card):
    card = write_card(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_sweep(card)
    assert info.value.file == str(card) and info.value.key == key, str(info.value)


def test_unknown_network_card(tmp_path, write_card):
    with pytest.raises(ConfigError, match="did you mean 'toy'"):
        load_sweep(write_card(tmp_path, 'network = "tyo"\n'))


def test_quick_applies_the_network_cards_quick_table(tmp_path, toy50, write_card):
    card = write_card(tmp_path, 'network = "toy"\nquick = true\n')
    run_sweep(card, tmp_path / "q", engine="serial")
    assert read_index(tmp_path / "q")["metrics.n_draws"].tolist() == [2]


# ---------------------------------------------------------------------- engines agree

def test_serial_outputs_manifest_shards_and_index(toy50):
    card, index = toy50
    folder = card.parent / "serial"
    sweep = load_sweep(card)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["sweep_hash"] == sweep.hash and manifest["swept"] == ["data.x"]
    assert [r["run_id"] for r in manifest["runs"]] == [r.run_id for r in sweep.runs]
    assert manifest["runs"][3]["params"] == {"data.x": 0.5}
    for run in sweep.runs:
        assert is_complete(shard_path(folder, run.run_id))
    assert index["run_id"].tolist() == [r.run_id for r in sweep.runs]
    assert index["seed"].tolist() == [r.seed for r in sweep.runs]
    assert index["data.x"].dtype == np.float64 and index["metrics.label"].dtype.kind == "U"
    assert index["metrics.n_draws"].dtype == np.int64
    assert index["metrics.positive"].dtype == bool
    # each row's metrics are those of its own shard, computed from its own seed
    for k in (0, 17, 49):
        draws = np.random.default_rng(int(index["seed"][k])).standard_normal(6)
        assert index["metrics.mean"][k] == float(draws.mean())
        assert index["metrics.x_plus_mean"][k] == index["data.x"][k] + float(draws.mean())
    with h5py.File(folder / "results.h5") as f:
        assert f.attrs["n_complete"] == 50 and f.attrs["n_failed"] == 0
    text = summarize_sweep(folder / "results.h5")
    assert "50 complete, 0 failed" in text and "x_plus_mean" in text


def test_pool_gives_the_same_index_as_serial(toy50, tmp_path, assert_same_index):
    card, index = toy50
    report = run_sweep(card, tmp_path / "pool", engine="pool", workers=2)
    assert report.n_done == 50 and report.workers == 2 and report.warm_runs == 50
    assert_same_index(read_index(tmp_path / "pool"), index)


@pytest.mark.dask
def test_dask_local_cluster_gives_the_same_index_as_serial(toy50, tmp_path, assert_same_index):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        report = run_sweep(toy50[0], tmp_path / "dask", scheduler=cluster.scheduler_address)
    assert report.engine == "dask" and report.n_done == 50 and report.warm_runs == 50
    assert_same_index(read_index(tmp_path / "dask"), toy50[1])


@pytest.mark.dask
def test_real_dask_scheduler_and_worker_serve_the_cli(tmp_path, assert_same_index, neuromem_cli,
                                                      write_card, dask_cluster):
    card = write_card(tmp_path, 'network = "toy"\nbase_seed = 4\n[grid]\n'
                                '"data.x" = [0.0, 1.0, 2.0]\n"data.n_draws" = [2, 3]\n')
    run_sweep(card, tmp_path / "serial", engine="serial")
    address = dask_cluster.start()
    out = neuromem_cli("sweep", card, "-o", tmp_path / "dask", "--scheduler", address, "--json")
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout)
    assert report["engine"] == "dask" and report["n_done"] == 6
    dask_cluster.stop()
    assert_same_index(read_index(tmp_path / "dask"), read_index(tmp_path / "serial"))


# ---------------------------------------------------------------------------- recovery

def _shards(folder: Path) -> list[Path]:
    return sorted((folder / "runs").glob("*/*.h5"))


@pytest.mark.slow
def test_kill_9_of_the_driver_then_resume_equals_an_uninterrupted_sweep(
        tmp_path, assert_same_index, neuromem_cli, write_card):
    card = write_card(tmp_path, TOY_50.replace('"data.n_draws" = 6',
                                               '"data.n_draws" = 6\n"data.sleep_s" = 0.03'))
    run_sweep(card, tmp_path / "reference", engine="serial")
    reference = read_index(tmp_path / "reference")
    folder = tmp_path / "killed"
    rng = np.random.default_rng(2024)
    thresholds = sorted(rng.choice(np.arange(3, 44), size=3, replace=False).tolist())
    engines = [["--workers", "2"], ["--serial"], ["--serial"]]
    for k, (threshold, engine) in enumerate(zip(thresholds, engines)):
        args = ["sweep", card, "-o", folder, *engine] + (["--resume"] if k else [])
        proc = subprocess.Popen([sys.executable, "-m", "neuromem", *map(str, args)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 600   # a cold numba cache is compiled first
            while len(_shards(folder)) < threshold and proc.poll() is None:
                assert time.monotonic() < deadline, "the sweep made no progress"
                time.sleep(0.005)
            time.sleep(float(rng.uniform(0, 0.03)))
            assert proc.poll() is None, proc.stderr.read()[-2000:]
        finally:
            proc.kill()
            proc.wait(timeout=30)
        assert all(is_complete(path) for path in _shards(folder))  # never a damaged shard
    time.sleep(0.5)                           # orphaned pool workers notice and exit
    out = neuromem_cli("sweep", card, "-o", folder, "--resume", "--workers", "2", "--json")
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout)
    assert report["n_skipped"] >= thresholds[-1] and report["n_skipped"] + report["n_done"] == 50
    assert len(_shards(folder)) == 50 and not list(folder.rglob("*.tmp"))
    index = read_index(folder)
    assert len(set(index["run_id"])) == 50
    assert_same_index(index, reference)


@pytest.mark.slow
def test_ctrl_c_leaves_a_resumable_sweep(tmp_path, toy50, write_card):
    card = write_card(tmp_path, TOY_50.replace('"data.n_draws" = 6',
                                               '"data.n_draws" = 6\n"data.sleep_s" = 0.05'))
    folder = tmp_path / "interrupted"
    proc = subprocess.Popen([sys.executable, "-m", "neuromem", "sweep", str(card), "-o",
                             str(folder), "--workers", "2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 600       # a cold numba cache is compiled first
        while len(_shards(folder)) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err[-2000:]
    assert "--resume" in err and "Traceback" not in err
    assert 5 <= len(_shards(folder)) < 50
    report = run_sweep(card, folder, resume=True, engine="serial")
    assert report.n_skipped + report.n_done == 50 and len(_shards(folder)) == 50


def test_a_run_that_kills_its_worker_fails_alone(tmp_path, write_card):
    card = write_card(tmp_path, """
network = "toy"
[fixed]
"data.crash" = "exit"
"data.crash_x" = 3.0
[grid]
"data.x" = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
""")
    report = run_sweep(card, tmp_path / "out", engine="pool", workers=2, warm=False)
    assert report.n_done == 7 and report.n_failed == 1 and report.worker_deaths >= 3
    bad = next(r for r in load_sweep(card).runs if r.params["data.x"] == 3.0)
    record = json.loads((tmp_path / "out" / "failed" / f"{bad.run_id}.json").read_text())
    assert record["reason"] == "worker_died" and record["worker_deaths"] == 3
    assert record["params"] == {"data.x": 3.0} and record["seed"] == bad.seed
    index = read_index(tmp_path / "out")
    assert sorted(index["data.x"].tolist()) == [0.0, 1.0, 2.0, 4.0, 5.0, 6.0, 7.0]
    with h5py.File(tmp_path / "out" / "results.h5") as f:
        assert f["failed/run_id"].asstr()[()].tolist() == [bad.run_id]
        assert f.attrs["n_failed"] == 1


def test_a_raising_run_is_recorded_with_its_traceback(tmp_path, capsys, write_card):
    card = write_card(tmp_path, 'network = "toy"\n[fixed]\n"data.crash" = "raise"\n'
                                '"data.crash_x" = 1.0\n[grid]\n"data.x" = [0.0, 1.0, 2.0]\n')
    assert cli.main(["sweep", str(card), "-o", str(tmp_path / "out"), "--serial"]) == 1
    err = capsys.readouterr().err
    assert "1 of 3 runs failed" in err and "crashed on purpose" in err
    (record,) = [json.loads(p.read_text()) for p in (tmp_path / "out" / "failed").iterdir()]
    assert record["reason"] == "error" and "RuntimeError" in record["traceback"]
    assert len(read_index(tmp_path / "out")["run_id"]) == 2
    # --resume retries failed runs (this one fails again) and keeps the others
    report = run_sweep(card, tmp_path / "out", engine="serial", resume=True)
    assert report.n_skipped == 2 and report.n_failed == 1


def test_truncated_shard_and_stray_tmp_are_redone_on_resume(toy50, tmp_path, assert_same_index):
    card, index = toy50
    folder = tmp_path / "out"
    run_sweep(card, folder, engine="serial")
    victim = _shards(folder)[7]
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    (victim.parent / "0123456789abcdef.h5.tmp").write_bytes(b"half a file")
    (folder / "results.h5.tmp").write_bytes(b"")
    report = run_sweep(card, folder, engine="serial", resume=True)
    assert (report.n_truncated, report.n_stray_tmp, report.n_done) == (1, 2, 1)
    assert report.n_skipped == 49 and is_complete(victim)
    assert not list(folder.rglob("*.tmp"))
    assert_same_index(read_index(folder), index)


def test_existing_folder_and_changed_sweep_are_refused(toy50, tmp_path, neuromem_cli, write_card):
    card, _ = toy50
    folder = tmp_path / "out"
    run_sweep(card, folder, engine="serial")
    out = neuromem_cli("sweep", card, "-o", folder, "--serial")
    assert out.returncode == 2 and "--resume" in out.stderr and "-o" in out.stderr
    changed = write_card(tmp_path, TOY_50.replace('"data.x" = [', '"data.x" = [99.0, '))
    with pytest.raises(ConfigError, match="--force"):
        run_sweep(changed, folder, engine="serial", resume=True)
    out = neuromem_cli("sweep", changed, "-o", folder, "--serial", "--resume")
    assert out.returncode == 2 and "--force" in out.stderr
    report = run_sweep(changed, folder, engine="serial", resume=True, force=True)
    assert (report.n_skipped, report.n_done) == (50, 2)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["sweep_hash"] == load_sweep(changed).hash and manifest["n_runs"] == 52
    assert len(read_index(folder)["run_id"]) == 52
    with pytest.raises(ConfigError, match="holds no sweep"):
        (tmp_path / "other").mkdir()
        (tmp_path / "other" / "notes.txt").write_text("mine")
        run_sweep(card, tmp_path / "other", engine="serial")


def _disk_full_after(limit: int):
    calls = {"n": 0}
    original = h5py.Group.create_dataset

    def create_dataset(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > limit:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return original(self, *args, **kwargs)
    return create_dataset


def test_a_full_disk_stops_the_sweep_and_loses_no_committed_run(toy50, tmp_path, monkeypatch,
                                                                capsys, assert_same_index):
    card, index = toy50
    folder = tmp_path / "out"
    per_shard = []                      # datasets a toy shard holds: the 11th shard fails
    with h5py.File(_shards(card.parent / "serial")[0]) as f:
        f.visititems(lambda name, obj: per_shard.append(name)
                     if isinstance(obj, h5py.Dataset) else None)
    monkeypatch.setattr(h5py.Group, "create_dataset", _disk_full_after(10 * len(per_shard) + 2))
    with pytest.raises(StoreError) as info:
        run_sweep(card, folder, engine="serial")
    message = str(info.value)
    assert "\n" not in message and "disk is full" in message and "--resume" in message
    assert len(_shards(folder)) == 10 and all(is_complete(p) for p in _shards(folder))
    assert not list(folder.rglob("*.tmp")) and not list((folder / "failed").iterdir())
    assert not (folder / "results.h5").exists()
    # the command line says it in one line and exits with 1
    assert cli.main(["sweep", str(card), "-o", str(folder), "--serial", "--resume"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("neuromem: error:") and "disk is full" in err
    monkeypatch.undo()
    report = run_sweep(card, folder, engine="serial", resume=True)
    assert report.n_skipped == 10 and report.n_done == 40
    assert_same_index(read_index(folder), index)


def test_inspect_reads_results_shards_and_unfinished_folders(toy50, tmp_path, capsys):
    card, _ = toy50
    folder = card.parent / "serial"
    assert cli.main(["inspect", str(folder / "results.h5")]) == 0
    assert "neuromem-sweep" in capsys.readouterr().out
    assert cli.main(["inspect", str(_shards(folder)[0])]) == 0
    assert "neuromem-result" in capsys.readouterr().out
    unfinished = tmp_path / "unfinished"
    run_sweep(card, unfinished, engine="serial")
    (unfinished / "results.h5").unlink()
    _shards(unfinished)[0].unlink()
    assert cli.main(["inspect", str(unfinished)]) == 0
    out = capsys.readouterr().out
    assert "49 of 50 saved" in out and "--resume" in out


@pytest.mark.slow
def test_small_digits_sweep_in_the_pool(tmp_path, write_card):
    card = write_card(tmp_path, """
network = "digits_stdp"
base_seed = 3
replicates = 2
quick = true
[fixed]
"data.n_train" = 100
"network.n_exc" = 20
[grid]
"device.g_max_dtod" = [0, 0.5]
""")
    report = run_sweep(card, tmp_path / "out", engine="pool", workers=2)
    assert report.n_done == 4 and report.n_failed == 0
    index = read_index(tmp_path / "out")
    assert index["device.g_max_dtod"].tolist() == [0.0, 0.0, 0.5, 0.5]
    assert index["replicate"].tolist() == [0, 1, 0, 1]
    assert np.all((index["metrics.accuracy"] >= 0) & (index["metrics.accuracy"] <= 1))
    assert index["metrics.n_exc"].tolist() == [20] * 4
    assert index["metrics.n_train"].tolist() == [100] * 4


def test_builtin_example_sweep_card_loads():
    sweep = load_sweep("digits_dtod")
    assert sweep.network_path.name == "digits_stdp.toml" and sweep.quick
    assert sweep.swept == ("device.g_max_dtod",) and len(sweep.runs) == 15


@pytest.mark.slow
def test_overhead_benchmark_writes_its_json(tmp_path):
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "sweep_overhead.py"
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(script), "--runs", "2", "--run-seconds", "0.01",
                           "--workers", "2", "--engines", "pool", "--json", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (row,) = json.loads(out.read_text())["rows"]
    assert row["engine"] == "pool" and row["n_runs"] == 2 and row["workers"] == 2
    for key in ("overhead_ms_per_run", "overhead_pct", "dispatch_ms_per_run",
                "shard_write_ms_per_run", "startup_s"):
        assert np.isfinite(row[key])
    assert row["shard_write_ms_per_run"] > 0 and "goal:" in proc.stdout


def test_sweep_modules_import_in_one_direction():
    """The driver and the results merge share neuromem.sweep.layout and import neither each
    other nor the ledger at module level (the former driver <-> results cycle)."""
    import ast
    from pathlib import Path

    import neuromem.sweep as pkg

    folder = Path(pkg.__file__).parent

    def top_imports(name):
        tree = ast.parse((folder / f"{name}.py").read_text())
        return {n.module for n in tree.body if isinstance(n, ast.ImportFrom) and n.module}

    assert "neuromem.sweep.driver" not in top_imports("results")
    assert "neuromem.sweep.results" not in top_imports("driver")
    assert not {m for m in top_imports("layout") if m.startswith("neuromem.sweep")}
