"""The Dask worker plugin (imported only when a sweep runs on Dask: it needs distributed)."""

from __future__ import annotations

import asyncio

from distributed.diagnostics.plugin import WorkerPlugin

__all__ = ["WarmNumba"]


class WarmNumba(WorkerPlugin):
    """Import the task modules and warm numba's cache on each worker (present and future)."""

    name = "neuromem-warm-numba"

    def __init__(self, task: str | None = None, numba: bool = True):
        self.task, self.numba = task, numba

    async def setup(self, worker) -> None:
        from neuromem.sweep.worker import needs_numba, preload, warm_numba

        def warm():
            preload(self.task)
            if self.numba and needs_numba(self.task):
                warm_numba()
        await asyncio.get_running_loop().run_in_executor(None, warm)
