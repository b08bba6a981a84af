"""Accuracy and energy per inference of an imported NIR graph, in both execution modes."""

from __future__ import annotations

import numpy as np

from neuromem.exceptions import ConfigError

__all__ = ["evaluate_nir", "evaluate_graph", "dataset_rates", "classify_counts",
           "DATASETS"]


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

    ``graph_or_path`` may also be an imported :class:`~neuromem.nir.NIRNetwork` (then
    ``device`` and ``from_nir_kw`` are not used).

    Spiking mode: the engine network (Poisson inputs at ``rates``). MAC mode: the same
    programmed conductances as a DAC -> crossbar -> ADC accelerator on the inputs
    ``rates / max_rate_Hz`` (:func:`neuromem.tasks.compare.mac_mode`); its most driven
    neuron answers with its label. ``energy`` is an
    :class:`~neuromem.tasks.compare.EnergySection` (default periphery).

    Returns
    -------
    dict
        ``{"accuracy": {"spiking", "mac"}, "energy_per_inference_J": {"spiking", "mac"},
        "energy_inputs", "summary", "neurobench", "device", "n_samples", "silent_fraction"}``
    """
    from neuromem.energy.neurobench import neurobench_metrics
    from neuromem.nir.importer import NIRNetwork, from_nir
    from neuromem.tasks._common import compare_modes
    from neuromem.tasks.compare import EnergySection

    net = graph_or_path if isinstance(graph_or_path, NIRNetwork) else \
        from_nir(graph_or_path, device, seed=seed, **from_nir_kw)
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
           "silent_fraction": float(np.mean(pred < 0)),
           "accuracy": {"spiking": acc, "mac": modes.mac_accuracy},
           "energy_per_inference_J": {"spiking": modes.spiking_J, "mac": modes.mac_J},
           "tech": section.tech, "energy_inputs": modes.inputs, "summary": modes.summary}
    if neurobench:
        out["neurobench"] = neurobench_metrics(net, rates, run=run, mac_inputs=mac_inputs)
    return out


# ------------------------------------------------------------------ datasets and the CLI

#: Datasets an imported graph can be evaluated on, encoded as their native task encodes them.
DATASETS = ("sklearn_digits", "basic_motions")
_TASK_OF = {"sklearn_digits": "digits_stdp", "basic_motions": "motion"}


def dataset_rates(name: str, split: str = "test", overrides: dict | None = None,
                  encoding: dict | None = None):
    """A dataset's split as row rates, the way its native task encodes it.

    ``sklearn_digits``: :func:`neuromem.data.digits.intensity_rates` of the digits split of
    :class:`~neuromem.tasks.digits.DigitsData` (``test_fraction``, ``split_seed``,
    ``max_rate_Hz``, ``encoding``); ``basic_motions``: the motion task's send-on-delta rows
    (:func:`~neuromem.tasks.motion.motion_features`, its bias row included). ``overrides``
    are keys of that section (``--set data.KEY=V``); ``encoding`` is a graph's
    ``input_encoding`` metadata: written by neuromem for the same task, its ``max_rate_Hz``
    (and digits ``encoding``) are the defaults.

    Returns
    -------
    (rates (n, rows) Hz, labels (n,) int, label names, max_rate_Hz, settings dict)
    """
    from neuromem.schema import build, closest, to_plain

    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}{closest(name, DATASETS)}; an imported "
                          f"graph evaluates on {', '.join(DATASETS)}", key="--dataset")
    values = {}
    if encoding and encoding.get("task") == _TASK_OF[name]:
        if encoding.get("max_rate_Hz") is not None:
            values["max_rate_Hz"] = float(encoding["max_rate_Hz"])
        if name == "sklearn_digits" and encoding.get("kind") in ("poisson", "on_off"):
            values["encoding"] = encoding["kind"]
    values.update(overrides or {})
    if name == "sklearn_digits":
        from neuromem.data.digits import intensity_rates, load_digits_split
        from neuromem.tasks.digits import DigitsData

        d = build(DigitsData, values, section="data")
        if split not in ("train", "test"):
            raise ConfigError(f"sklearn_digits has splits train and test, not {split!r}",
                              key="--split")
        x_tr, y_tr, x_te, y_te = load_digits_split(d.test_fraction, d.split_seed)
        x, y = (x_te, y_te) if split == "test" else (x_tr, y_tr)
        return (intensity_rates(x, d.max_rate_Hz, d.encoding), y,
                [str(c) for c in range(10)], d.max_rate_Hz, to_plain(d))
    from neuromem.tasks.motion import MotionFeatures, motion_features

    feat = build(MotionFeatures, values, section="features")
    rates, _counts, _raw, labels, names = motion_features(feat)
    if split not in rates:
        raise ConfigError(f"basic_motions has splits {', '.join(rates)}, not {split!r}",
                          key="--split")
    return (rates[split], labels[split], [str(s) for s in names], feat.max_rate_Hz,
            to_plain(feat))


def evaluate_graph(path, device, dataset: str, *, split: str = "test",
                   data_overrides: dict | None = None, import_options: dict | None = None,
                   tech: str = "isaac_32nm", seed: int = 0) -> dict:
    """``neuromem evaluate NET.nir --device CARD --dataset NAME``: the graph imported onto
    ``device`` (a :class:`~neuromem.cards.DeviceCard`), run on the dataset's split in both
    execution modes (:func:`evaluate_nir`).

    Output neuron j answers class j unless the graph's metadata has ``neuron_labels``.
    ``import_options`` go to :func:`~neuromem.nir.from_nir` (``dt_s``, ``t_present_s``,
    ``t_rest_s``, ``spike_convention``: needed for graphs without neuromem metadata).
    """
    from neuromem.nir.importer import from_nir, read_graph

    graph, src = read_graph(path)
    net = from_nir(graph, device, seed=seed, **(import_options or {}))
    rates, y, names, max_rate, settings = dataset_rates(dataset, split, data_overrides,
                                                        net.input_encoding)
    if net.n_inputs != rates.shape[1]:
        raise ConfigError(f"the graph takes {net.n_inputs} inputs; {dataset} gives "
                          f"{rates.shape[1]} rows per sample", file=src, key="--dataset")
    n_out = net.layer.n_out
    if net.neuron_labels is None and n_out != len(names):
        raise ConfigError(f"the graph has {n_out} output neurons and no neuron_labels "
                          f"metadata; {dataset} has {len(names)} classes (neuron j must "
                          "answer class j)", file=src, key="--dataset")
    ev = evaluate_nir(net, None, rates, y, max_rate_Hz=max_rate, tech=tech, seed=seed)
    s = ev["summary"]
    return {"graph": src, "device": device.name, "dataset": dataset, "split": split,
            "encoding": settings, "n_samples": ev["n_samples"], "labels": names,
            "accuracy": ev["accuracy"]["spiking"], "mac_accuracy": ev["accuracy"]["mac"],
            "silent_fraction": ev["silent_fraction"],
            "energy": {"tech": s["tech"], "spiking_J_per_inference": s["spiking_J"],
                       "mac_J_per_inference": s["mac_J"], "spiking": s["spiking"],
                       "mac": s["mac"]},
            "neurobench": ev["neurobench"]}
