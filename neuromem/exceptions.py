"""The errors neuromem raises.

Every error neuromem raises on purpose derives from :class:`NeuromemError`, so callers can
catch all of them at once; the subclasses say which kind of thing went wrong.
"""

from __future__ import annotations

__all__ = ["NeuromemError", "ConfigError", "DataError", "StoreError", "SimulationError"]


class NeuromemError(Exception):
    """Root of all errors raised by neuromem."""


class ConfigError(NeuromemError, ValueError):
    """A card, a setting or an argument is invalid.

    Parameters
    ----------
    message : str
        What was expected.
    file : str or path-like, optional
        The card file the value came from.
    key : str, optional
        The dotted key of the offending value (``parameters.g_max_S``).
    """

    def __init__(self, message: str, *, file=None, key: str | None = None):
        self.file = None if file is None else str(file)
        self.key = key
        self.reason = message
        where = []
        if self.file:
            where.append(self.file)
        if key:
            where.append(f"key '{key}'")
        prefix = ": ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class DataError(NeuromemError):
    """A dataset or input file is missing, unreadable or malformed."""


class StoreError(NeuromemError):
    """A result file cannot be written or read."""


class SimulationError(NeuromemError):
    """A simulation could not be carried out with the given state."""
