"""Tasks: what ``neuromem run NAME`` does with a network card (train, test, report).

Each task validates its card's sections and returns a :class:`TaskResult`. Register a task
with :func:`register_task`; a network card names its task in ``task = "..."``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from neuromem.exceptions import ConfigError
from neuromem.schema import closest

__all__ = ["TaskResult", "register_task", "get_task", "TASKS"]


@dataclasses.dataclass
class TaskResult:
    """Everything a run produced, ready for the terminal, JSON and the result file."""

    name: str
    metrics: dict
    cards: dict
    events: dict
    state: dict
    table: list  # rows of (label, value) for the terminal
    raster: list | None = None
    extra: dict = dataclasses.field(default_factory=dict)
    model: dict | None = None  # the trained network for inference (neuromem.model)

    def __post_init__(self):
        # which cells MAC mode read ("same" | "fresh"), in the run JSON and the result file
        mac = (self.extra or {}).get("energy_inputs", {}).get("mac", {})
        if "mac_array" in mac:
            self.metrics.setdefault("mac_array", mac["mac_array"])


TASKS: dict[str, Callable] = {}


def register_task(name: str):
    def deco(fn):
        if name in TASKS:
            raise ValueError(f"task {name!r} is already registered")
        TASKS[name] = fn
        return fn
    return deco


def get_task(name, *, file=None) -> Callable:
    from neuromem.tasks import digits, kws, motion, toy  # noqa: F401  (they register themselves)
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}{closest(name, TASKS)}; known: "
                          f"{', '.join(sorted(TASKS))}", file=file, key="task")
    return TASKS[name]
