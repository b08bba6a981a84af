"""Engine network -> NIR graph (see :mod:`neuromem.nir` for every conversion)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

import nir

from neuromem._files import fsync_file, fsync_folder
from neuromem.exceptions import ConfigError, DataError
from neuromem.schema import to_plain

__all__ = ["to_nir", "write_nir", "export_result_to_nir", "network_from_result",
           "FORMAT_VERSION", "SPIKE_CONVENTIONS"]

#: Version of the ``metadata["neuromem"]`` layout this module writes.
FORMAT_VERSION = 1
SPIKE_CONVENTIONS = ("dirac", "per_step")
_CELL_FIELDS = ("g", "g_min", "g_max", "a_ltp", "a_ltd", "fault")


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


def _cells(array) -> dict:
    return {f: np.array(getattr(array, f)) for f in _CELL_FIELDS}


def to_nir(network, *, label_names=None, input_encoding: dict | None = None,
           spike_convention: str = "dirac") -> nir.NIRGraph:
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
                  "effective_weights_V": eff, "pos": _cells(layer.pos)}
    if layer.neg is not None:
        cross_meta["neg"] = _cells(layer.neg)
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
            "t_present_s": network.n_present * dt,
            "t_rest_s": (network.n_steps - network.n_present) * dt,
            "regular_inputs": int(network.regular_inputs), "spike_convention": spike_convention,
            "label_names_json": json.dumps(list(label_names) if label_names is not None
                                           else None),
            "input_encoding_json": json.dumps(input_encoding, default=float),
            "approximations": "; ".join(approx)}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"neuromem": meta})


def write_nir(network, path, **kwargs) -> Path:
    """Write :func:`to_nir` of ``network`` to ``path`` (atomically: ``.tmp``, fsync, rename).

    Keyword arguments go to :func:`to_nir`. Returns the path.
    """
    path = Path(path)
    graph = to_nir(network, **kwargs)
    tmp = path.with_name(path.name + ".tmp")
    try:
        nir.write(tmp, graph)
        fsync_file(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DataError(f"{path}: cannot write the NIR file: {exc}") from None
    fsync_folder(path.parent)
    return path


# ------------------------------------------------------------------ from a result file

def network_from_result(result_or_path, *, seed: int = 0):
    """Rebuild the trained engine network of a ``neuromem run NAME -o R.h5`` result file.

    Reads the resolved network/neuron cards, the device card and the final state
    (``g_pos_S``, ``g_neg_S``, ``gain_per_column``, ``theta_V``). The per-cell D2D draws are
    not stored in result files: cells get the card's nominal window and nonlinearity (exact
    for cards without D2D spread). Returns ``(network, info)`` with ``info`` holding
    ``label_names``, ``neuron_labels`` and ``input_encoding`` where the result has them.
    """
    from neuromem.cards import device_from_mapping
    from neuromem.layers import CrossbarLayer, Population
    from neuromem.network import Network
    from neuromem.neurons import LIFParams
    from neuromem.plasticity import STDPParams
    from neuromem.schema import build
    from neuromem.store import Result, read_result

    res = result_or_path if isinstance(result_or_path, Result) else read_result(result_or_path)
    where = str(res.path)
    resolved = (res.cards or {}).get("resolved") or {}
    for key in ("network", "neuron"):
        if key not in resolved:
            raise DataError(f"{where}: cards/resolved/{key} missing: not a network result")
    if "device" not in res.cards:
        raise DataError(f"{where}: cards/device missing")
    g_pos = res.state.get("g_pos_S")
    if g_pos is None:
        raise DataError(f"{where}: state/g_pos_S missing")
    g_pos = np.asarray(g_pos, dtype=np.float64)
    g_neg = res.state.get("g_neg_S")
    card = device_from_mapping(dict(res.cards["device"]), file=where)
    net_s = resolved["network"]
    neuron = build(LIFParams, resolved["neuron"], file=where, section="neuron")
    n_in, n_out = g_pos.shape
    mapping = net_s.get("mapping", "single")
    layer = CrossbarLayer(n_in, n_out, card.params, np.random.default_rng(0), mapping=mapping,
                          w_max=float(net_s.get("w_max", 1.0)), init=(0.0, 0.0))
    layer.pos.g[:] = g_pos.ravel()
    if layer.neg is not None:
        if g_neg is None:
            raise DataError(f"{where}: differential mapping but no state/g_neg_S")
        layer.neg.g[:] = np.asarray(g_neg, dtype=np.float64).ravel()
    if "gain_per_column" in res.state:
        layer.gain[:] = np.asarray(res.state["gain_per_column"], dtype=np.float64)
    feats = resolved.get("features", {})
    dt = float(net_s.get("dt_s", feats.get("dt_s", 0.001)))
    t_present = float(net_s.get("t_present_test_s") or net_s.get("t_present_s")
                      or feats.get("t_present_s", 1.0))
    t_rest = float(net_s.get("t_rest_s", 0.0))
    net = Network(layer, Population(n_out, neuron), STDPParams(rule="none"), dt_s=dt,
                  t_present_s=t_present, t_rest_s=t_rest, seed=seed)
    if "theta_V" in res.state:
        net.population.state.theta[:] = np.asarray(res.state["theta_V"], dtype=np.float64)
    extra = res.extra or {}
    data = resolved.get("data", {})
    rate = feats.get("max_rate_Hz", data.get("max_rate_Hz"))
    info = {"label_names": extra.get("label_names"),
            "neuron_labels": (np.asarray(res.state["neuron_labels"])
                              if "neuron_labels" in res.state else None),
            "input_encoding": {"kind": data.get("encoding", "poisson"),
                               "max_rate_Hz": rate, "task": res.cards.get("network", {})
                               .get("task")}}
    return net, info


def export_result_to_nir(result_path, out_path, *, spike_convention: str = "dirac") -> Path:
    """``neuromem export R.h5 -o NET.nir``: the trained network of a result file as NIR.

    Neuron labels (which class each output neuron votes for) go into the graph's metadata
    (``neuron_labels``) beside the class names.
    """
    net, info = network_from_result(result_path)
    names = info["label_names"]
    if names is None and info["neuron_labels"] is not None:
        names = [str(c) for c in range(int(np.max(info["neuron_labels"])) + 1)]
    graph = to_nir(net, label_names=names, input_encoding=info["input_encoding"],
                   spike_convention=spike_convention)
    if info["neuron_labels"] is not None:
        graph.metadata["neuromem"]["neuron_labels"] = np.asarray(info["neuron_labels"],
                                                                 dtype=np.int64)
    out = Path(out_path)
    tmp = out.with_name(out.name + ".tmp")
    try:
        nir.write(tmp, graph)
        fsync_file(tmp)
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DataError(f"{out}: cannot write the NIR file: {exc}") from None
    fsync_folder(out.parent)
    return out
