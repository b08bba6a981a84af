"""Sweeps hardened: up-front validation of every point, shard checksums (resume, merge,
``inspect --verify``), manifest repair, idempotent commits and late shards, Dask with a
relative output path and a worker that cannot write, ``sweep status``.

The toy task (neuromem/tasks/toy.py) keeps these fast; results are compared exactly, since
the claim is that a rerun shard is bit-identical in content to the serial reference.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from neuromem import cli
from neuromem.exceptions import ConfigError, NeuromemError
from neuromem.store import file_sha256, is_complete
from neuromem.sweep import load_sweep, read_index, run_sweep, shard_path
from neuromem.sweep.ledger import read_journal, sweep_status, verify_sweep
from neuromem.sweep.results import merge_results
from neuromem.sweep.worker import commit_shard, probe_folder

TOY = """
network = "toy"
base_seed = 7
replicates = 2
[fixed]
"data.n_draws" = 5
[grid]
"data.x" = [0.0, 1.0, 2.0, 3.0, 4.0]
"""


@pytest.fixture(scope="module")
def reference(tmp_path_factory, write_card):
    folder = tmp_path_factory.mktemp("ref")
    card = write_card(folder, TOY)
    report = run_sweep(card, folder / "serial", engine="serial")
    assert report.n_done == 10
    return card, read_index(folder / "serial")


def _shards(folder: Path) -> list[Path]:
    return sorted((folder / "runs").glob("*/*.h5"))


# ---------------------------------------------------------------- up-front validation

@pytest.mark.parametrize("table,value,key,expect", [
    ("grid", '"network.n_exct" = [10, 20]', "grid.network.n_exct", "did you mean 'n_exc'"),
    ("fixed", '"data.n_train" = "100"', "fixed.data.n_train", "expected an integer"),
    ("grid", '"network.n_exc" = [20, 20.5]', "grid.network.n_exc", "20.5"),
    ("grid", '"device.g_max_dtod" = [0.1, -1.0]', "grid.device.g_max_dtod", "-1.0"),
    ("grid", '"neuron.tau_mem_s" = [0.02, nan]', "grid.neuron.tau_mem_s", "nan"),
])
def test_every_points_resolved_cards_are_validated_before_any_run(tmp_path, table, value, key,
                                                                  expect, write_card,
                                                                  neuromem_cli):
    card = write_card(tmp_path, f'network = "digits_stdp"\nquick = true\n[{table}]\n{value}\n')
    with pytest.raises(ConfigError) as info:
        load_sweep(card)
    err = info.value
    assert err.file == str(card) and err.key == key and expect in str(err), str(err)
    # the command line exits 2 with that one line and starts nothing
    out = tmp_path / "out"
    proc = neuromem_cli("sweep", card, "-o", out, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert str(card) in proc.stderr and key in proc.stderr and not out.exists()


def test_the_last_of_many_points_is_checked_too(tmp_path, write_card):
    values = [float(k) for k in range(2000)] + [float("inf")]
    text = 'network = "toy"\n[grid]\n"data.sleep_s" = [' + ", ".join(
        "inf" if v == float("inf") else repr(v) for v in values) + "]\n"
    with pytest.raises(ConfigError) as info:
        load_sweep(write_card(tmp_path, text))
    assert info.value.key == "grid.data.sleep_s" and "inf" in str(info.value)


# ------------------------------------------------------------------------- checksums

def _scribble(path: Path, n: int = 4096, seed: int = 0) -> None:
    """Overwrite `n` bytes in the middle of a file with random bytes (same size)."""
    size = path.stat().st_size
    data = bytearray(path.read_bytes())
    start = (size - n) // 2
    data[start:start + n] = np.random.default_rng(seed).bytes(n)
    path.write_bytes(bytes(data))
    assert path.stat().st_size == size


def _flip_draws(path: Path, seed: int = 0) -> None:
    """Overwrite the raw bytes of the shard's ``state/draws`` array: a silent change (the
    file stays a complete, readable result whose numbers differ)."""
    with h5py.File(path) as f:
        ds = f["state/draws"]
        offset, nbytes, before = ds.id.get_offset(), ds.id.get_storage_size(), ds[()]
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(np.random.default_rng(seed).bytes(nbytes))
    with h5py.File(path) as f:
        assert not np.array_equal(f["state/draws"][()], before)
    assert is_complete(path)


def test_checksums_are_recorded_in_the_journal_and_manifest(reference, tmp_path):
    card, _ = reference
    folder = tmp_path / "out"
    run_sweep(card, folder, engine="serial")
    journal = read_journal(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert len(journal) == 10
    for run in manifest["runs"]:
        shard = shard_path(folder, run["run_id"])
        assert run["sha256"] == journal[run["run_id"]]["sha256"] == file_sha256(shard)
        assert run["bytes"] == shard.stat().st_size
    assert not list(folder.rglob("*.part"))


def test_a_corrupted_shard_is_detected_rerun_and_reported_on_resume(reference, tmp_path, capsys,
                                                                    assert_same_index):
    card, index = reference
    folder = tmp_path / "out"
    run_sweep(card, folder, engine="serial")
    victim = _shards(folder)[3]
    _flip_draws(victim)
    assert cli.main(["inspect", "--verify", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "1 corrupt" in out and victim.stem in out
    report = run_sweep(card, folder, engine="serial", resume=True)
    assert (report.n_corrupt, report.n_done, report.n_skipped) == (1, 1, 9)
    assert report.corrupt == [victim.stem]
    assert victim.with_name(victim.name + ".corrupt").is_file()
    assert_same_index(read_index(folder), index)
    assert cli.main(["inspect", "--verify", str(folder)]) == 0
    assert "10 shards verified" in capsys.readouterr().out


def test_a_shard_corrupted_after_the_sweep_is_caught_by_the_merge(reference, tmp_path,
                                                                  assert_same_index):
    card, index = reference
    folder = tmp_path / "out"
    run_sweep(card, folder, engine="serial")
    victim = _shards(folder)[0]
    _flip_draws(victim, seed=1)
    merge_results(folder)
    with h5py.File(folder / "results.h5") as f:
        assert f["failed/reason"].asstr()[()].tolist() == ["corrupt"]
        assert f["failed/run_id"].asstr()[()].tolist() == [victim.stem]
    assert len(read_index(folder)["run_id"]) == 9 and not victim.exists()
    report = run_sweep(card, folder, engine="serial", resume=True)
    assert report.n_done == 1
    assert_same_index(read_index(folder), index)


@pytest.mark.parametrize("seed", range(4))
def test_4_kib_of_random_bytes_in_a_shard_never_pass_resume(reference, tmp_path, seed,
                                                            assert_same_index):
    card, index = reference
    folder = tmp_path / "out"
    run_sweep(card, folder, engine="serial")
    victim = _shards(folder)[seed]
    _scribble(victim, seed=seed)
    bad = verify_sweep(folder)
    assert bad.corrupt + bad.incomplete == [victim.stem] and not bad.clean
    report = run_sweep(card, folder, engine="serial", resume=True)
    assert report.n_corrupt + report.n_truncated == 1 and report.n_done == 1
    assert_same_index(read_index(folder), index)


# ---------------------------------------------------------------------------- repair

def test_a_truncated_manifest_is_rebuilt_by_repair(reference, tmp_path, capsys, assert_same_index):
    card, index = reference
    folder = tmp_path / "out"
    run_sweep(card, folder, engine="serial")
    _shards(folder)[5].unlink()
    manifest = folder / "manifest.json"
    manifest.write_bytes(manifest.read_bytes()[:300])
    assert cli.main(["sweep", str(card), "-o", str(folder), "--serial", "--resume"]) == 1
    assert "manifest" in capsys.readouterr().err
    assert cli.main(["sweep", str(card), "-o", str(folder), "--repair"]) == 0
    assert "9 complete shards kept" in capsys.readouterr().out
    assert (folder / "manifest.json.old").is_file()
    rebuilt = json.loads(manifest.read_text())
    assert sum("sha256" in r for r in rebuilt["runs"]) == 9
    report = run_sweep(card, folder, engine="serial", resume=True)
    assert (report.n_skipped, report.n_done) == (9, 1)
    assert_same_index(read_index(folder), index)


def test_repair_refuses_a_card_that_changed(reference, tmp_path, write_card):
    card, _ = reference
    folder = tmp_path / "out"
    run_sweep(card, folder, engine="serial")
    changed = write_card(tmp_path, TOY.replace('"data.n_draws" = 5', '"data.n_draws" = 5\n'
                                               '"data.sleep_s" = 0.0'), "changed.toml")
    # same runs' ids differ, so no shard is claimed; a card with the same runs but another
    # hash (a comment does not change the parsed card) is accepted
    code = cli.main(["sweep", str(changed), "-o", str(folder), "--repair"])
    assert code == 0
    from neuromem.sweep.ledger import repair_manifest
    other = load_sweep(write_card(tmp_path, TOY.replace("base_seed = 7", "base_seed = 7\n"
                                                        'summary = "edited"'), "edited.toml"))
    with pytest.raises(ConfigError, match="another hash"):
        repair_manifest(other, folder)
    assert repair_manifest(other, folder, force=True)["n_shards"] == 10


# ------------------------------------------------------------ idempotent commit, late

def test_commit_is_idempotent_first_writer_wins(tmp_path):
    from neuromem.store import write_result
    shard = tmp_path / "abc.h5"
    first = write_result(tmp_path / "a.part", metrics={"v": 1})
    second = write_result(tmp_path / "b.part", metrics={"v": 2})
    one = commit_shard(first, shard)
    two = commit_shard(second, shard)
    assert one["duplicate"] is False and two["duplicate"] is True
    assert one["sha256"] == two["sha256"] == file_sha256(shard)
    with h5py.File(shard) as f:
        assert f["metrics"].attrs["v"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["abc.h5"]
    # a damaged shard in the way is replaced
    shard.write_bytes(b"half")
    third = write_result(tmp_path / "c.part", metrics={"v": 3})
    assert commit_shard(third, shard)["duplicate"] is False and is_complete(shard)


def test_late_shards_of_a_killed_driver_are_kept_and_counted(reference, tmp_path,
                                                             assert_same_index):
    card, index = reference
    folder = tmp_path / "out"
    run_sweep(card, folder, engine="serial")
    # a killed driver never recorded 4 of its commits: the journal and manifest lack them
    sweep = load_sweep(card)
    late = {r.run_id for r in sweep.runs[:4]}
    lines = [line for line in (folder / "commits.jsonl").read_text().splitlines()
             if json.loads(line)["run_id"] not in late]
    (folder / "commits.jsonl").write_text("\n".join(lines) + "\n")
    manifest = json.loads((folder / "manifest.json").read_text())
    for run in manifest["runs"]:
        if run["run_id"] in late:
            run.pop("sha256"), run.pop("bytes")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert len(verify_sweep(folder).late) == 4
    report = run_sweep(card, folder, engine="serial", resume=True)
    assert (report.n_late, report.n_skipped, report.n_done) == (4, 10, 0)
    assert len(verify_sweep(folder).ok) == 10
    assert_same_index(read_index(folder), index)


def test_a_run_whose_shard_appears_meanwhile_counts_as_late(reference, tmp_path, monkeypatch,
                                                            assert_same_index):
    """A late task of a killed driver commits the run the new driver is running."""
    card, index = reference
    folder = tmp_path / "out"
    run_sweep(card, folder, engine="serial")
    keep = {p.stem: p.read_bytes() for p in _shards(folder)[:2]}
    for p in _shards(folder)[:2]:
        p.unlink()
    import neuromem.sweep.worker as worker
    original = worker.commit_shard

    def commit_after_a_late_task(part, shard):
        if shard.stem in keep:                  # the old driver's task got there first
            shard.write_bytes(keep[shard.stem])
        return original(part, shard)
    monkeypatch.setattr(worker, "commit_shard", commit_after_a_late_task)
    report = run_sweep(card, folder, engine="serial", resume=True)
    assert report.n_done == 2 and report.n_late == 2
    assert not list(folder.rglob("*.part"))
    assert_same_index(read_index(folder), index)


# ------------------------------------------------------------------------------ Dask

@pytest.mark.dask
def test_dask_with_a_relative_output_path_and_workers_elsewhere(reference, tmp_path, monkeypatch,
                                                                assert_same_index):
    distributed = pytest.importorskip("distributed")
    card, index = reference
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        elsewhere = tmp_path / "driver_cwd"
        elsewhere.mkdir()
        monkeypatch.chdir(elsewhere)            # the workers' cwd stays where it was
        report = run_sweep(card, "sweeps/rel", scheduler=cluster.scheduler_address)
        assert report.n_done == 10 and report.folder == elsewhere / "sweeps" / "rel"
        assert_same_index(read_index(elsewhere / "sweeps" / "rel"), index)
        # a folder the workers cannot see is refused before the first run
        from neuromem.sweep.engines import DaskEngine
        engine = DaskEngine(cluster.scheduler_address, warm=False)
        engine.start()
        try:
            with pytest.raises(NeuromemError) as info:
                engine.check_folder(tmp_path / "not_on_the_workers")
        finally:
            engine.close()
    text = str(info.value)
    assert "not_on_the_workers" in text and "shared file system" in text
    assert "tcp://127.0.0.1" in text and "\n" not in text


def test_probe_folder_reports_an_unwritable_folder(tmp_path):
    assert probe_folder(str(tmp_path))["error"] is None and not list(tmp_path.iterdir())
    assert "does not exist" in probe_folder(str(tmp_path / "missing"))["error"]
    assert probe_folder("/proc")["error"]        # not writable, even for root


# ---------------------------------------------------------------------------- status

def test_sweep_status_counts_errors_and_eta(tmp_path, capsys, write_card):
    card = write_card(tmp_path, 'network = "toy"\n[fixed]\n"data.crash" = "raise"\n'
                                '"data.crash_x" = 2.0\n[grid]\n"data.x" = [0.0, 1.0, 2.0, 3.0, '
                                '4.0, 5.0]\n')
    folder = tmp_path / "out"
    run_sweep(card, folder, engine="serial")
    shards = _shards(folder)
    assert len(shards) == 5
    for k, p in enumerate(shards[:3]):          # commits 10 s apart: 0.1 runs/s
        os.utime(p, (1_000_000 + 10 * k, 1_000_000 + 10 * k))
    for p in shards[3:]:
        p.unlink()
    status = sweep_status(folder)
    assert (status["done"], status["failed"], status["pending"]) == (3, 1, 2)
    assert status["runs_per_s"] == pytest.approx(0.1)
    assert status["eta_s"] == pytest.approx(20.0)
    assert "crashed on purpose" in status["failures"][0]["error"]
    assert cli.main(["sweep", "status", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "3 done, 1 failed, 2 pending" in out and "ETA 20s" in out
    assert "crashed on purpose (x = 2.0)" in out
    assert cli.main(["sweep", "status", str(tmp_path)]) == 2


def test_status_and_verify_of_a_damaged_or_foreign_folder(reference, tmp_path, capsys):
    card, _ = reference
    folder = tmp_path / "out"
    run_sweep(card, folder, engine="serial")
    manifest = folder / "manifest.json"
    manifest.write_bytes(manifest.read_bytes()[:100])
    for args in (["sweep", "status", str(folder)], ["inspect", "--verify", str(folder)]):
        code = cli.main(args)
        err = capsys.readouterr().err
        assert code == 1 and err.count("\n") == 1 and "manifest" in err, err
    code = cli.main(["inspect", "--verify", str(tmp_path / "nothing")])
    assert code == 2 and "--verify" in capsys.readouterr().err


def test_progress_bar_on_the_pool(reference, tmp_path, neuromem_cli):
    card, _ = reference
    proc = neuromem_cli("sweep", card, "-o", tmp_path / "out", "--workers", "2", "--progress",
                        timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "10/10" in proc.stderr


@pytest.mark.slow
@pytest.mark.dask
def test_kill_9_of_a_dask_driver_late_shards_are_counted_and_nothing_duplicates(
        tmp_path, assert_same_index, write_card, neuromem_cli, dask_cluster):
    """Tasks of a killed Dask driver keep running on the cluster and commit after the new
    driver started: every run ends with exactly one shard, the late ones are counted, and
    the index equals the serial reference."""
    import time

    card = write_card(tmp_path, TOY.replace('"data.n_draws" = 5', '"data.n_draws" = 5\n'
                                            '"data.sleep_s" = 1.5'))
    run_sweep(card, tmp_path / "serial", engine="serial")
    reference_index = read_index(tmp_path / "serial")
    address = dask_cluster.start(nthreads=2)
    folder = tmp_path / "dask"
    driver = subprocess.Popen([sys.executable, "-m", "neuromem", "sweep", str(card), "-o",
                               str(folder), "--scheduler", address],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while len(_shards(folder)) < 2 and time.monotonic() < deadline:
        assert driver.poll() is None, driver.stderr.read()[-2000:]
        time.sleep(0.01)
    time.sleep(0.2)                            # the next two runs are in flight
    driver.kill()
    driver.wait(timeout=30)
    n_before = len(_shards(folder))
    out = neuromem_cli("sweep", card, "-o", folder, "--scheduler", address, "--resume", "--json")
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout)
    time.sleep(2.0)                            # any task still running finishes
    dask_cluster.stop()
    assert report["n_late"] >= 1 and report["n_skipped"] + report["n_done"] == 10
    assert report["n_skipped"] >= n_before
    assert len(_shards(folder)) == 10 and not list(folder.rglob("*.part"))
    assert verify_sweep(folder).clean
    assert_same_index(read_index(folder), reference_index)
