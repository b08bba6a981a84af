"""neuromem: spiking neural networks on ReRAM (memristive) crossbars.

Device-level learning, event-driven crossbar layers, event-counted energy and
reproducible batch runs in one simulator.

The objects a notebook reaches for are importable from here; all but the errors load on
first use, so ``import neuromem`` (and the ``neuromem`` command) stays quick.

>>> import neuromem
>>> card = neuromem.load_device("ideal")
>>> card.params.levels, type(card.params).__name__
(1001, 'PulseDevice')
"""

from neuromem._version import __version__
from neuromem.exceptions import (ConfigError, DataError, NeuromemError, SimulationError,
                                 StoreError)

#: name -> module it lives in (loaded by ``__getattr__`` on first use)
_LAZY = {
    "load_device": "neuromem.cards",
    "load_model": "neuromem.model",
    "CrossbarLayer": "neuromem.layers",
    "Population": "neuromem.layers",
    "Network": "neuromem.network",
    "SpikeInput": "neuromem.events",
    "Crossbar": "neuromem.crossbar",
    "CrossbarConfig": "neuromem.crossbar",
    "LIFParams": "neuromem.neurons",
    "STDPParams": "neuromem.plasticity",
    "DeltaRuleParams": "neuromem.plasticity",
    "PulseDevice": "neuromem.devices",
    "IonDriftDevice": "neuromem.devices",
    "VTEAMDevice": "neuromem.devices",
}

__all__ = ["__version__", "NeuromemError", "ConfigError", "DataError", "StoreError",
           "SimulationError", *_LAZY]


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'neuromem' has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
