"""neuromem: spiking neural networks on ReRAM (memristive) crossbars.

Device-level learning, event-driven crossbar layers, event-counted energy and
reproducible batch runs in one simulator.
"""

from neuromem._version import __version__
from neuromem.exceptions import ConfigError, DataError, NeuromemError, StoreError

__all__ = ["__version__", "NeuromemError", "ConfigError", "DataError", "StoreError"]
