"""neuromem: spiking neural networks on ReRAM (memristive) crossbars.

Device-level learning, event-driven crossbar layers, event-counted energy and
reproducible batch runs in one simulator.
"""

from neuromem._version import __version__
from neuromem.exceptions import ConfigError, DataError, NeuromemError, StoreError

__all__ = ["__version__", "NeuromemError", "ConfigError", "DataError", "StoreError",
           "load_model"]


def load_model(path):
    """Load the trained network stored in a result file (``neuromem run NAME -o R.h5``).

    Returns a :class:`neuromem.model.model.Model` with ``.predict``, ``.evaluate``,
    ``.stream``, ``.labels`` and ``.network``.
    """
    from neuromem.model import load_model as _load
    return _load(path)
