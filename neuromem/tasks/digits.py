"""``digits_stdp``: unsupervised STDP with winner-take-all on real handwritten digits.

Poisson pixels -> crossbar (device card) -> adaptive LIF neurons with lateral inhibition.
After learning, each neuron is labelled with the class it answers most on the training set;
a test image is classified by the class whose neurons fire most on average (Diehl & Cook
2015).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from neuromem.cards import resolve_device
from neuromem.data.digits import intensity_rates, load_digits_split
from neuromem.exceptions import ConfigError
from neuromem.layers import MAPPINGS, CrossbarLayer, Population
from neuromem.network import Network
from neuromem.neurons import LIFParams
from neuromem.plasticity import STDPParams
from neuromem.model.tree import model_tree
from neuromem.schema import at_least, build, fraction, nonnegative, param, positive
from neuromem.tasks import TaskResult, register_task
from neuromem.tasks._common import compare_modes, conductance_state, result_cards
from neuromem.tasks.compare import EnergySection

__all__ = ["NetworkSection", "DigitsData", "label_neurons", "classify", "run_digits"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class NetworkSection:
    """Shape and timing of an inputs -> crossbar -> population network."""

    kind = "network"
    n_exc: int = param(100, kind=int, doc="neurons in the learning population",
                       check=at_least(1))
    mapping: str = param("single", kind=str, doc="weights per synapse", choices=MAPPINGS)
    w_max: float = param(3.0, doc="input added by one spike through a full-conductance synapse",
                         check=positive)
    init_low: float = param(0.0, doc="initial normalised weights: lower bound")
    init_high: float = param(0.3, doc="initial normalised weights: upper bound")
    normalize_target: float = param(0.1, doc="mean effective weight per column kept by the "
                                    "per-column gain (0 = off)", check=nonnegative)
    dt_s: float = param(0.0005, unit="s", doc="time step", check=positive)
    t_present_s: float = param(0.35, unit="s", doc="input presentation per sample",
                               check=positive)
    t_rest_s: float = param(0.15, unit="s", doc="rest (no input) after each sample",
                            check=nonnegative)
    t_present_test_s: float = param(0.0, unit="s", doc="presentation when labelling and "
                                    "testing (0 = t_present_s); longer gives more spikes to "
                                    "vote with", check=nonnegative)

    def check(self):
        if self.init_low > self.init_high:
            raise ConfigError("init_low must not exceed init_high", key="init_low")


@dataclasses.dataclass(frozen=True, kw_only=True)
class DigitsData:
    """The digits dataset, its split and its encoding."""

    kind = "data"
    dataset: str = param("sklearn_digits", kind=str, doc="dataset", choices=("sklearn_digits",))
    test_fraction: float = param(0.3, doc="held-out test fraction (stratified)", check=fraction)
    split_seed: int = param(0, kind=int, doc="seed of the train/test split (fixed across runs)")
    max_rate_Hz: float = param(63.75, unit="Hz", doc="rate of a full-intensity pixel",
                               check=positive)
    encoding: str = param("poisson", kind=str, doc="pixel encoding",
                          choices=("poisson", "on_off"))
    epochs: int = param(3, kind=int, doc="passes over the training set", check=at_least(1))
    n_train: int = param(0, kind=int, doc="use only this many training images (0 = all)",
                         check=at_least(0))


def label_neurons(counts: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Each neuron's class: the one whose training samples make it fire most on average."""
    resp = np.zeros((n_classes, counts.shape[1]))
    for c in range(n_classes):
        sel = labels == c
        if np.any(sel):
            resp[c] = counts[sel].mean(axis=0)
    assign = resp.argmax(axis=0)
    assign[resp.max(axis=0) == 0] = -1  # never fired: no label
    return assign


def classify(counts: np.ndarray, assign: np.ndarray, n_classes: int) -> np.ndarray:
    """Predicted class per sample: the class whose labelled neurons fire most on average."""
    score = np.full((counts.shape[0], n_classes), -1.0)
    for c in range(n_classes):
        sel = assign == c
        if np.any(sel):
            score[:, c] = counts[:, sel].mean(axis=1)
    pred = score.argmax(axis=1)
    pred[counts.sum(axis=1) == 0] = -1  # a silent network answers nothing
    return pred


def confusion(y_true, y_pred, n_classes):
    m = np.zeros((n_classes, n_classes + 1), dtype=np.int64)  # last column: no answer
    for t, p in zip(y_true, y_pred):
        m[t, p if p >= 0 else n_classes] += 1
    return m


def build_sections(data: dict, file=None):
    net = build(NetworkSection, data.get("network", {}), file=file, section="network")
    neuron = build(LIFParams, data.get("neuron", {}), file=file, section="neuron")
    stdp = build(STDPParams, data.get("stdp", {}), file=file, section="stdp")
    dset = build(DigitsData, data.get("data", {}), file=file, section="data")
    return net, neuron, stdp, dset


def build_energy(data: dict, file=None) -> EnergySection:
    return build(EnergySection, data.get("energy", {}), file=file, section="energy")


@register_task("digits_stdp")
def run_digits(data: dict, *, path=None, device_overrides=None, seed: int = 0,
               progress: bool = False, raster_samples: int = 0) -> TaskResult:
    """Train on the training split, label neurons, test on the held-out split."""
    t0 = time.perf_counter()
    device = resolve_device(data.get("device", "ideal"), device_overrides, file=path)
    net_s, neuron, stdp, dset = build_sections(data, file=path)
    x_tr, y_tr, x_te, y_te = load_digits_split(dset.test_fraction, dset.split_seed)
    if dset.n_train:
        x_tr, y_tr = x_tr[:dset.n_train], y_tr[:dset.n_train]
    r_tr = intensity_rates(x_tr, dset.max_rate_Hz, dset.encoding)
    r_te = intensity_rates(x_te, dset.max_rate_Hz, dset.encoding)
    energy_s = build_energy(data, file=path)
    ss = np.random.SeedSequence(seed)
    build_seq, run_seq, order_seq, mac_seq = ss.spawn(4)
    layer = CrossbarLayer(r_tr.shape[1], net_s.n_exc, device.params,
                          np.random.default_rng(build_seq), mapping=net_s.mapping,
                          w_max=net_s.w_max, init=(net_s.init_low, net_s.init_high))
    g_initial = layer.pos.conductance_S.copy()
    net = Network(layer, Population(net_s.n_exc, neuron), stdp, dt_s=net_s.dt_s,
                  t_present_s=net_s.t_present_s, t_rest_s=net_s.t_rest_s, seed=run_seq,
                  normalize_target=net_s.normalize_target or None)
    order_rng = np.random.default_rng(order_seq)
    train_events = {}
    t_learn = time.perf_counter()
    for epoch in range(dset.epochs):
        perm = order_rng.permutation(len(r_tr))
        res = net.run(r_tr[perm], learn=True,
                      progress=f"epoch {epoch + 1}/{dset.epochs}" if progress else False)
        for k, v in res.events.items():
            train_events[k] = train_events.get(k, 0) + v
    t_learn = time.perf_counter() - t_learn
    t_inf = time.perf_counter()
    t_test = net_s.t_present_test_s or None
    label_run = net.run(r_tr, progress="labelling" if progress else False, t_present_s=t_test)
    test_offset = net.samples_seen
    test_run = net.run(r_te, progress="testing" if progress else False, t_present_s=t_test)
    t_inf = time.perf_counter() - t_inf
    n_classes = 10
    assign = label_neurons(label_run.counts, y_tr, n_classes)
    pred = classify(test_run.counts, assign, n_classes)
    acc = float(np.mean(pred == y_te))
    conf = confusion(y_te, pred, n_classes)
    # MAC mode: the learned conductances as a DAC -> crossbar -> ADC accelerator; the most
    # driven neuron (largest column sum: the winner-take-all of the spiking network, without
    # its adaptive thresholds) answers with its label
    modes = compare_modes(layer, r_te / dset.max_rate_Hz, y_te,
                          read_mac=lambda y: assign[np.argmax(y, axis=1)], accuracy=acc,
                          test_events=test_run.events, dt_s=net_s.dt_s, section=energy_s,
                          device=device, rng=np.random.default_rng(mac_seq))
    raster = None
    if raster_samples:
        raster = net.run(r_te[:raster_samples], raster=True, t_present_s=t_test).raster
    wall = time.perf_counter() - t0
    n_test = len(y_te)
    metrics = {
        "accuracy": acc, "n_train": int(len(y_tr)), "n_test": int(n_test), "wall_s": wall,
        "learn_s": t_learn, "inference_s": t_inf, "epochs": dset.epochs,
        "n_exc": net_s.n_exc, "seed": seed, "device": device.name,
        "labelled_neurons": int(np.sum(assign >= 0)),
        "test_spikes_per_sample": float(test_run.counts.sum(axis=1).mean()),
        "silent_test_fraction": float(np.mean(test_run.counts.sum(axis=1) == 0)),
        "synaptic_memory_bytes_per_synapse": layer.memory_bytes() / (layer.n_in * layer.n_out),
        "mac_accuracy": modes.mac_accuracy, **modes.energy_metrics(),
    }
    table = [("task", "digits_stdp (sklearn 8x8 digits)"), ("device", device.name),
             ("neurons", net_s.n_exc), ("train / test images", f"{len(y_tr)} / {n_test}"),
             ("epochs", dset.epochs), ("accuracy", f"{100 * acc:.2f} %"),
             (f"MAC mode ({energy_s.dac_bits}b DAC, {energy_s.adc_bits}b ADC)",
              f"{100 * modes.mac_accuracy:.2f} %"),
             modes.table_row(),
             ("test spikes per image", f"{metrics['test_spikes_per_sample']:.1f}"),
             ("LTP / LTD pulses (training)",
              f"{train_events['ltp_pulses']:,} / {train_events['ltd_pulses']:,}"),
             ("wall time", f"{wall:.1f} s (learning {t_learn:.1f} s, inference {t_inf:.1f} s)")]
    state = conductance_state(layer, g_initial_S=g_initial, gain_per_column=layer.gain.copy(),
                              theta_V=net.population.state.theta.copy(), neuron_labels=assign,
                              test_predictions=pred, test_labels=y_te, confusion=conf)
    cards = result_cards(data, device, {"network": net_s, "neuron": neuron, "stdp": stdp,
                                        "data": dset, "energy": energy_s})
    model = model_tree(net, task="digits_stdp", label_names=[str(c) for c in range(n_classes)],
                       test_sample_offset=test_offset,
                       readout={"kind": "neuron_labels", "neuron_class": assign,
                                "t_present_s": float(t_test or net_s.t_present_s)},
                       inputs={"kind": "digits_images", "max_rate_Hz": dset.max_rate_Hz,
                               "encoding": dset.encoding})
    return TaskResult("digits_stdp", metrics, cards,
                      {"train": train_events, "label": label_run.events,
                       "test": test_run.events}, state, table, raster, modes.extra(),
                      model=model)
