"""The trained network as a plain tree of arrays and scalars, and back.

:func:`network_tree` captures what inference (and further learning) needs of a
:class:`~neuromem.network.Network`: every cell of every device array (conductance,
device-to-device draws, fault codes), the per-column read-out gain, the neurons' adaptive
thresholds, and the engine's clock (time step, presentation, the counter-based input key and
the sample counter). :func:`restore_network` rebuilds an equal network from it without
drawing a single random number, so a restored network's inference is bit-identical to the
original's on the same sample ids.
"""

from __future__ import annotations

import numpy as np

from neuromem.exceptions import StoreError
from neuromem.layers import CrossbarLayer, Population
from neuromem.network import Network

__all__ = ["network_tree", "restore_network", "cell_arrays", "restore_cells", "program_weights",
           "CELL_ARRAYS"]

#: Per-cell arrays of a pulse device array (length n cells, or 1 when shared by all cells).
CELL_ARRAYS = ("g", "g_min", "g_max", "a_ltp", "a_ltd", "fault")


def cell_arrays(array) -> dict:
    """Copies of a pulse device array's per-cell arrays (:data:`CELL_ARRAYS`)."""
    return {name: np.array(getattr(array, name)) for name in CELL_ARRAYS}


def network_tree(net: Network, *, test_sample_offset: int | None = None) -> dict:
    """The network's state as a nested dict for :func:`neuromem.store.write_result`.

    ``test_sample_offset`` is the sample counter at which the run's test split started, so
    that a loaded model can replay the test split with the same input spike trains.
    """
    layer = net.layer
    tree = {
        "engine": {"dt_s": net.dt_s, "n_present": int(net.n_present),
                   "n_steps": int(net.n_steps), "key": int(net.key),
                   "samples_seen": int(net.samples_seen),
                   "test_sample_offset": -1 if test_sample_offset is None
                   else int(test_sample_offset),
                   "regular_inputs": bool(net.regular_inputs),
                   "normalize_target": -1.0 if net.normalize_target is None
                   else float(net.normalize_target)},
        "layer": {"n_in": int(layer.n_in), "n_out": int(layer.n_out), "mapping": layer.mapping,
                  "w_max": float(layer.w_max), "gain": np.array(layer.gain),
                  "pos": cell_arrays(layer.pos)},
        "population": {"n": int(net.population.n),
                       "theta": np.array(net.population.state.theta)},
    }
    if layer.neg is not None:
        tree["layer"]["neg"] = cell_arrays(layer.neg)
    return tree


def restore_cells(array, cells: dict, where: str) -> None:
    """Overwrite a pulse device array's cells with :func:`cell_arrays` output (StoreError
    naming ``where`` when one is missing or has the wrong length)."""
    n = array.size
    for name in CELL_ARRAYS:
        if name not in cells:
            raise StoreError(f"{where}: no {name!r} array")
        value = np.ascontiguousarray(cells[name],
                                     dtype=np.uint8 if name == "fault" else np.float64)
        if value.ndim != 1 or value.shape[0] not in (1, n) or (name == "g" and
                                                              value.shape[0] != n):
            raise StoreError(f"{where}/{name}: expected {n} values (or 1 shared), got "
                             f"shape {value.shape}")
        setattr(array, name, value)


def program_weights(layer, weights, rng: np.random.Generator) -> int:
    """Program normalised weights (n_in, n_out) into the layer's cells as a chip is
    programmed ex situ: set directly on a continuous card; on a card with discrete levels
    open loop by pulses (RESET, then the nearest whole number of SET pulses on each cell's
    own curve, through the device model: levels, nonlinearity, C2C noise per pulse; see
    :meth:`neuromem.devices.pulse.PulseArray.program_by_pulses`). Returns the pulses."""
    layer.set_weights(weights)
    pulses = 0
    if not layer.device.continuous:
        for array in (layer.pos, layer.neg):
            if array is not None:
                pulses += array.program_by_pulses(array.g.copy(), rng)
    return pulses


def restore_network(tree: dict, device, neuron, stdp, *, where: str = "model") -> Network:
    """Rebuild the network of :func:`network_tree` with these device, neuron and STDP
    parameters (from the run's resolved cards)."""
    try:
        eng, lay, pop = tree["engine"], tree["layer"], tree["population"]
        n_in, n_out = int(lay["n_in"]), int(lay["n_out"])
        # Built with zero initial weights from a throw-away generator; every cell is then
        # overwritten with the stored arrays, so nothing of the draw remains.
        layer = CrossbarLayer(n_in, n_out, device, np.random.default_rng(0),
                              mapping=str(lay["mapping"]), w_max=float(lay["w_max"]),
                              init=(0.0, 0.0))
        restore_cells(layer.pos, lay["pos"], f"{where}/layer/pos")
        if layer.neg is not None:
            restore_cells(layer.neg, lay["neg"], f"{where}/layer/neg")
        gain = np.ascontiguousarray(lay["gain"], dtype=np.float64)
        if gain.shape != (n_out,):
            raise StoreError(f"{where}/layer/gain: expected {n_out} values, got {gain.shape}")
        layer.gain = gain
        population = Population(int(pop["n"]), neuron)
        theta = np.ascontiguousarray(pop["theta"], dtype=np.float64)
        if theta.shape != (population.n,):
            raise StoreError(f"{where}/population/theta: expected {population.n} values")
        population.state.theta[:] = theta
        dt = float(eng["dt_s"])
        n_present, n_steps = int(eng["n_present"]), int(eng["n_steps"])
        target = float(eng["normalize_target"])
        net = Network(layer, population, stdp, dt_s=dt, t_present_s=n_present * dt,
                      t_rest_s=(n_steps - n_present) * dt, seed=0,
                      normalize_target=None, regular_inputs=bool(eng["regular_inputs"]))
    except KeyError as err:
        raise StoreError(f"{where}: missing {err.args[0]!r}") from None
    net.n_present, net.n_steps = n_present, n_steps
    net.key = int(eng["key"])
    net.samples_seen = int(eng["samples_seen"])
    net.normalize_target = target if target >= 0 else None
    return net
