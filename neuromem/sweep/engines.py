"""Engines: where a sweep's runs execute, behind one small executor-like interface.

Every engine offers ``start()``, ``capacity()`` (runs to keep in flight), ``submit(job) ->
future``, ``wait(futures, timeout) -> done futures``, ``result(future) -> summary``,
``restart()`` and ``close(cancel)``; the driver loop in :mod:`neuromem.sweep.driver` is the
same for all of them. ``result`` raises :class:`WorkerDied` when the process running the run
died (the driver then decides whom to blame and what to rerun), :class:`RunAbandoned` when the
engine itself gave up on a run after repeated worker deaths (Dask's ``KilledWorker``), and
any other exception when the sweep cannot go on (a :class:`~neuromem.exceptions.StoreError`
raised by :func:`~neuromem.sweep.worker.execute_run`: disk full).

* :class:`SerialEngine`: runs in the driver's process, one at a time, when waited for.
* :class:`PoolEngine` (the default): a ``ProcessPoolExecutor`` of spawned processes. One dead
  worker breaks the whole pool (``BrokenProcessPool``): the driver rebuilds it.
* :class:`DaskEngine`: a ``dask.distributed.Client`` connected to a scheduler; Dask reruns a
  dead worker's task itself and reports ``KilledWorker`` when it gives up (after the
  scheduler's ``distributed.scheduler.allowed-failures`` + 1 deaths).
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import multiprocessing
import os
import queue
import time
import uuid
from concurrent.futures.process import BrokenProcessPool

from neuromem.exceptions import ConfigError, NeuromemError
from neuromem.sweep.worker import RunJob, execute_run, init_pool_worker, ping

__all__ = ["WorkerDied", "RunAbandoned", "SerialEngine", "PoolEngine", "DaskEngine",
           "make_engine"]


class WorkerDied(Exception):
    """The process running a run died before returning (killed, crashed, out of memory)."""


class RunAbandoned(Exception):
    """The engine gave up on a run after the workers running it died repeatedly."""


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class SerialEngine:
    """Runs in the driver's own process, one run per :meth:`wait`.

    A run that kills its process kills the sweep (it can be resumed); use the pool to be
    protected from that.
    """

    name = "serial"

    def __init__(self):
        self.workers = 1
        self._todo: list[tuple[cf.Future, RunJob]] = []

    def start(self) -> None:
        """Nothing to start."""

    def capacity(self) -> int:
        return 1

    def submit(self, job: RunJob) -> cf.Future:
        fut: cf.Future = cf.Future()
        self._todo.append((fut, job))
        return fut

    def wait(self, futures, timeout: float) -> set:
        done = {f for f in futures if f.done()}
        if done or not self._todo:
            return done
        fut, job = self._todo.pop(0)
        try:
            fut.set_result(execute_run(job))
        except Exception as exc:
            fut.set_exception(exc)
        return {fut}

    def result(self, fut):
        return fut.result()

    def restart(self) -> None:
        """Nothing to restart."""

    def close(self, cancel: bool = False) -> None:
        self._todo.clear()


class PoolEngine:
    """A process pool of `workers` spawned processes (see :func:`init_pool_worker`).

    Parameters
    ----------
    workers : int
    warm : bool
        Warm numba's cache in each worker before it takes runs.
    """

    name = "pool"

    def __init__(self, workers: int, *, warm: bool = True, task: str | None = None):
        if workers < 1:
            raise ConfigError(f"expected at least 1 worker, got {workers}", key="--workers")
        self.workers = int(workers)
        self.warm, self.task = warm, task
        self.numba_threads = max(1, (os.cpu_count() or 1) // self.workers)
        self.restarts = 0
        self._pool: cf.ProcessPoolExecutor | None = None

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                      initializer=init_pool_worker,
                                      initargs=(self.warm, self.numba_threads, self.task))

    def start(self, ready_timeout_s: float = 300.0) -> None:
        """Start the workers and return once each has started (and warmed up)."""
        self._pool = self._new_pool()
        pids: set[int] = set()
        pending = {self._pool.submit(ping) for _ in range(self.workers)}
        deadline = time.monotonic() + ready_timeout_s
        while len(pids) < self.workers and time.monotonic() < deadline:
            done, pending = cf.wait(pending, timeout=1.0, return_when=cf.FIRST_COMPLETED)
            for fut in done:
                try:
                    pids.add(fut.result())
                except BrokenProcessPool as exc:
                    self.close(cancel=True)
                    raise NeuromemError(f"the worker processes could not start: "
                                        f"{_one_line(exc.__cause__ or exc)}") from exc
            while len(pids) + len(pending) < self.workers:
                pending.add(self._pool.submit(ping))
        cf.wait(pending)

    def capacity(self) -> int:
        return self.workers

    def submit(self, job: RunJob) -> cf.Future:
        return self._pool.submit(execute_run, job)

    def wait(self, futures, timeout: float) -> set:
        done, _ = cf.wait(futures, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return done

    def result(self, fut):
        try:
            return fut.result()
        except BrokenProcessPool as exc:
            raise WorkerDied("a worker process died; the pool is broken") from exc

    def restart(self) -> None:
        """Replace a broken pool by a new one (workers warm up before taking runs)."""
        self.close(cancel=True)
        self._pool = self._new_pool()
        self.restarts += 1

    def close(self, cancel: bool = False) -> None:
        """Shut the pool down; with `cancel`, drop queued runs and terminate the workers."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        # ProcessPoolExecutor has no public way to stop a running task: terminate its
        # processes (a half-written shard is only a stray .tmp file, removed on resume).
        if cancel:
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                if process.is_alive():
                    process.terminate()
        pool.shutdown(wait=True, cancel_futures=cancel)


class DaskEngine:
    """Runs on a Dask distributed cluster through ``distributed.Client(address)``.

    Workers must see the sweep's output folder at the same absolute path (a shared file
    system; :meth:`check_folder` checks it before the first run) and have neuromem
    installed. Keeps about twice the cluster's thread count in flight (the
    rest of the sweep waits in the driver, so Ctrl-C has little to cancel).

    Parameters
    ----------
    address : str
        ``tcp://HOST:PORT`` of the scheduler.
    warm : bool
        Register a worker plugin that warms numba's cache on every worker, including those
        that join (or are restarted by their nanny) later.
    """

    name = "dask"

    def __init__(self, address: str, *, warm: bool = True, task: str | None = None):
        self.address = address
        self.warm, self.task = warm, task
        self.workers = 0
        self.client = None
        self._live: set = set()
        self._finished: queue.SimpleQueue = queue.SimpleQueue()
        self._ready: set = set()
        self._cap, self._refreshed = 1, 0.0

    def start(self) -> None:
        try:
            from distributed import Client
        except ImportError as exc:
            raise ConfigError("running on a Dask cluster needs dask[distributed]: "
                              "pip install 'neuromem[dist]'", key="--scheduler") from exc
        try:
            self.client = Client(self.address, set_as_default=False, timeout="30s")
        except Exception as exc:
            raise NeuromemError(f"cannot connect to the Dask scheduler at {self.address}: "
                                f"{_one_line(exc)}") from exc
        from neuromem.sweep._dask import WarmNumba
        self.client.register_plugin(WarmNumba(self.task, numba=self.warm),
                                    name=WarmNumba.name)
        self._refresh()

    def check_folder(self, folder) -> None:
        """Check from every worker that it can write in the sweep's `folder`.

        Runs write their shards themselves, so workers must see the folder at the same
        (absolute) path: a shared file system. A cluster without one is told so here,
        before the first run, instead of every run failing.
        """
        from neuromem.sweep.worker import probe_folder

        try:
            answers = self.client.run(probe_folder, str(folder))
        except Exception as exc:
            raise NeuromemError(f"cannot check the Dask workers at {self.address}: "
                                f"{_one_line(exc)}") from exc
        for address, info in sorted(answers.items()):
            if info.get("error"):
                raise NeuromemError(
                    f"the Dask worker {address} (host {info.get('host')}) cannot write the "
                    f"sweep's runs in {folder}: {info['error']}; the workers write their "
                    "shards themselves and must see this folder at the same path (a shared "
                    "file system), or run the sweep with the local pool")

    def _refresh(self) -> None:
        self.workers = sum(self.client.nthreads().values())
        self._cap = max(1, 2 * self.workers)
        self._refreshed = time.monotonic()

    def capacity(self) -> int:
        if time.monotonic() - self._refreshed > 2.0:
            self._refresh()
        return self._cap

    def submit(self, job: RunJob):
        fut = self.client.submit(execute_run, job, pure=False,
                                 key=f"neuromem-run-{job.run_id}-{uuid.uuid4().hex[:8]}")
        self._live.add(fut)
        fut.add_done_callback(self._finished.put)    # called from the client's thread
        return fut

    def wait(self, futures, timeout: float) -> set:
        wanted = set(futures)
        try:
            self._ready.add(self._finished.get(timeout=timeout))
            while True:
                self._ready.add(self._finished.get_nowait())
        except queue.Empty:
            pass
        done = self._ready & wanted
        self._ready -= done
        return done

    def result(self, fut):
        from distributed import KilledWorker
        self._live.discard(fut)
        try:
            return fut.result()
        except KilledWorker as exc:
            raise RunAbandoned(f"Dask gave up on it after the workers running it died "
                               f"({_one_line(exc)})") from exc
        except (cf.CancelledError, asyncio.CancelledError) as exc:
            raise NeuromemError(f"the Dask scheduler at {self.address} dropped a run "
                                "(scheduler restarted or connection lost)") from exc

    def restart(self) -> None:
        """Dask replaces dead workers itself."""

    def close(self, cancel: bool = False) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            if cancel and self._live:
                client.cancel(list(self._live))
        finally:
            self._live.clear()
            client.close()


def make_engine(engine: str, *, workers: int | None = None, scheduler: str | None = None,
                warm: bool = True, task: str | None = None):
    """An engine by name: ``"serial"``, ``"pool"`` (`workers` processes) or ``"dask"``.

    `task` (the sweep's task name) lets workers import only that task's module and skip
    warming numba for tasks that do not use it.
    """
    if engine == "serial":
        return SerialEngine()
    if engine == "pool":
        return PoolEngine(workers or os.cpu_count() or 1, warm=warm, task=task)
    if engine == "dask":
        if not scheduler:
            raise ConfigError("the dask engine needs a scheduler address (--scheduler "
                              "tcp://HOST:PORT or DASK_SCHEDULER_ADDRESS)", key="--scheduler")
        return DaskEngine(scheduler, warm=warm, task=task)
    raise ConfigError(f"unknown engine {engine!r}; expected serial, pool or dask",
                      key="engine")
