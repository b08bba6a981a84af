"""Engine network -> NIR graph (see :mod:`neuromem.nir` for every conversion)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

import nir

from neuromem._files import atomic_write
from neuromem.exceptions import ConfigError, DataError
from neuromem.model.state import cell_arrays
from neuromem.schema import to_plain

__all__ = ["to_nir", "write_nir", "write_graph", "export_model", "FORMAT_VERSION",
           "SPIKE_CONVENTIONS"]

#: Version of the ``metadata["neuromem"]`` layout this module writes.
FORMAT_VERSION = 1
SPIKE_CONVENTIONS = ("dirac", "per_step")


def _area(spike_convention: str, dt_s: float) -> float:
    if spike_convention not in SPIKE_CONVENTIONS:
        raise ConfigError(f"expected one of {SPIKE_CONVENTIONS}, got {spike_convention!r}",
                          key="spike_convention")
    return 1.0 if spike_convention == "dirac" else float(dt_s)


def charge_factor(dt_s: float, tau_s: float) -> float:
    """``(1 - exp(-dt/tau)) / (dt/tau)``: the engine's synaptic charge per spike over NIR's.

    The engine holds ``ge`` over each step (exponential Euler) and decays it by
    ``exp(-dt/tau)`` per step, so a jump ``E`` delivers ``E dt / (1 - exp(-dt/tau))``
    volt-seconds; NIR's exponential delivers ``E tau``. Weights are converted with this
    factor so both deliver the same charge (the same steady-state drive).
    """
    x = dt_s / tau_s
    return -math.expm1(-x) / x if x > 0 else 1.0


def to_nir(network, *, label_names=None, input_encoding: dict | None = None,
           spike_convention: str = "dirac", neuron_labels=None,
           t_present_s: float | None = None) -> nir.NIRGraph:
    """The network as a NIR graph: ``input -> crossbar (Linear) -> neurons (CubaLIF) ->
    output``, with ``neurons -> inhibition (Linear) -> neurons`` when it has lateral
    inhibition.

    Parameters
    ----------
    network : neuromem.network.Network
    label_names : sequence of str, optional
        Class names (stored in the graph's metadata).
    input_encoding : dict, optional
        How inputs are made (e.g. ``{"kind": "poisson", "max_rate_Hz": 63.75}``); stored as
        JSON in the graph's metadata.
    spike_convention : {"dirac", "per_step"}
        Area of one spike in NIR's equations (see :mod:`neuromem.nir`).
    neuron_labels : array of int, optional
        The class each output neuron votes for (metadata ``neuron_labels``).
    t_present_s : float, optional
        Presentation of one sample at inference (default: the network's).

    Returns
    -------
    nir.NIRGraph
        Node metadata ``["neuromem"]`` holds the conductances, the per-cell device arrays,
        the device and neuron parameters: :func:`neuromem.nir.from_nir` restores the network
        from them exactly.
    """
    layer, pop = network.layer, network.population
    p = pop.params
    dt = network.dt_s
    area = _area(spike_convention, dt)
    n_in, n_out = layer.n_in, layer.n_out
    eff = layer.effective_weights() * layer.w_max          # volts per spike on ge, (in, out)
    approx = []
    if p.synapse == "conductance":
        drive_exc = p.e_exc_V - p.v_rest_V
        drive_inh = p.e_inh_V - p.v_rest_V
        approx.append("conductance synapses linearised at v_rest (ge (e_exc - v_rest), "
                      "gi (e_inh - v_rest)); their shunting of the membrane is lost")
    else:
        drive_exc, drive_inh = 1.0, -1.0
    if p.t_ref_s > 0:
        approx.append(f"refractory period {p.t_ref_s:g} s not representable in NIR")
    if p.theta_plus_V > 0:
        approx.append("adaptive threshold frozen at its current value (v_threshold per "
                      "neuron)")
    c_exc = charge_factor(dt, p.tau_exc_s)
    weight = (p.tau_exc_s * eff.T * drive_exc) / (area * c_exc)      # (out, in)
    theta = np.asarray(pop.state.theta, dtype=np.float64)
    ones = np.ones(n_out)
    neuron = nir.CubaLIF(tau_syn=ones * p.tau_exc_s, tau_mem=ones * p.tau_mem_s, r=ones.copy(),
                         v_leak=ones * p.v_rest_V, v_threshold=p.v_thresh_V + theta,
                         v_reset=ones * p.v_reset_V, w_in=ones.copy())
    device = layer.device
    cross_meta = {"mapping": layer.mapping, "w_max": layer.w_max, "gain": layer.gain.copy(),
                  "device_kind": device.kind,
                  "device_json": json.dumps(to_plain(device), default=float),
                  "effective_weights_V": eff, "pos": cell_arrays(layer.pos)}
    if layer.neg is not None:
        cross_meta["neg"] = cell_arrays(layer.neg)
    nodes = {"input": nir.Input(input_type={"input": np.array([n_in])}),
             "crossbar": nir.Linear(weight=weight, metadata={"neuromem": cross_meta}),
             "neurons": neuron,
             "output": nir.Output(output_type={"output": np.array([n_out])})}
    edges = [("input", "crossbar"), ("crossbar", "neurons"), ("neurons", "output")]
    if p.inhibition > 0 and n_out > 1:
        if p.tau_inh_s != p.tau_exc_s:
            approx.append(f"inhibition decays with tau_syn = tau_exc ({p.tau_exc_s:g} s) in "
                          f"NIR, tau_inh = {p.tau_inh_s:g} s in neuromem")
        c_inh = charge_factor(dt, p.tau_inh_s)
        w_rec = (p.tau_inh_s * p.inhibition * drive_inh / (area * c_inh)
                 * (1.0 - np.eye(n_out)))
        nodes["inhibition"] = nir.Linear(weight=w_rec)
        edges += [("neurons", "inhibition"), ("inhibition", "neurons")]
    neuron.metadata = {"neuromem": {"lif_json": json.dumps(to_plain(p), default=float),
                                    "theta_V": theta.copy(), "exact": int(not approx),
                                    "approximations": "; ".join(approx)}}
    meta = {"format_version": FORMAT_VERSION, "dt_s": dt,
            "t_present_s": float(t_present_s) if t_present_s else network.n_present * dt,
            "t_rest_s": (network.n_steps - network.n_present) * dt,
            "regular_inputs": int(network.regular_inputs), "spike_convention": spike_convention,
            "label_names_json": json.dumps(list(label_names) if label_names is not None
                                           else None),
            "input_encoding_json": json.dumps(input_encoding, default=float),
            "approximations": "; ".join(approx)}
    if neuron_labels is not None:
        meta["neuron_labels"] = np.asarray(neuron_labels, dtype=np.int64)
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"neuromem": meta})


def write_nir(network, path, **kwargs) -> Path:
    """Write :func:`to_nir` of ``network`` to ``path`` (atomically: :func:`write_graph`).

    Keyword arguments go to :func:`to_nir`. Returns the path.
    """
    return write_graph(to_nir(network, **kwargs), path)


def write_graph(graph: nir.NIRGraph, path) -> Path:
    """Write a NIR graph to ``path`` atomically (a temporary file, fsync, rename); a failure
    leaves an earlier file at ``path`` unchanged. Returns the path."""
    path = Path(path)
    try:
        with atomic_write(path) as tmp:
            nir.write(tmp, graph)
    except OSError as exc:
        raise DataError(f"{path}: cannot write the NIR file: {exc}") from None
    return path


def export_model(model_path, out_path, *, spike_convention: str = "dirac") -> Path:
    """``neuromem export MODEL.h5 -o NET.nir``: the trained network of a model file
    (``neuromem run NAME -o MODEL.h5``) as NIR, exactly as :meth:`Model.to_nir
    <neuromem.model.model.Model.to_nir>` gives it (every cell, D2D draws included)."""
    from neuromem.model import load_model

    return write_graph(load_model(model_path).to_nir(spike_convention=spike_convention),
                       out_path)
