"""The Dask worker plugin (imported only when a sweep runs on Dask: it needs distributed)."""

from __future__ import annotations

import asyncio

from distributed.diagnostics.plugin import WorkerPlugin

__all__ = ["WarmNumba"]


class WarmNumba(WorkerPlugin):
    """Import the task modules and warm numba's cache on each worker (present and future)."""

    name = "neuromem-warm-numba"

    async def setup(self, worker) -> None:
        from neuromem.sweep.worker import preload, warm_numba

        def warm():
            preload()
            warm_numba()
        await asyncio.get_running_loop().run_in_executor(None, warm)
