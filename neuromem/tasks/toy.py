"""``toy``: a test task for sweeps and their benchmark (no simulation).

Draws ``n_draws`` normal numbers from the run's seed and reports statistics of ``x`` plus the
draws, so results depend on the seed and the card, bit for bit. ``sleep_s`` makes a run last
(benchmarks); ``crash`` makes it fail the way real runs can: ``"raise"`` (an exception in the
task) or ``"exit"`` (``os._exit(1)``: the worker process dies, as under ``kill -9`` or the
out-of-memory killer), for every run or only where ``x == crash_x``.
"""

from __future__ import annotations

import dataclasses
import os
import time

import numpy as np

from neuromem.cards import resolve_device
from neuromem.exceptions import ConfigError
from neuromem.schema import at_least, build, nonnegative, param, to_plain
from neuromem.tasks import TaskResult, register_task

__all__ = ["ToyData", "run_toy"]

_SECTIONS = {"name", "summary", "task", "device", "data", "seed"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class ToyData:
    """The toy task's settings (the card's ``[data]`` table)."""

    kind = "data"
    x: float = param(0.0, doc="a number the results depend on")
    n_draws: int = param(4, kind=int, doc="normal draws from the run's seed", check=at_least(1))
    sleep_s: float = param(0.0, unit="s", doc="sleep this long (simulated work)",
                           check=nonnegative)
    crash: str = param("none", kind=str, doc="fail on purpose: raise an error, or exit the "
                       "process", choices=("none", "raise", "exit"))
    crash_x: float = param(optional=True, doc="crash only when x equals this (default: always)")


@register_task("toy")
def run_toy(data: dict, *, path=None, device_overrides=None, seed: int = 0,
            progress: bool = False, raster_samples: int = 0) -> TaskResult:
    """Draw numbers from `seed`; sleep and crash as the card says (no spikes: no raster)."""
    for key in data:
        if key not in _SECTIONS:
            raise ConfigError(f"the toy task has no [{key}] section", file=path, key=key)
    device = resolve_device(data.get("device", "ideal"), device_overrides, file=path)
    toy = build(ToyData, data.get("data", {}), file=path, section="data")
    t0 = time.perf_counter()
    draws = np.random.default_rng(seed).standard_normal(toy.n_draws)
    if toy.sleep_s:
        time.sleep(toy.sleep_s)
    if toy.crash != "none" and (toy.crash_x is None or toy.crash_x == toy.x):
        if toy.crash == "exit":
            os._exit(1)
        raise RuntimeError(f"toy task crashed on purpose (x = {toy.x})")
    metrics = {"mean": float(draws.mean()), "first": float(draws[0]),
               "x_plus_mean": toy.x + float(draws.mean()), "n_draws": toy.n_draws,
               "label": f"x={toy.x:g}", "positive": bool(draws[0] > 0),
               "device": device.name, "g_max_dtod": float(getattr(device.params, "g_max_dtod",
                                                                  0.0)),
               "stats": {"min": float(draws.min()), "max": float(draws.max())}}
    table = [("task", "toy"), ("x", toy.x), ("mean of draws", f"{metrics['mean']:.6g}"),
             ("wall time", f"{time.perf_counter() - t0:.3f} s")]
    cards = {"network": {k: v for k, v in data.items() if k != "device"},
             "device": device.to_dict(), "resolved": {"data": to_plain(toy)}}
    return TaskResult("toy", metrics, cards, {"draws": toy.n_draws}, {"draws": draws}, table)
