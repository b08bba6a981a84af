"""NeuroBench's metrics (Yik et al., Nature Communications 2025) from exact event counts.

Definitions follow ``neurobench`` 2.3 (``neurobench/metrics``), applied to a crossbar layer
(the Linear layer NeuroBench would hook) and, with lateral inhibition, its recurrent
inhibition matrix ``-c (1 - I)`` (what :func:`neuromem.nir.to_nir` exports):

- **footprint** (``Footprint``: bytes of parameters and buffers): what the engine holds for
  the network: the device arrays of the crossbar (conductances, per-cell D2D parameters and
  fault codes: ``CrossbarLayer.memory_bytes()``), the per-column gain, the packed neuron
  parameters and the neuron state (v, ge, gi, theta as float64, refractory step as int64).
- **connection sparsity** (``ConnectionSparsity``): zero weights / all weights of the
  weight layers; a crossbar weight is zero when ``G+ == G-`` (or ``G == G_ref``); the
  inhibition matrix has its zero diagonal.
- **activation sparsity** (``ActivationSparsity``): zero activations / all activations of
  the neuron layers over every time step and sample: ``1 - output_spikes /
  neuron_updates`` (the engine updates every neuron every step).
- **synaptic operations** (``SynapticOperations``, per inference): a layer's inputs are
  binarised (non-zero -> 1), so one input x non-zero weight is one operation; spiking
  inputs (all in {0, 1, -1}) count as ``Effective_ACs``, others as ``Effective_MACs``;
  ``Dense`` counts every weight once per time step (inputs and weights all ones); biases
  are not synaptic operations. Spiking mode: per step, the spiking inputs times the
  non-zero weights of their rows (exact per-channel counts of the engine's input spikes),
  plus each output spike times the ``n_out - 1`` inhibitory weights. MAC mode: one dense
  matrix-vector product per inference on the input vector.
"""

from __future__ import annotations

import numpy as np

from neuromem.exceptions import DataError

__all__ = ["neurobench_metrics", "neurobench_from_result", "input_spike_counts",
           "format_neurobench_rows"]

_STATE_ARRAYS = 5          # v, ge, gi, theta (float64) and the refractory step (int64)


def _nonzero_weights(g_pos, g_neg, g_ref) -> np.ndarray:
    g_pos = np.asarray(g_pos, dtype=np.float64)
    other = np.asarray(g_neg, dtype=np.float64) if g_neg is not None else g_ref
    return g_pos != other


def input_spike_counts(network, inputs, first_sample_id: int) -> np.ndarray:
    """Input spikes per sample and crossbar row, (n_samples, n_rows), exactly as the engine
    generates them (the counter-based Poisson/regular streams of samples
    ``first_sample_id, first_sample_id + 1, ...``, or the given events)."""
    from neuromem.kernels import engine as _k
    from neuromem.events import SpikeInput

    n_rows = network.layer.n_in
    if isinstance(inputs, SpikeInput):
        ev = network._events(inputs)
        out = np.zeros((ev.n_samples, n_rows), dtype=np.int64)
        for b in range(ev.n_samples):
            lo, hi = ev.offsets[b], ev.offsets[b + 1]
            keep = ev.steps[lo:hi] < network.n_steps
            out[b] = np.bincount(ev.channels[lo:hi][keep], minlength=n_rows)
        return out
    rates = network._rates(inputs)
    out = np.zeros((len(rates), n_rows), dtype=np.int64)
    for b in range(len(rates)):
        _start, chans = _k.poisson_events(rates[b] * network.dt_s, network.n_present,
                                          network.key, first_sample_id + b,
                                          network.regular_inputs)
        out[b] = np.bincount(chans, minlength=n_rows)
    return out


def _ops_rows(nnz_row: np.ndarray, active: np.ndarray) -> float:
    """Sum over samples of (active row count x non-zero weights of the row)."""
    return float(np.asarray(active, dtype=np.float64) @ nnz_row.astype(np.float64))


def neurobench_metrics(network, inputs, *, run=None, mac_inputs=None,
                       mac_outputs=None) -> dict:
    """NeuroBench metrics of ``network`` on ``inputs`` (rates or a SpikeInput), exact.

    ``run`` is the :class:`~neuromem.network.RunResult` of the network's last
    ``run(inputs)`` (run here when None). ``mac_inputs`` (n, n_rows) are the MAC mode's
    input vectors, ``mac_outputs`` its outputs (for its activation sparsity).
    Rows of a NIR bias (``NIRNetwork.bias_row``) are biases: not synaptic operations.
    """
    layer, pop = network.layer, network.population
    n_in, n_out = layer.n_in, layer.n_out
    if run is None:
        first = network.samples_seen
        run = network.run(inputs)
    else:
        first = network.samples_seen - run.counts.shape[0]
    n = run.counts.shape[0]
    counts = input_spike_counts(network, inputs, first)
    nz = _nonzero_weights(layer.pos.conductance_S,
                          layer.neg.conductance_S if layer.neg is not None else None,
                          layer.g_ref_S)
    nnz_row = nz.sum(axis=1)
    bias_rows = 1 if getattr(network, "bias_row", False) else 0
    syn_rows = n_in - bias_rows
    inhib = pop.params.inhibition > 0 and n_out > 1
    n_rec = n_out * (n_out - 1) if inhib else 0
    ev = run.events
    steps = ev["steps"] / n
    acs = _ops_rows(nnz_row[:syn_rows], counts[:, :syn_rows].sum(axis=0)) / n
    acs_rec = ev["output_spikes"] * (n_out - 1) / n if inhib else 0.0
    state_bytes = _STATE_ARRAYS * 8 * n_out
    param_bytes = layer.memory_bytes() + layer.gain.nbytes + network._npk.nbytes
    zeros = int(nz[:syn_rows].size - nz[:syn_rows].sum()) + (n_out if inhib else 0)
    total_w = syn_rows * n_out + (n_out * n_out if inhib else 0)
    out = {
        "footprint_bytes": int(param_bytes + state_bytes),
        "footprint_detail": {"crossbar_bytes": int(layer.memory_bytes()),
                             "gain_bytes": int(layer.gain.nbytes),
                             "neuron_parameter_bytes": int(network._npk.nbytes),
                             "neuron_state_bytes": int(state_bytes)},
        "connection_sparsity": zeros / total_w,
        "n_inferences": int(n), "exact": True,
        "spiking": {
            "activation_sparsity": 1.0 - ev["output_spikes"] / max(ev["neuron_updates"], 1),
            "synaptic_operations": {"Effective_MACs": 0.0, "Effective_ACs": acs + acs_rec,
                                    "Dense": (syn_rows * n_out + n_rec) * steps},
            "feedforward_ACs": acs, "recurrent_ACs": acs_rec},
    }
    if mac_inputs is not None:
        x = np.asarray(mac_inputs, dtype=np.float64)[:, :syn_rows]
        ops = _ops_rows(nnz_row[:syn_rows], (x != 0).sum(axis=0)) / len(x)
        spiking = bool(np.all(np.isin(x, (0.0, 1.0, -1.0))))
        mac = {"synaptic_operations": {"Effective_MACs": 0.0 if spiking else ops,
                                       "Effective_ACs": ops if spiking else 0.0,
                                       "Dense": float(syn_rows * n_out)}}
        if mac_outputs is not None:
            y = np.asarray(mac_outputs)
            mac["activation_sparsity"] = float(np.mean(y == 0))
        out["mac"] = mac
    return out


def neurobench_from_result(res, inputs: dict) -> dict:
    """NeuroBench metrics of a result file from its event counts and stored conductances.

    ``inputs`` are the result's energy inputs. Without per-row input counts in the file,
    ``Effective_ACs`` is ``input_spikes x`` the mean non-zero weights per row: exact when
    every row has as many non-zero weights (``exact``), e.g. no weight exactly zero. The MAC
    mode's ``Effective_MACs`` needs the input vectors (not stored): None here
    (:func:`neurobench_metrics` gives it exactly).
    """
    g_pos = res.state.get("g_pos_S")
    if g_pos is None:
        raise DataError(f"{res.path}: no state/g_pos_S: NeuroBench metrics need the weights")
    g_pos = np.asarray(g_pos, dtype=np.float64)
    g_neg = res.state.get("g_neg_S")
    device = (res.cards or {}).get("device", {})
    g_ref = float(device.get("parameters", {}).get("g_min_S", 0.0))
    nz = _nonzero_weights(g_pos, g_neg, g_ref)
    n_in, n_out = g_pos.shape
    nnz_row = nz.sum(axis=1)
    neuron = ((res.cards or {}).get("resolved") or {}).get("neuron", {})
    inhib = float(neuron.get("inhibition", 0.0)) > 0 and n_out > 1
    n_rec = n_out * (n_out - 1) if inhib else 0
    zeros = int(nz.size - nz.sum()) + (n_out if inhib else 0)
    total_w = n_in * n_out + (n_out * n_out if inhib else 0)
    state_bytes = _STATE_ARRAYS * 8 * n_out
    w_bytes = g_pos.nbytes + (np.asarray(g_neg).nbytes if g_neg is not None else 0)
    param_bytes = w_bytes + 8 * n_out + 8 * 14
    out = {"footprint_bytes": int(param_bytes + state_bytes),
           "footprint_detail": {"conductance_bytes": int(w_bytes), "gain_bytes": 8 * n_out,
                                "neuron_parameter_bytes": 8 * 14,
                                "neuron_state_bytes": int(state_bytes)},
           "connection_sparsity": zeros / total_w,
           "exact": bool(np.all(nnz_row == nnz_row[0]))}
    sp = inputs.get("spiking")
    if sp is not None:
        ev, n = sp["events"], max(int(sp["n_inferences"]), 1)
        acs = ev.get("input_spikes", 0) * float(nnz_row.mean()) / n
        acs_rec = ev.get("output_spikes", 0) * (n_out - 1) / n if inhib else 0.0
        out["spiking"] = {
            "activation_sparsity": 1.0 - ev.get("output_spikes", 0)
            / max(ev.get("neuron_updates", 1), 1),
            "synaptic_operations": {"Effective_MACs": 0.0, "Effective_ACs": acs + acs_rec,
                                    "Dense": (n_in * n_out + n_rec) * ev.get("steps", 0) / n},
            "feedforward_ACs": acs, "recurrent_ACs": acs_rec}
    if inputs.get("mac") is not None:
        out["mac"] = {"synaptic_operations": {"Effective_MACs": None, "Effective_ACs": 0.0,
                                              "Dense": float(n_in * n_out)}}
    return out


def _num(x) -> str:
    if x is None:
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.4g}"


def format_neurobench_rows(nb: dict, modes) -> list[tuple[str, ...]]:
    """Rows (label, value per mode) for ``neuromem energy``'s table."""
    rows = [("NeuroBench footprint", *(f"{nb['footprint_bytes']:,} B" for _ in modes)),
            ("  connection sparsity", *(f"{nb['connection_sparsity']:.4f}" for _ in modes))]
    act = [nb.get(m, {}).get("activation_sparsity") for m in modes]
    rows.append(("  activation sparsity", *("n/a" if a is None else f"{a:.4f}" for a in act)))
    for key in ("Effective_MACs", "Effective_ACs", "Dense"):
        rows.append((f"  {key} / inference",
                     *(_num(nb.get(m, {}).get("synaptic_operations", {}).get(key))
                       for m in modes)))
    return rows
