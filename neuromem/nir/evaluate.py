"""Accuracy and energy per inference of an imported NIR graph, in both execution modes."""

from __future__ import annotations

import numpy as np

from neuromem.exceptions import ConfigError

__all__ = ["evaluate_nir", "classify_counts"]


def classify_counts(counts: np.ndarray, neuron_labels=None) -> np.ndarray:
    """Predicted class per sample: the class whose neurons fire most on average (neuron j is
    class j without ``neuron_labels``); -1 for a silent sample."""
    counts = np.asarray(counts, dtype=np.float64)
    if neuron_labels is None:
        pred = counts.argmax(axis=1)
    else:
        from neuromem.tasks.digits import classify
        labels = np.asarray(neuron_labels, dtype=np.int64)
        pred = classify(counts, labels, int(labels.max()) + 1)
    pred = np.asarray(pred, dtype=np.int64)
    pred[counts.sum(axis=1) == 0] = -1
    return pred


def evaluate_nir(graph_or_path, device, rates, labels, *, neuron_labels=None,
                 max_rate_Hz: float | None = None, tech: str = "isaac_32nm", seed: int = 0,
                 energy=None, neurobench: bool = True, **from_nir_kw) -> dict:
    """Import a NIR graph onto ``device``, run ``rates`` (n, n_inputs) in Hz, score ``labels``.

    Spiking mode: the engine network (Poisson inputs at ``rates``). MAC mode: the same
    programmed conductances as a DAC -> crossbar -> ADC accelerator on the inputs
    ``rates / max_rate_Hz`` (:func:`neuromem.tasks.compare.mac_mode`); its most driven
    neuron answers with its label. ``energy`` is an
    :class:`~neuromem.tasks.compare.EnergySection` (default periphery).

    Returns
    -------
    dict
        ``{"accuracy": {"spiking", "mac"}, "energy_per_inference_J": {"spiking", "mac"},
        "energy_inputs", "summary", "neurobench", "device", "n_samples"}``
    """
    from neuromem.energy.neurobench import neurobench_metrics
    from neuromem.nir.importer import from_nir
    from neuromem.tasks._common import compare_modes
    from neuromem.tasks.compare import EnergySection

    net = from_nir(graph_or_path, device, seed=seed, **from_nir_kw)
    rates = np.ascontiguousarray(rates, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if rates.shape[0] != labels.shape[0]:
        raise ConfigError(f"{rates.shape[0]} samples of rates but {labels.shape[0]} labels",
                          key="labels")
    nl = neuron_labels if neuron_labels is not None else net.neuron_labels
    section = energy if energy is not None else EnergySection(tech=tech)
    run = net.run(rates)
    pred = classify_counts(run.counts, nl)
    acc = float(np.mean(pred == labels))
    full = net._rates(rates)                      # with the bias row, if any
    scale = float(max_rate_Hz if max_rate_Hz else max(full.max(), 1e-12))
    mac_inputs = np.clip(full / scale, 0.0, 1.0)
    ss = np.random.SeedSequence(seed)
    mac_rng = np.random.default_rng(np.random.SeedSequence(ss.entropy, spawn_key=(3,)))
    label_of = np.arange(net.layer.n_out) if nl is None else np.asarray(nl)
    modes = compare_modes(net.layer, mac_inputs, labels,
                          read_mac=lambda y: label_of[np.argmax(y, axis=1)], accuracy=acc,
                          test_events=run.events, dt_s=net.dt_s, section=section,
                          device=net.layer.device, rng=mac_rng)
    out = {"device": getattr(net.layer.device, "kind", ""), "n_samples": int(len(labels)),
           "accuracy": {"spiking": acc, "mac": modes.mac_accuracy},
           "energy_per_inference_J": {"spiking": modes.spiking_J, "mac": modes.mac_J},
           "tech": section.tech, "energy_inputs": modes.inputs, "summary": modes.summary}
    if neurobench:
        out["neurobench"] = neurobench_metrics(net, rates, run=run, mac_inputs=mac_inputs)
    return out
