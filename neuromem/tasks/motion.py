"""``motion``: activity recognition on BasicMotions with level-crossing (UP/DOWN) spikes.

Pipeline: accelerometer + gyroscope series (6 channels x 100 samples) -> per-channel
standardisation fitted on the training split -> send-on-delta events (UP and DOWN channels,
:func:`neuromem.data.sensors.delta_counts`) counted per time bin -> one crossbar row per
(UP/DOWN, channel, bin) firing Poisson at a rate set by its event count, plus a bias row ->
a differential crossbar -> LIF neurons per class, trained in-crossbar by the supervised delta
rule (:func:`neuromem.network.train_delta`) as in the ``kws`` task. Baseline: logistic
regression on per-channel summary features (mean, std, min, max, mean |diff|).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from neuromem.cards import resolve_device
from neuromem.data.encoders import fit_range, unit_scale
from neuromem.data.sensors import delta_counts, load_basic_motions
from neuromem.exceptions import ConfigError
from neuromem.layers import CrossbarLayer, Population
from neuromem.network import Network, train_delta
from neuromem.neurons import LIFParams
from neuromem.plasticity import DeltaRuleParams, STDPParams
from neuromem.schema import at_least, build, param, positive
from neuromem.tasks import TaskResult, register_task
from neuromem.tasks._common import class_counts, compare_modes, conductance_state, result_cards
from neuromem.tasks.compare import EnergySection
from neuromem.tasks.digits import confusion
from neuromem.tasks.kws import KWSNetwork

__all__ = ["MotionFeatures", "motion_features", "summary_features", "run_motion"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class MotionData:
    kind = "data"
    dataset: str = param("basic_motions", kind=str, doc="sensor dataset",
                         choices=("basic_motions",))


@dataclasses.dataclass(frozen=True, kw_only=True)
class MotionFeatures:
    """From sensor series to crossbar rows."""

    kind = "features"
    threshold: float = param(0.1, doc="level step of the send-on-delta code, in training "
                             "standard deviations", check=positive)
    time_bins: int = param(10, kind=int, doc="time bins per series (rows per channel and "
                           "polarity)", check=at_least(1))
    max_rate_Hz: float = param(400.0, unit="Hz", doc="rate of a row at the top of its "
                               "training range", check=positive)
    t_present_s: float = param(0.5, unit="s", doc="presentation of one series",
                               check=positive)
    dt_s: float = param(0.001, unit="s", doc="time step", check=positive)
    bias: bool = param(True, kind=bool, doc="add an always-on bias row at max_rate_Hz / 2")


def summary_features(x: np.ndarray) -> np.ndarray:
    """Per-channel mean, std, min, max and mean |diff| of (n, channels, time) series."""
    return np.concatenate([x.mean(2), x.std(2), x.min(2), x.max(2),
                           np.abs(np.diff(x, axis=2)).mean(2)], axis=1)


def motion_features(feat: MotionFeatures):
    """(rates per split, flat event counts per split, raw series, labels, label names)."""
    data, names = load_basic_motions()
    x_tr = data["train"][0]
    mean = x_tr.mean(axis=(0, 2), keepdims=True)
    std = x_tr.std(axis=(0, 2), keepdims=True)
    counts, raw, labels = {}, {}, {}
    for split, (x, y) in data.items():
        z = (x - mean) / std
        counts[split] = delta_counts(z, feat.threshold, feat.time_bins).reshape(len(x), -1)
        raw[split], labels[split] = x, y
    low, high = fit_range(counts["train"], 0.0, 99.0)
    rates = {}
    for s, c in counts.items():
        r = unit_scale(c, low, high) * feat.max_rate_Hz
        if feat.bias:
            r = np.concatenate([r, np.full((len(r), 1), 0.5 * feat.max_rate_Hz)], axis=1)
        rates[s] = r
    return rates, counts, raw, labels, names


def baseline_accuracy(raw: dict, labels: dict, seed: int = 0) -> float:
    """Logistic regression on standardised summary features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, random_state=seed))
    clf.fit(summary_features(raw["train"]), labels["train"])
    return float(clf.score(summary_features(raw["test"]), labels["test"]))


@register_task("motion")
def run_motion(data: dict, *, path=None, device_overrides=None, seed: int = 0,
               progress: bool = False, raster_samples: int = 0) -> TaskResult:
    """Load BasicMotions, encode UP/DOWN events, train in-crossbar, test, compare."""
    t0 = time.perf_counter()
    device = resolve_device(data.get("device", "ideal"), device_overrides, file=path)
    dset = build(MotionData, data.get("data", {}), file=path, section="data")
    feat = build(MotionFeatures, data.get("features", {}), file=path, section="features")
    net_s = build(KWSNetwork, data.get("network", {}), file=path, section="network")
    neuron = build(LIFParams, data.get("neuron", {}), file=path, section="neuron")
    delta = build(DeltaRuleParams, data.get("delta", {}), file=path, section="delta")
    energy_s = build(EnergySection, data.get("energy", {}), file=path, section="energy")
    if data.get("learning", "delta") != "delta":
        raise ConfigError("only learning = 'delta' is implemented", file=path, key="learning")
    rates, _counts, raw, labels, names = motion_features(feat)
    n_classes = len(names)
    n_rows = rates["train"].shape[1]
    k = net_s.neurons_per_class
    neuron_class = np.repeat(np.arange(n_classes), k)
    n_out = n_classes * k
    build_seq, run_seq, order_seq, mac_seq = np.random.SeedSequence(seed).spawn(4)
    layer = CrossbarLayer(n_rows, n_out, device.params, np.random.default_rng(build_seq),
                          mapping=net_s.mapping, w_max=net_s.w_max,
                          init=(-net_s.init_scale if net_s.mapping == "differential" else 0.0,
                                net_s.init_scale))
    net = Network(layer, Population(n_out, neuron), STDPParams(rule="none"),
                  dt_s=feat.dt_s, t_present_s=feat.t_present_s, t_rest_s=0.0, seed=run_seq)
    train_events = train_delta(net, rates["train"], labels["train"], delta,
                               input_scale=feat.max_rate_Hz * feat.t_present_s,
                               order_rng=np.random.default_rng(order_seq),
                               progress="training" if progress else False,
                               neuron_class=neuron_class)
    test = net.run(rates["test"], progress="testing" if progress else False)
    cc = class_counts(test.counts, k)
    pred = cc.argmax(axis=1)
    pred[cc.sum(axis=1) == 0] = -1
    y_te = labels["test"]
    acc = float(np.mean(pred == y_te))
    base = baseline_accuracy(raw, labels, seed)
    modes = compare_modes(layer, rates["test"] / feat.max_rate_Hz, y_te,
                          read_mac=lambda y: class_counts(y, k).argmax(axis=1), accuracy=acc,
                          test_events=test.events, dt_s=feat.dt_s, section=energy_s,
                          device=device, rng=np.random.default_rng(mac_seq))
    raster = net.run(rates["test"][:raster_samples], raster=True).raster \
        if raster_samples else None
    wall = time.perf_counter() - t0
    metrics = {"accuracy": acc, "baseline_accuracy": base, "mac_accuracy": modes.mac_accuracy,
               "n_train": int(len(labels["train"])), "n_test": int(len(y_te)),
               "n_classes": n_classes, "n_rows": n_rows, "wall_s": wall, "seed": seed,
               "device": device.name, "dataset": dset.dataset, **modes.energy_metrics(),
               "input_spikes_per_sample": float(test.events["input_spikes"] / len(y_te)),
               "silent_test_fraction": float(np.mean(pred < 0))}
    table = [("task", f"motion ({dset.dataset}, {n_classes} classes)"),
             ("device", device.name),
             ("crossbar", f"{n_rows} rows x {n_out} columns ({net_s.mapping})"),
             ("SNN accuracy", f"{100 * acc:.2f} %"),
             ("baseline (logistic regression, summary features)", f"{100 * base:.2f} %"),
             ("MAC mode", f"{100 * modes.mac_accuracy:.2f} %"),
             modes.table_row(),
             ("wall time", f"{wall:.1f} s")]
    state = conductance_state(layer, confusion=confusion(y_te, pred, n_classes),
                              test_predictions=pred, test_labels=y_te, test_counts=test.counts,
                              neuron_labels=neuron_class, neuron_labels_grouped=True)
    cards = result_cards(data, device, {"data": dset, "features": feat, "network": net_s,
                                        "neuron": neuron, "delta": delta, "energy": energy_s})
    extra = {"label_names": [str(s) for s in names], **modes.extra()}
    return TaskResult("motion", metrics, cards, {"train": train_events, "test": test.events},
                      state, table, raster, extra)
