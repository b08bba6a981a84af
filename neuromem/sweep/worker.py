"""What runs in a worker process: one run of a sweep, and the worker's start-up.

:func:`execute_run` is the only function engines call on workers. It is top-level and takes a
small picklable :class:`RunJob`, so the same call works in-process, in a process pool and on
Dask workers; it writes the run's shard itself and returns a small summary, so the driver
never holds a run's arrays.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import threading
import time
import traceback
import uuid
import warnings
from pathlib import Path

__all__ = ["RunJob", "execute_run", "resolve_run", "preload", "warm_numba", "init_pool_worker",
           "ping", "commit_shard", "probe_folder"]

#: Seconds this worker's preparation took (:func:`preload`, plus :func:`warm_numba` when
#: the task needs it); None: not prepared.
_WARM_S: float | None = None


@dataclasses.dataclass(frozen=True)
class RunJob:
    """Everything a worker needs to carry out one run (small and picklable).

    Attributes
    ----------
    run_id : str
    replicate, seed : int
    params : dict
        The swept values of this run (recorded in the shard).
    overrides : dict
        Dotted overrides of the network card (``[fixed]`` and `params`, without ``seed``).
    network : dict
        The network card as parsed when the sweep started: every run of a sweep uses the same
        contents even if the file changes meanwhile.
    network_path : str
        Where that card came from (error messages; the task name defaults to its stem).
    quick : bool
        Apply the card's ``[quick]`` table first.
    shard : str
        The result file to write (its folder exists and workers can see it).
    sweep_hash : str
    command : str or None
        Recorded in the shard's provenance.
    """

    run_id: str
    replicate: int
    seed: int
    params: dict
    overrides: dict
    network: dict
    network_path: str
    quick: bool
    shard: str
    sweep_hash: str = ""
    command: str | None = None


def resolve_run(job: RunJob) -> tuple[dict, Path, dict]:
    """The run's network card data, path and device overrides.

    The card's ``[quick]`` table (if `job.quick`), then the job's overrides, then
    ``seed = job.seed`` are applied, as ``neuromem run --quick --set ... --seed`` would.
    """
    from neuromem.cards import apply_overrides

    path = Path(job.network_path)
    overrides = dict(job.network.get("quick") or {}) if job.quick else {}
    overrides.update(job.overrides)
    overrides["seed"] = job.seed
    data, device_overrides = apply_overrides(job.network, overrides, file=path)
    data.pop("quick", None)
    return data, path, device_overrides


def _scalars(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_scalars(value, f"{prefix}{key}."))
        elif value is None or isinstance(value, (bool, int, float, str)):
            out[f"{prefix}{key}"] = value
        elif hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
            out[f"{prefix}{key}"] = value.item()
    return out


def _one_line(exc: BaseException, limit: int = 500) -> str:
    text = " ".join(str(exc).split())
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def execute_run(job: RunJob) -> dict:
    """Carry out one run: resolve its card, run its task, write its shard.

    Parameters
    ----------
    job : RunJob

    Returns
    -------
    dict
        ``run_id``, ``status`` (``"ok"`` or ``"failed"``), ``host``, ``pid``, ``wall_s``
        (the whole call), ``warm_s`` (the worker's numba warm-up, or None). ``"ok"`` adds
        ``task_s`` (the task alone), ``write_s`` (writing the shard) and ``metrics`` (the
        scalar metrics, dotted names);
        ``"failed"`` adds ``error`` (one line), ``error_type`` and ``traceback``.

    Raises
    ------
    StoreError
        If the shard cannot be written (disk full, permissions, folder not visible on this
        worker): that is not the run's fault and stops the sweep. Errors raised while
        resolving the card or in the task are the run's: they come back as ``"failed"``.
    """
    from neuromem.store import write_result
    from neuromem.tasks import TASKS, get_task

    t0 = time.perf_counter()
    info = {"run_id": job.run_id, "host": socket.gethostname(), "pid": os.getpid(),
            "warm_s": _WARM_S}
    try:
        data, path, device_overrides = resolve_run(job)
        name = data.get("task", path.stem)
        task = TASKS.get(name) or get_task(name, file=path)
        t_task = time.perf_counter()
        result = task(data, path=path, device_overrides=device_overrides, seed=job.seed,
                      progress=False)
        task_s = time.perf_counter() - t_task
    except Exception as exc:
        return {**info, "status": "failed", "error": _one_line(exc),
                "error_type": type(exc).__name__, "traceback": traceback.format_exc(),
                "wall_s": time.perf_counter() - t0}
    extra = dict(result.extra or {})
    extra["sweep"] = {"run_id": job.run_id, "replicate": job.replicate, "params": job.params,
                      "sweep_hash": job.sweep_hash}
    t_write = time.perf_counter()
    shard = Path(job.shard)
    part = shard.with_name(f"{shard.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part")
    write_result(part, metrics=result.metrics, cards=result.cards, events=result.events,
                 state=result.state, raster=result.raster, seed=job.seed,
                 command=job.command or "neuromem sweep", extra=extra)
    commit = commit_shard(part, shard)
    t_end = time.perf_counter()
    return {**info, "status": "ok", "metrics": _scalars(result.metrics), "task_s": task_s,
            "write_s": t_end - t_write, "wall_s": t_end - t0, **commit}


def commit_shard(part: Path, shard: Path) -> dict:
    r"""Move a fully written shard `part` to its place `shard`, once (idempotent).

    The first writer of a run wins: ``os.link`` refuses to replace an existing shard, so a
    late task of a killed driver and the new driver's task for the same run never both
    commit (the results are bit-identical anyway); the loser's file is removed and it
    reports ``duplicate = True``. A damaged shard in the way is replaced. Where the file
    system has no hard links the shard is ``os.replace``\ d unless one is already there.

    Returns
    -------
    dict
        ``sha256`` and ``bytes`` of the committed file, ``duplicate``.

    Raises
    ------
    StoreError
        If the shard cannot be committed (permissions, folder gone).
    """
    from neuromem.exceptions import StoreError
    from neuromem.store import file_sha256, is_complete

    try:
        digest, size = file_sha256(part), part.stat().st_size
        duplicate = False
        try:
            os.link(part, shard)
        except FileExistsError:
            if is_complete(shard):
                duplicate = True
            else:
                os.replace(part, shard)
        except OSError:                          # no hard links here (some network FS)
            if shard.exists() and is_complete(shard):
                duplicate = True
            else:
                os.replace(part, shard)
    except OSError as exc:
        raise StoreError(f"cannot commit the shard {shard}: "
                         f"{' '.join(str(exc).split())}") from exc
    finally:
        with contextlib.suppress(OSError):
            part.unlink()
    if duplicate:
        with contextlib.suppress(OSError):
            digest, size = file_sha256(shard), shard.stat().st_size
    return {"sha256": digest, "bytes": size, "duplicate": duplicate}


def probe_folder(folder: str) -> dict:
    """Create and remove a file in `folder` (the sweep's runs must be writable there).

    Returns ``host``, ``pid`` and ``error`` (None when writing works): what a Dask worker
    reports before the first run.
    """
    info = {"host": socket.gethostname(), "pid": os.getpid(), "error": None}
    probe = Path(folder) / f".probe-{info['host']}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        if not Path(folder).is_dir():
            raise FileNotFoundError(f"the folder {folder} does not exist on this worker")
        probe.write_bytes(b"neuromem")
        probe.unlink()
    except OSError as exc:
        info["error"] = _one_line(exc)
    return info


# ------------------------------------------------------------------------- worker start-up

def warm_numba() -> float | None:
    """Load (or compile) the engine's numba kernels by simulating a 4x2 network briefly.

    With ``cache=True`` kernels this loads the on-disk cache, so a worker's first real run
    does not pay for it. Never raises: a failure is reported as a warning and returns None.

    Returns
    -------
    float or None
        Seconds taken.
    """
    global _WARM_S
    t0 = time.perf_counter()
    try:
        import numpy as np

        import neuromem.kernels.engine  # noqa: F401
        from neuromem.cards import load_device
        from neuromem.layers import CrossbarLayer, Population
        from neuromem.network import Network
        from neuromem.neurons import LIFParams
        from neuromem.plasticity import STDPParams

        layer = CrossbarLayer(4, 2, load_device("ideal").params, np.random.default_rng(0))
        net = Network(layer, Population(2, LIFParams()), STDPParams(), t_present_s=0.005,
                      t_rest_s=0.0)
        rates = np.full((1, 4), 50.0)
        net.run(rates, learn=True)
        net.run(rates)
    except Exception as exc:                    # a cold cache is slower, not fatal
        warnings.warn(f"numba warm-up failed: {_one_line(exc)}", RuntimeWarning,
                      stacklevel=1)
        return None
    took = time.perf_counter() - t0
    _WARM_S = (_WARM_S or 0.0) + took
    return took


#: Module of each built-in task, and the tasks whose runs use the numba engine.
_TASK_MODULES = {"toy": "neuromem.tasks.toy", "digits_stdp": "neuromem.tasks.digits",
                 "kws": "neuromem.tasks.kws", "motion": "neuromem.tasks.motion"}
_NO_NUMBA = {"toy"}


def needs_numba(task: str | None) -> bool:
    """Whether runs of `task` use the numba engine (unknown tasks: assume they do)."""
    return task not in _NO_NUMBA


def preload(task: str | None = None) -> None:
    """Import what every run needs and prime the store, once per worker before it takes runs.

    Imports the store and `task`'s module (every built-in task module when `task` is None
    or not built in), and writes one throw-away result file to a temporary folder so the
    store's one-time costs (the git commit and package versions of the provenance, h5py's
    first file) are paid here, not by the first run.
    """
    import importlib
    import tempfile

    global _WARM_S
    t0 = time.perf_counter()
    from neuromem import store
    from neuromem.exceptions import ConfigError
    from neuromem.tasks import get_task

    if task in _TASK_MODULES:
        importlib.import_module(_TASK_MODULES[task])
    else:
        try:
            get_task("")                        # imports every built-in task module
        except ConfigError:
            pass
    with tempfile.TemporaryDirectory(prefix="neuromem-warm-") as tmp:
        store.write_result(Path(tmp) / "warm.h5", metrics={"x": 1.0}, cards={"c": {}},
                           state={"a": [0.0]}, seed=0, command="warm-up", extra={})
    _WARM_S = (_WARM_S or 0.0) + time.perf_counter() - t0


def _watch_parent(parent: int, period_s: float) -> None:
    while True:
        time.sleep(period_s)
        if os.getppid() != parent:
            os._exit(3)                         # the driver died (kill -9): stop at once


def init_pool_worker(warm: bool, numba_threads: int | None, task: str | None = None) -> None:
    """Initializer of a process-pool worker.

    Ignores SIGINT (the driver decides what Ctrl-C does), exits as soon as the driver
    process is gone (so a ``kill -9`` of the driver leaves no orphan writing shards), gives
    tqdm a thread lock instead of a multiprocessing one, limits numba to `numba_threads`
    threads (the pool's processes already fill the cores), imports the task modules
    (:func:`preload`: only `task`'s when given) and warms numba's cache when `task`'s runs
    use the engine.
    """
    if hasattr(signal, "SIGINT"):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if os.name == "posix":
        threading.Thread(target=_watch_parent, args=(os.getppid(), 0.2), daemon=True,
                         name="neuromem-parent-watch").start()
    try:
        # tqdm's default lock is a multiprocessing semaphore; a worker terminated on Ctrl-C
        # would leave it to the resource tracker, which warns about it. Workers show no bars.
        from tqdm import tqdm
        tqdm.set_lock(threading.RLock())
    except ImportError:
        pass
    if numba_threads:
        try:
            import numba
            numba.set_num_threads(min(numba_threads, numba.config.NUMBA_NUM_THREADS))
        except Exception:                       # no threading layer: keep numba's default
            pass
    try:
        preload(task)
    except Exception as exc:                    # each run will report it as its own error
        warnings.warn(f"importing the task modules failed: {_one_line(exc)}", RuntimeWarning,
                      stacklevel=1)
    if warm and needs_numba(task):
        warm_numba()


def ping() -> int:
    """A no-op task: the worker's pid (engines use it to wait until workers are up)."""
    time.sleep(0.02)
    return os.getpid()
