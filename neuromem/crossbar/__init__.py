"""Crossbar arrays: weight <-> conductance mapping, tiling, the read model and MAC periphery.

A :class:`Crossbar` holds a weight matrix ``W`` (``n_in x n_out``: row ``i`` is an input,
column ``j`` an output) as conductances of ReRAM cells (one :class:`~neuromem.devices.
DeviceArray` per physical array), partitioned into ``tile_rows x tile_cols`` tiles. A read
drives row voltages and sums cell currents per column (Ohm's law per cell, Kirchhoff's
current law per column); each tile's column currents are partial sums, the quantities an ADC
sees in MAC mode. Wire resistance, read noise and drift, DAC and ADC are all optional
non-idealities of the same read.

The package, along its seams:

``config``      :class:`CrossbarConfig` (mapping, tiling, periphery; validated like a card)
``cells``       the device arrays, geometry and the weight <-> conductance map (module Notes)
``read``        the analog read: tiles, IR drop (``irdrop``), read noise, drift
``periphery``   DAC, ADC, shift-add and the event counts of MAC mode (module Notes)
"""

from __future__ import annotations

from neuromem.crossbar.cells import CrossbarCells
from neuromem.crossbar.config import (ADC_RANGES, COUNT_KEYS, DAC_MODES, MAPPINGS,
                                      OFFSET_REFERENCES, CrossbarConfig)
from neuromem.crossbar.periphery import MacPeriphery
from neuromem.crossbar.read import AnalogRead

__all__ = ["CrossbarConfig", "Crossbar", "mac", "MAPPINGS", "OFFSET_REFERENCES", "DAC_MODES",
           "ADC_RANGES", "COUNT_KEYS"]


class Crossbar(CrossbarCells, AnalogRead, MacPeriphery):
    """A weight matrix held as device conductances in tiled crossbar arrays.

    Parameters
    ----------
    shape : tuple of int
        ``(n_in, n_out)``.
    device : DeviceParams
        The device model (e.g. ``load_device('ideal').params``); a DeviceCard also works.
    config : CrossbarConfig, optional
        Mapping, tiling and periphery (default ``CrossbarConfig()``).
    rng : numpy.random.Generator
        Draws the devices' D2D parameters and faults.
    w_max : float, optional
        Weight mapped to the full window (default ``config.w_max``, else 1).

    Attributes
    ----------
    arrays : tuple of DeviceArray
        ``(G+, G-)`` for the differential pair, both ``(n_in, n_out)``; ``(G, G_ref)`` for
        offset, ``G_ref`` of shape ``(n_in, n_col_tiles)``; ``(G,)`` for a crossbar made
        with :meth:`of_cells` and ``reference_S`` (an ideal reference of that conductance).
    w_per_S : float
        Weight per siemens of effective conductance: ``2 w_max / dG`` for an offset map with
        a mid-window reference, else ``w_max / dG``.

    Examples
    --------
    >>> import numpy as np
    >>> from neuromem.cards import load_device
    >>> W = np.array([[0.5, -1.0], [1.0, 0.25]])
    >>> ideal_periphery = CrossbarConfig(dac_bits=None, dac_mode="multibit", adc_bits=None)
    >>> xbar = Crossbar.from_weights(W, load_device("ideal").params, ideal_periphery,
    ...                              np.random.default_rng(0))
    >>> bool(np.allclose(xbar.weights(), W))
    True
    >>> y, counts = xbar.mac(np.array([1.0, 2.0]))
    >>> y.round(12).tolist(), counts["adc_conversions"]
    ([2.5, -0.5], 2)
    """


def mac(crossbar: Crossbar, x, **kwargs) -> tuple[np.ndarray, dict]:
    """``crossbar.mac(x, **kwargs)``: quantised ``x @ W`` and its event counts."""
    return crossbar.mac(x, **kwargs)
