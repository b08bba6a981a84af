"""The driver: prepare a sweep's folder, keep its runs in flight, record outcomes, merge.

One loop serves every engine (:mod:`neuromem.sweep.engines`): keep ``capacity()`` runs
submitted, wait for the first to finish, record it, repeat. A run is *committed* when its
shard is on disk (the worker writes it atomically); the driver only writes small files:
``manifest.json`` at the start, ``failed/<run_id>.json`` per failed run, ``results.h5`` at the
end, each atomically (tmp, fsync, ``os.replace``).

Worker deaths in the process pool
---------------------------------
A dead worker breaks the whole pool and fails every run in flight, and the pool does not say
which run was in the dead process. The driver rebuilds the pool; when only one run was lost
it is to blame (one death counted); when several were lost, each of them is rerun *alone*
(nothing else in flight), so a death is counted only against a run that was alone in the
pool. A run whose worker died ``max_worker_deaths`` times (default 3) is recorded under
``failed/`` and the sweep goes on.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import os
import sys
import time
from pathlib import Path

from neuromem.exceptions import ConfigError, StoreError
from neuromem.store import file_sha256
from neuromem.sweep.card import Sweep, load_sweep
from neuromem.sweep.engines import RunAbandoned, WorkerDied, make_engine
from neuromem.sweep.layout import (MANIFEST, RESULTS, manifest_of, read_manifest,  # noqa: F401
                                   shard_path, utc_now, write_json_atomic)
from neuromem.sweep.worker import RunJob

__all__ = ["SweepReport", "SweepInterrupted", "run_sweep", "shard_path", "read_manifest",
           "write_json_atomic", "MANIFEST", "RESULTS"]

_MAX_REPORTED_FAILURES = 20


@dataclasses.dataclass
class SweepReport:
    """What :func:`run_sweep` did.

    Attributes
    ----------
    name : str
    folder, results : Path
        The sweep's folder and its merged ``results.h5``.
    engine : str
    workers : int
        Worker processes (pool), cluster threads (Dask) or 1 (serial).
    n_runs, n_skipped, n_done, n_failed : int
        Runs in the sweep; already complete before this call; completed and failed now.
    n_truncated, n_stray_tmp : int
        Damaged shards and stray ``.tmp`` files found on resume (removed; their runs redone).
    n_corrupt : int
        Shards whose SHA-256 no longer matched the recorded one, on resume or at the merge
        (moved aside to ``*.h5.corrupt``; their runs redone on resume); ``corrupt`` lists
        their run ids.
    n_late : int
        Shards committed by tasks of an earlier, killed driver: found complete without a
        recorded checksum on resume, or already in place when this driver's run of the same
        run committed (the commit is idempotent: the first one wins).
    worker_deaths : int
        Worker deaths seen (process pool).
    failures : list of dict
        ``run_id``, ``reason`` and ``error`` of the first failed runs.
    wall_s : float
        The whole call.
    startup_s, loop_s, merge_s : float
        Starting the engine (workers up and warm); from the first submission to the last
        result; writing ``results.h5``.
    task_s_total, write_s_total, run_s_total : float
        Sums over completed runs of the task's time, of writing shards, and of the whole
        :func:`execute_run`.
    warm_runs : int
        Completed runs whose worker had been prepared first (task module imported, store
        primed, numba's cache warmed when the task uses it).
    """

    name: str
    folder: Path
    results: Path
    engine: str
    workers: int
    n_runs: int
    n_skipped: int = 0
    n_done: int = 0
    n_failed: int = 0
    n_truncated: int = 0
    n_stray_tmp: int = 0
    n_corrupt: int = 0
    n_late: int = 0
    corrupt: list = dataclasses.field(default_factory=list)
    worker_deaths: int = 0
    failures: list = dataclasses.field(default_factory=list)
    wall_s: float = 0.0
    startup_s: float = 0.0
    loop_s: float = 0.0
    merge_s: float = 0.0
    task_s_total: float = 0.0
    write_s_total: float = 0.0
    run_s_total: float = 0.0
    warm_runs: int = 0

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["folder"], out["results"] = str(self.folder), str(self.results)
        return out


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a sweep; what finished is saved and ``--resume`` continues it.

    Attributes
    ----------
    folder : Path
    n_saved, n_runs : int
        Runs with a shard on disk (as far as the driver knows) and runs in the sweep.
    """

    def __init__(self, folder: Path, n_saved: int, n_runs: int):
        self.folder, self.n_saved, self.n_runs = Path(folder), n_saved, n_runs
        super().__init__(f"{n_saved} of {n_runs} runs are saved in {folder}")


# ------------------------------------------------------------------------------ small files

def record_checksums(folder) -> None:
    """Fold the commit journal into ``manifest.json`` (``runs[i]["sha256"]``, ``["bytes"]``)."""
    from neuromem.sweep.ledger import checksums

    folder = Path(folder)
    manifest = read_manifest(folder)
    sums = checksums(folder, manifest)
    changed = False
    for run in manifest["runs"]:
        entry = sums.get(run["run_id"])
        if entry and run.get("sha256") != entry["sha256"]:
            run.update(entry)
            changed = True
    if changed:
        write_json_atomic(folder / MANIFEST, manifest)


def _count_shards(folder: Path) -> int:
    return sum(1 for _ in (folder / "runs").glob("*/*.h5"))


def _prepare(sweep: Sweep, folder: Path, resume: bool, force: bool) -> int:
    """Check or start the sweep's folder; remove stray ``.tmp`` files. Returns their number."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder} is a file, not a folder", key="-o")
    entries = list(folder.iterdir()) if folder.is_dir() else []
    if entries:
        if not (folder / MANIFEST).is_file():
            raise ConfigError(f"{folder} is not empty and holds no sweep (no {MANIFEST}); "
                              "choose another folder with -o", key="-o")
        if not resume:
            raise ConfigError(f"{folder} already holds a sweep ({_count_shards(folder)} runs "
                              "saved): continue it with --resume, or choose a new folder "
                              "with -o", key="-o")
        old = read_manifest(folder)
        if old.get("sweep_hash") != sweep.hash:
            if not force:
                raise ConfigError(
                    f"the sweep in {folder} was started from a different sweep or network "
                    f"card (hash {str(old.get('sweep_hash'))[:12]} there, {sweep.hash[:12]} "
                    "now); add --force to continue with the new one (runs whose definition "
                    "did not change are kept), or choose a new folder with -o",
                    key="--resume")
            write_json_atomic(folder / MANIFEST, manifest_of(sweep))
    else:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create {folder}: {' '.join(str(exc).split())}") from exc
        write_json_atomic(folder / MANIFEST, manifest_of(sweep))
    stray = 0
    for pattern in ("*.tmp", "runs/*/*.tmp", "runs/*/*.part", "failed/*.tmp"):
        for tmp in folder.glob(pattern):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
                stray += 1
    try:
        (folder / "failed").mkdir(exist_ok=True)
        for bucket in sorted({run.run_id[:2] for run in sweep.runs}):
            (folder / "runs" / bucket).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the folders of {folder}: "
                         f"{' '.join(str(exc).split())}") from exc
    return stray


# --------------------------------------------------------------------------------- the loop

class _Recorder:
    """Turns outcomes into files, counters and the progress bar."""

    def __init__(self, sweep: Sweep, folder: Path, report: SweepReport, bar, journal=None):
        self.sweep, self.folder, self.report, self.bar = sweep, folder, report, bar
        self.journal = journal
        self.by_id = {run.run_id: run for run in sweep.runs}

    def ok(self, summary: dict) -> None:
        r = self.report
        r.n_done += 1
        if summary.get("duplicate"):
            r.n_late += 1
        if self.journal is not None and summary.get("sha256"):
            self.journal.record(summary["run_id"], summary["sha256"], summary["bytes"])
        r.task_s_total += summary.get("task_s", 0.0)
        r.write_s_total += summary.get("write_s", 0.0)
        r.run_s_total += summary.get("wall_s", 0.0)
        r.warm_runs += summary.get("warm_s") is not None
        with contextlib.suppress(FileNotFoundError):
            (self.folder / "failed" / f"{summary['run_id']}.json").unlink()
        self._tick()

    def failed(self, run_id: str, reason: str, error: str, **details) -> None:
        run = self.by_id[run_id]
        record = {"run_id": run_id, "reason": reason, "error": error, **run.to_dict(),
                  **details, "created_utc": utc_now()}
        write_json_atomic(self.folder / "failed" / f"{run_id}.json", record)
        r = self.report
        r.n_failed += 1
        if len(r.failures) < _MAX_REPORTED_FAILURES:
            r.failures.append({"run_id": run_id, "reason": reason, "error": error})
        self._tick()

    def _tick(self) -> None:
        if self.bar is not None:
            self.bar.update(1)
            if self.report.n_failed:
                self.bar.set_postfix(failed=self.report.n_failed, refresh=False)


def _drive(engine, jobs: list[RunJob], rec: _Recorder, max_deaths: int) -> None:
    """Run `jobs` to completion on `engine` (see the module docstring)."""
    queue = collections.deque(jobs)
    suspects: collections.deque = collections.deque()  # rerun alone after a multi-run break
    inflight: dict = {}
    deaths: collections.Counter = collections.Counter()

    def collect(done, lost: list) -> None:
        for fut in done:
            job = inflight.pop(fut)
            try:
                summary = engine.result(fut)
            except WorkerDied:
                lost.append(job)
            except RunAbandoned as exc:
                rec.failed(job.run_id, "worker_died", str(exc))
            else:
                if summary["status"] == "ok":
                    rec.ok(summary)
                else:
                    rec.failed(job.run_id, "error", summary["error"],
                               error_type=summary.get("error_type"),
                               traceback=summary.get("traceback"), host=summary.get("host"),
                               pid=summary.get("pid"))

    while queue or suspects or inflight:
        if suspects:
            if not inflight:
                job = suspects.popleft()
                inflight[engine.submit(job)] = job
        else:
            while queue and len(inflight) < engine.capacity():
                job = queue.popleft()
                inflight[engine.submit(job)] = job
        lost: list[RunJob] = []
        collect(engine.wait(list(inflight), timeout=1.0), lost)
        if not lost:
            continue
        while inflight:                 # a broken pool fails all its runs: collect them all
            collect(engine.wait(list(inflight), timeout=1.0), lost)
        rec.report.worker_deaths += 1
        engine.restart()
        if len(lost) > 1:               # who was in the dead process? rerun each alone
            suspects.extend(lost)
            continue
        job = lost[0]
        deaths[job.run_id] += 1
        if deaths[job.run_id] >= max_deaths:
            rec.failed(job.run_id, "worker_died",
                       f"the worker process running it died {deaths[job.run_id]} times "
                       "(killed, crashed or out of memory)", worker_deaths=deaths[job.run_id])
        else:
            suspects.append(job)


# ------------------------------------------------------------------------------- run_sweep

def run_sweep(sweep, output=None, *, engine: str | None = None, workers: int | None = None,
              scheduler: str | None = None, resume: bool = False, force: bool = False,
              progress: bool = False, command: str | None = None, warm: bool = True,
              max_worker_deaths: int = 3) -> SweepReport:
    """Run a sweep into a folder, or continue one.

    Parameters
    ----------
    sweep : Sweep, str or path-like
        A loaded sweep, a sweep card path or a built-in sweep card name.
    output : str or path-like, optional
        The sweep's folder; default ``sweeps/<sweep name>`` under the current folder.
    engine : {"serial", "pool", "dask"}, optional
        Default: ``"dask"`` when `scheduler` or ``DASK_SCHEDULER_ADDRESS`` is set, else
        ``"pool"``.
    workers : int, optional
        Pool processes; default ``os.cpu_count()`` (never more than the runs to do).
    scheduler : str, optional
        ``tcp://HOST:PORT`` of a Dask scheduler; default ``DASK_SCHEDULER_ADDRESS``.
    resume : bool
        Continue the sweep already in `output`: remove stray ``.tmp`` files, keep runs with a
        complete shard, rerun the others (failed ones included).
    force : bool
        With `resume`, continue even if the sweep card or network card changed; runs whose
        definition did not change keep their shards.
    progress : bool
        Show a progress bar (tqdm, on stderr).
    command : str, optional
        Recorded in each shard's provenance.
    warm : bool
        Warm numba's cache on each worker before runs (task modules are imported anyway).
    max_worker_deaths : int
        Give up on a run after its pool worker died this many times.

    Returns
    -------
    SweepReport

    Raises
    ------
    ConfigError
        Invalid sweep card or arguments; `output` is not empty and `resume` is not set; the
        sweep changed and `force` is not set.
    StoreError
        A shard, a failure record, the manifest or ``results.h5`` cannot be written (disk
        full): the sweep stops; every committed run stays on disk.
    SweepInterrupted
        On Ctrl-C: finished runs are kept, pending ones cancelled.

    Notes
    -----
    The pool starts its workers with the ``spawn`` method (no copy of the driver's threads
    and memory), which imports the calling script in each worker: a script that calls
    ``run_sweep`` with the pool must do so under ``if __name__ == "__main__":``. Dask
    workers must see `output` at the same path (a shared file system).
    """
    t_start = time.perf_counter()
    if force and not resume:
        raise ConfigError("--force only applies with --resume", key="--force")
    if not isinstance(sweep, Sweep):
        sweep = load_sweep(sweep)
    scheduler = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    engine = engine or ("dask" if scheduler else "pool")
    if engine not in ("serial", "pool", "dask"):
        raise ConfigError(f"unknown engine {engine!r}; expected serial, pool or dask",
                          key="engine")
    if workers is not None and workers < 1:
        raise ConfigError(f"expected at least 1 worker, got {workers}", key="--workers")
    folder = (Path(output) if output is not None else Path("sweeps") / sweep.name)
    folder = Path(os.path.abspath(folder.expanduser()))   # workers may run elsewhere (Dask)
    report = SweepReport(name=sweep.name, folder=folder, results=folder / RESULTS,
                         engine=engine, workers=1, n_runs=len(sweep.runs))
    report.n_stray_tmp = _prepare(sweep, folder, resume, force)

    from neuromem.sweep.ledger import Journal, check_shard, checksums, quarantine

    sums = checksums(folder, read_manifest(folder)) if resume else {}
    journal = Journal(folder)
    jobs = []
    for run in sweep.runs:
        shard = shard_path(folder, run.run_id)
        if shard.exists():
            state = check_shard(shard, sums.get(run.run_id)) if resume else "incomplete"
            if state in ("ok", "late"):
                report.n_skipped += 1
                if state == "late":
                    report.n_late += 1
                    journal.record(run.run_id, file_sha256(shard), shard.stat().st_size)
                continue
            if state == "corrupt":
                quarantine(shard)
                report.n_corrupt += 1
                report.corrupt.append(run.run_id)
            else:
                shard.unlink()
                report.n_truncated += 1
        jobs.append(RunJob(run.run_id, run.replicate, run.seed, run.params, run.overrides,
                           sweep.network_data, str(sweep.network_path), sweep.quick,
                           str(shard), sweep.hash, command))

    if jobs:
        if engine == "pool":
            workers = min(workers or os.cpu_count() or 1, len(jobs))
        task = sweep.network_data.get("task", Path(sweep.network_path).stem)
        runner = make_engine(engine, workers=workers, scheduler=scheduler, warm=warm,
                             task=task if isinstance(task, str) else None)
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=len(sweep.runs), initial=report.n_skipped, unit="run",
                       desc=sweep.name, file=sys.stderr, dynamic_ncols=True, smoothing=0.05)
        rec = _Recorder(sweep, folder, report, bar, journal)
        try:
            t0 = time.perf_counter()
            runner.start()
            if hasattr(runner, "check_folder"):
                runner.check_folder(folder)
            report.workers = runner.workers
            report.startup_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            _drive(runner, jobs, rec, max_worker_deaths)
            report.loop_s = time.perf_counter() - t0
            runner.close()
        except KeyboardInterrupt:
            runner.close(cancel=True)
            raise SweepInterrupted(folder, report.n_skipped + report.n_done,
                                   report.n_runs) from None
        except StoreError as exc:
            runner.close(cancel=True)
            raise StoreError(f"{exc}; the sweep stopped: {report.n_skipped + report.n_done} "
                             f"runs are saved in {folder}, continue with --resume") from exc
        except BaseException:
            runner.close(cancel=True)
            raise
        finally:
            journal.close()
            if bar is not None:
                bar.close()
    else:
        journal.close()

    from neuromem.sweep.results import merge_results
    t0 = time.perf_counter()
    record_checksums(folder)
    merge_results(folder)
    import h5py
    with h5py.File(folder / RESULTS, "r") as f:
        corrupt = [str(x) for x, why in zip(f["failed/run_id"].asstr()[()],
                                            f["failed/reason"].asstr()[()]) if why == "corrupt"]
    new = [run_id for run_id in corrupt if run_id not in report.corrupt]
    report.n_corrupt += len(new)
    report.corrupt += new
    report.merge_s = time.perf_counter() - t0
    report.wall_s = time.perf_counter() - t_start
    return report
