"""A trained network loaded from its result file: predict, evaluate, stream.

Inference is stateless: every call runs its samples with the sample ids
``sample_offset, sample_offset + 1, ...`` (default: the run's final sample counter), so the
same input gives the same answer in any call, any process and any order. Replaying the run's
own test split with ``sample_offset = test_sample_offset`` reproduces the stored test
predictions bit for bit (:meth:`Model.evaluate` does that by itself when asked for the
model's own test split).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from neuromem.exceptions import ConfigError, StoreError
from neuromem.model.state import restore_network
from neuromem.model.tree import check_model_tree

__all__ = ["Model", "Predictions", "NONE_LABEL"]

#: The answer of a clip the model rejects (silent output, or too little confidence).
NONE_LABEL = "none"


@dataclasses.dataclass
class Predictions:
    """The model's answers for n samples.

    Attributes
    ----------
    labels : tuple of str
        The model's labels (class index -> name).
    index : ndarray (n,) int64
        Forced choice: the class with the most output spikes, -1 when the output is silent
        (what the training run scored).
    decision : ndarray (n,) int64
        ``index``, or -1 where the top probability is below the model's ``min_confidence``.
    counts : ndarray (n, n_out) int64
        Spikes per output neuron.
    scores : ndarray (n, n_classes) float64
        Per class: summed spikes of its neurons (kws) or their mean (digits).
    probabilities : ndarray (n, n_classes) float64
        The readout's probabilities: softmax of ``scores / temperature`` (kws, the quantity
        the delta rule trains), ``scores / sum`` (digits).
    events : dict
        Engine event counts summed over the samples.
    """

    labels: tuple
    index: np.ndarray
    decision: np.ndarray
    counts: np.ndarray
    scores: np.ndarray
    probabilities: np.ndarray
    events: dict

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def label(self, i: int) -> str:
        """The decision for sample ``i`` as a name (``"none"`` when rejected)."""
        k = int(self.decision[i])
        return self.labels[k] if k >= 0 else NONE_LABEL

    def record(self, i: int) -> dict:
        """Sample ``i`` as plain data (the JSON of ``neuromem predict``)."""
        top = int(np.argmax(self.probabilities[i]))
        return {"label": self.label(i),
                "forced_label": self.labels[self.index[i]] if self.index[i] >= 0
                else NONE_LABEL,
                "confidence": float(self.probabilities[i, top]),
                "spike_counts": {n: float(v) for n, v in zip(self.labels, self.scores[i])},
                "probabilities": {n: float(v) for n, v in
                                  zip(self.labels, self.probabilities[i])},
                "output_spikes": int(self.counts[i].sum())}


class Model:
    """A trained network and everything needed to feed it (see :func:`load_model`).

    Attributes
    ----------
    path : Path
    task : str
        ``"kws"`` or ``"digits_stdp"``.
    labels : tuple of str
    network : neuromem.network.Network
        The engine network (learning is off unless you call ``network.run(..., learn=True)``).
    device : neuromem.cards.DeviceCard
        The device card the cells are made of.
    cards : dict
        The run's resolved cards.
    transfer : dict or None
        Set when the weights were programmed into another device card (:meth:`with_device`).
    """

    def __init__(self, path, tree: dict, cards: dict, device, network, metrics: dict,
                 transfer: dict | None = None):
        self.path = Path(path)
        self.tree = tree
        self.cards = cards
        self.device = device
        self.network = network
        self.metrics = metrics
        self.transfer = transfer
        self.task = str(tree["task"])
        self.labels = tuple(str(n) for n in tree["label_names"])
        self.readout = tree["readout"]
        self.inputs = tree["inputs"]
        self.neuron_class = np.asarray(self.readout["neuron_class"], dtype=np.int64)
        eng = tree["engine"]
        self.sample_offset = int(eng["samples_seen"])
        self.test_sample_offset = int(eng["test_sample_offset"])
        self.age_s = 0.0   # seconds since the cells were programmed (see aged)
        self._kws = None

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, path) -> "Model":
        """Read a result file's ``/model`` (StoreError naming the file when unusable)."""
        from neuromem.store import read_result

        path = Path(path)
        result = read_result(path)
        tree = check_model_tree(result.model, path)
        device, neuron, stdp = _cards_of(result.cards, path)
        network = restore_network(tree, device.params, neuron, stdp, where=f"{path}: /model")
        return cls(path, tree, result.cards, device, network, result.metrics)

    def with_device(self, device, overrides: dict | None = None, *, seed: int = 0) -> "Model":
        """The trained weights programmed into a fresh array of another device card.

        Ex-situ transfer: the normalised weights G+ - G- (in units of the device window) are
        programmed into new cells of ``device`` (their own D2D draws and faults from
        ``seed``), with the per-column gain rescaled so that a spike delivers the same input
        as before. A card with discrete levels is programmed open loop by pulses
        (:meth:`neuromem.devices.pulse.PulseArray.program_by_pulses`: levels, nonlinearity,
        cycle-to-cycle noise); a continuous card is set directly. Returns a new Model; this
        one is unchanged.
        """
        from neuromem.cards import resolve_device
        from neuromem.layers import CrossbarLayer
        from neuromem.model.state import program_weights
        from neuromem.network import Network

        card = resolve_device(device, overrides)
        old = self.network.layer
        layer = CrossbarLayer(old.n_in, old.n_out, card.params, np.random.default_rng(seed),
                              mapping=old.mapping, w_max=old.w_max, init=(0.0, 0.0))
        pulses = program_weights(layer, old.weights(),
                                 np.random.default_rng(np.random.SeedSequence([seed, 1])))
        layer.gain = old.gain / old.base_gain * layer.base_gain
        net = self.network
        new = Network(layer, _copy_population(net.population), net.stdp, dt_s=net.dt_s,
                      t_present_s=net.n_present * net.dt_s,
                      t_rest_s=(net.n_steps - net.n_present) * net.dt_s, seed=0,
                      regular_inputs=net.regular_inputs)
        new.n_present, new.n_steps = net.n_present, net.n_steps
        new.key, new.samples_seen = net.key, net.samples_seen
        transfer = {"kind": "ex-situ", "trained_on": self.device.name, "programmed_into":
                    card.name, "overrides": dict(overrides or {}), "seed": int(seed),
                    "programming": "direct (continuous card)" if card.params.continuous
                    else "open loop: RESET, then the nearest whole number of SET pulses on "
                    "each cell's own curve, through the device model (C2C noise per pulse)",
                    "programming_pulses": int(pulses)}
        return Model(self.path, self.tree, self.cards, card, new, self.metrics, transfer)

    def aged(self, t_s: float) -> "Model":
        """The model ``t_s`` seconds after its cells were programmed (end of training):
        every cell drifts as its device card says (``drift_nu``, ``drift_t0_s``). A new
        Model; this one is unchanged. Ages add up (``aged(a).aged(b)`` is not
        ``aged(a + b)``: drift is a power law of the time since programming, so pass the
        total)."""
        from neuromem.model.state import network_tree

        if not (t_s >= 0 and np.isfinite(t_s)):
            raise ConfigError(f"expected an age >= 0 s, got {t_s!r}", key="--age-s")
        net = self.network
        new = restore_network(network_tree(net), self.device.params, net.population.params,
                              net.stdp, where=str(self.path))
        for array in (new.layer.pos, new.layer.neg):
            if array is not None:
                array.drift_to(t_s)
        model = Model(self.path, self.tree, self.cards, self.device, new, self.metrics,
                      self.transfer)
        model.age_s = float(t_s)
        return model

    # ------------------------------------------------------------------ inputs

    @property
    def kws(self):
        """The kws input pipeline (front end, normaliser, rates)."""
        if self.task != "kws":
            raise ConfigError(f"{self.path}: a {self.task} model takes images, not audio",
                              key="model")
        if self._kws is None:
            from neuromem.model.kws import KWSInputs
            self._kws = KWSInputs(self)
        return self._kws

    def encode(self, x, sample_rate_Hz: int | None = None) -> np.ndarray:
        """Row rates (Hz) for inputs as the run encoded them.

        kws: a WAV path, a list of paths, one waveform (needs ``sample_rate_Hz``) or a list
        of waveforms. digits: images (n, 64) or (n, 8, 8) with intensities in [0, 1].
        """
        if self.task == "kws":
            return self.kws.rates(x, sample_rate_Hz)
        from neuromem.data.digits import intensity_rates
        x = np.asarray(x, dtype=np.float64)
        x = x.reshape(len(x), -1) if x.ndim == 3 else np.atleast_2d(x)
        if not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 1:
            raise ConfigError("expected image intensities in [0, 1]", key="x")
        return intensity_rates(x, float(self.inputs["max_rate_Hz"]),
                               str(self.inputs["encoding"]))

    # ------------------------------------------------------------------ inference

    def predict_rates(self, rates, *, sample_offset: int | None = None) -> Predictions:
        """Run row rates (n, n_in) through the network (frozen weights) and read out."""
        net = self.network
        offset = self.sample_offset if sample_offset is None else int(sample_offset)
        saved = net.samples_seen
        net.samples_seen = offset
        try:
            t_present = self.readout.get("t_present_s")
            res = net.run(np.atleast_2d(rates),
                          t_present_s=float(t_present) if t_present is not None else None)
        finally:
            net.samples_seen = saved
        return self._read_out(res.counts, res.events)

    def _read_out(self, counts: np.ndarray, events: dict) -> Predictions:
        n_classes = len(self.labels)
        cls = self.neuron_class
        if self.readout["kind"] == "class_groups":
            scores = np.zeros((len(counts), n_classes))
            np.add.at(scores.T, cls, counts.T.astype(np.float64))
            index = scores.argmax(axis=1)
            index[scores.sum(axis=1) == 0] = -1
            z = scores / float(self.readout["temperature"])
            p = np.exp(z - z.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
        else:
            from neuromem.tasks.digits import classify
            scores = np.zeros((len(counts), n_classes))
            for c in range(n_classes):
                sel = cls == c
                if np.any(sel):
                    scores[:, c] = counts[:, sel].mean(axis=1)
            index = classify(counts, cls, n_classes)
            total = scores.sum(axis=1, keepdims=True)
            p = np.divide(scores, total, out=np.full_like(scores, 1.0 / n_classes),
                          where=total > 0)
        decision = index.copy()
        decision[p.max(axis=1) < float(self.readout.get("min_confidence", 0.0))] = -1
        return Predictions(self.labels, index.astype(np.int64), decision.astype(np.int64),
                           counts, scores, p, events)

    def predict(self, x, sample_rate_Hz: int | None = None, *,
                sample_offset: int | None = None) -> Predictions:
        """Encode ``x`` as the run did (:meth:`encode`) and answer per sample."""
        return self.predict_rates(self.encode(x, sample_rate_Hz), sample_offset=sample_offset)

    def predict_files(self, paths, *, skip_bad: bool = False) -> dict:
        """``neuromem predict``: every file read first, then answered word by word where a
        clip holds several words (see :meth:`neuromem.model.kws.KWSInputs.clip_words`)."""
        return self.kws.predict_files(paths, skip_bad=skip_bad)

    def stream(self, x, sample_rate_Hz: int | None = None, *, scores: bool = False) -> dict:
        """Keyword detections with their times in a long recording (a path or a waveform)."""
        return self.kws.stream(x, sample_rate_Hz, scores=scores)

    def evaluate(self, dataset: str | None = None, *, data_dir=None, split: str = "test",
                 data_overrides: dict | None = None, tech: str | None = None,
                 skip_bad: bool = False, progress: bool = False, seed: int = 0) -> dict:
        """Accuracy, confusion, per-label accuracy and energy of both modes on a dataset.

        ``dataset`` None (or the model's own dataset without ``data_dir`` and overrides)
        replays the model's own ``split``; labels of another dataset are matched by name.
        See :func:`neuromem.model.evaluate.evaluate`.
        """
        from neuromem.model.evaluate import evaluate
        return evaluate(self, dataset, data_dir=data_dir, split=split,
                        data_overrides=data_overrides or {}, tech=tech, skip_bad=skip_bad,
                        progress=progress, seed=seed)

    def to_nir(self, *, spike_convention: str = "dirac"):
        """The network as a NIR graph (:func:`neuromem.nir.to_nir`) with the model's labels,
        the class of each output neuron (metadata ``neuron_labels``), its input encoding and
        its inference presentation time; :func:`neuromem.nir.from_nir` restores every cell.
        """
        from neuromem.nir import to_nir

        features = (self.cards.get("resolved") or {}).get("features", {})
        encoding = {"kind": str(self.inputs.get("encoding", "poisson")),
                    "max_rate_Hz": self.inputs.get("max_rate_Hz",
                                                   features.get("max_rate_Hz")),
                    "task": self.task}
        return to_nir(self.network, label_names=self.labels, input_encoding=encoding,
                      neuron_labels=self.neuron_class, spike_convention=spike_convention,
                      t_present_s=self.readout.get("t_present_s"))

    def __repr__(self) -> str:
        layer = self.network.layer
        via = f", programmed into {self.transfer['programmed_into']}" if self.transfer else ""
        return (f"<Model {self.task} from {self.path.name}: {layer.n_in} rows x {layer.n_out} "
                f"columns on {self.device.name}{via}, labels {', '.join(self.labels)}>")


def _copy_population(pop):
    from neuromem.layers import Population
    new = Population(pop.n, pop.params)
    new.state.theta[:] = pop.state.theta
    return new


def _cards_of(cards: dict, path):
    """Device card, neuron and STDP parameters from a result file's resolved cards."""
    from neuromem.cards import device_from_mapping
    from neuromem.neurons import LIFParams
    from neuromem.plasticity import STDPParams
    from neuromem.schema import build

    try:
        resolved = cards["resolved"]
        device = device_from_mapping(cards["device"], file=path)
        neuron = build(LIFParams, resolved["neuron"], file=path, section="cards.neuron")
        stdp = build(STDPParams, resolved.get("stdp", {"rule": "none"}), file=path,
                     section="cards.stdp")
    except KeyError as err:
        raise StoreError(f"{path}: damaged model (no {err.args[0]!r} in /cards)") from None
    return device, neuron, stdp
