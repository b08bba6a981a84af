"""``kws``: keyword spotting with a spiking crossbar layer trained in-crossbar.

Pipeline: 1 s clips -> front end (resample, trim, 1 s window, log-mel) -> per-channel
standardisation fitted on the training split -> time bins (mean over frames) -> spikes: each
(time bin, mel channel) is one crossbar row firing Poisson at a rate set by its feature, plus a
bias row -> a differential crossbar -> one LIF neuron per class. The crossbar learns by the
supervised delta rule on spike counts, accumulated over a batch and written as device pulses
(:func:`neuromem.network.train_delta`). The predicted class is the output neuron that fires
most. A logistic regression on exactly the same features and split is the non-spiking
baseline.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from neuromem.cards import find_card, load_toml, resolve_device
from neuromem.exceptions import ConfigError, DataError
from neuromem.layers import MAPPINGS, CrossbarLayer, Population
from neuromem.network import Network, train_delta
from neuromem.neurons import LIFParams
from neuromem.plasticity import DeltaRuleParams, STDPParams
from neuromem.model.tree import model_tree
from neuromem.schema import at_least, build, fraction, nonnegative, param, positive, to_plain
from neuromem.tasks import TaskResult, register_task
from neuromem.tasks._common import class_counts, compare_modes, conductance_state, result_cards
from neuromem.tasks.compare import EnergySection
from neuromem.tasks.digits import confusion

__all__ = ["KWSData", "KWSFeatures", "KWSNetwork", "load_kws_features", "run_kws"]

DATASETS = ("synth_kws", "speech_commands", "folder")


@dataclasses.dataclass(frozen=True, kw_only=True)
class KWSData:
    """Which data: a dataset card and overrides of its parameters."""

    kind = "data"
    dataset: str = param("synth_kws", kind=str, doc="dataset card (synth_kws, "
                         "speech_commands, folder, or a path)")
    data_dir: str = param("", kind=str, doc="folder of a real dataset (speech_commands, "
                          "folder)")
    n_clips: int = param(0, kind=int, doc="synth_kws: clips to synthesize (0 = the card's)",
                         check=at_least(0))
    snr_db: float = param(optional=True, unit="dB", doc="synth_kws: background noise SNR "
                          "(absent = the card's: clean)")
    max_train: int = param(0, kind=int, doc="use at most this many training clips (0 = all)",
                           check=at_least(0))
    family: str = param("", kind=str, doc="synth_kws: voice family (all, klatt, formant; "
                        "empty = the card's)")
    augment: str = param("card", kind=str, doc="synth_kws: training augmentations, comma "
                         "separated (vtlp, channel, reverb), 'none', or 'card' = the card's")
    cache_dir: str = param("", kind=str, doc="corpus cache folder (default $NEUROMEM_CACHE or "
                           "~/.cache/neuromem)")


@dataclasses.dataclass(frozen=True, kw_only=True)
class KWSFeatures:
    """From log-mel frames to crossbar rows."""

    kind = "features"
    time_bins: int = param(8, kind=int, doc="time bins of the 1 s window (rows per mel "
                           "channel)", check=at_least(1))
    max_rate_Hz: float = param(200.0, unit="Hz", doc="rate of a row at the top of its "
                               "training range", check=positive)
    t_present_s: float = param(0.5, unit="s", doc="presentation of one clip", check=positive)
    dt_s: float = param(0.001, unit="s", doc="time step", check=positive)
    bias: bool = param(True, kind=bool, doc="add an always-on bias row at max_rate_Hz / 2")
    deltas: bool = param(False, kind=bool, doc="add rows for the change of each mel channel "
                         "from one time bin to the next")
    lower_pct: float = param(1.0, doc="percentile of a feature mapped to rate 0",
                             check=nonnegative)
    upper_pct: float = param(99.0, doc="percentile mapped to max_rate_Hz", check=positive)


@dataclasses.dataclass(frozen=True, kw_only=True)
class KWSNetwork:
    """The crossbar between the rows and the class neurons."""

    kind = "network"
    mapping: str = param("differential", kind=str, doc="weights per synapse", choices=MAPPINGS)
    w_max: float = param(0.02, unit="V", doc="input added by one spike through a full-scale "
                         "synapse", check=positive)
    init_scale: float = param(0.02, doc="initial normalised weights uniform in +-init_scale",
                              check=nonnegative)
    neurons_per_class: int = param(1, kind=int, doc="output neurons per keyword (their spike "
                                   "counts are summed: less readout noise)", check=at_least(1))


@dataclasses.dataclass(frozen=True, kw_only=True)
class KWSReadout:
    """How a trained model answers on new audio (``neuromem predict``, ``--stream``)."""

    kind = "readout"
    min_confidence: float = param(0.5, doc="a clip whose top keyword probability (softmax of "
                                  "the class spike counts / delta.temperature) is below this "
                                  "is answered 'none'", check=fraction)
    window_s: float = param(0.0, unit="s", doc="streaming: analysis window (0 = the front "
                            "end's window)", check=nonnegative)
    hop_s: float = param(0.25, unit="s", doc="streaming: step between windows",
                         check=positive)
    gate_db: float = param(12.0, unit="dB", doc="a frame is speech when its energy lies this "
                           "far above the recording's noise floor", check=positive)
    gap_s: float = param(0.15, unit="s", doc="pauses at least this long separate words",
                         check=positive)
    min_word_s: float = param(0.1, unit="s", doc="shorter speech bursts are not words",
                              check=nonnegative)
    agc: bool = param(True, kind=bool, doc="automatic gain: new audio (predict, stream, and "
                      "evaluate on other data) is brought to the training clips' median "
                      "speech level before the front end")


@dataclasses.dataclass
class KWSFeatureSet:
    """Rates (Hz) per row for each clip, labels and the features the baseline sees."""

    rates: dict          # split -> (n, n_rows)
    features: dict       # split -> (n, time_bins * n_mels), standardised
    labels: dict         # split -> (n,)
    label_names: tuple
    description: dict
    normalizer: dict     # mean, std (per mel channel), low, high (per row): fitted on train


def _load_audio(data: KWSData, card_path, params: dict, progress: bool, *, kind=None,
                splits=("train", "validation", "test")):
    """Per split: (waveforms, labels, rate, VTLP warp per clip) or an AudioDataset; the label names; what was
    loaded. ``kind`` is the dataset card's kind (default: read from ``card_path``)."""
    kind = kind or load_toml(card_path).get("kind", data.dataset)
    if kind == "synth_kws":
        if data.data_dir:
            raise ConfigError(f"the {kind} dataset is synthesized here and takes no --data-dir "
                              "(use --dataset folder or speech_commands for your own data)",
                              key="data.data_dir")
        from neuromem.data.corpus import CorpusConfig, load_corpus
        corpus_params = {k: v for k, v in params.items() if k not in ("front_end", "encoder")}
        if data.n_clips:
            corpus_params["n_clips"] = data.n_clips
        if data.snr_db is not None:
            corpus_params["snr_db"] = data.snr_db
        if data.family:
            corpus_params["family"] = data.family
        if data.augment != "card":
            corpus_params["augment"] = data.augment
        config = CorpusConfig.from_mapping(corpus_params, file=card_path)
        corpus = load_corpus(config, cache_dir=data.cache_dir or None, progress=progress)
        out = {}
        for split in splits:
            mask = corpus.mask(split)
            out[split] = (corpus.waveforms[mask], corpus.labels[mask], corpus.sample_rate_Hz,
                          corpus.warp[mask])
        return out, tuple(corpus.label_names), {"corpus": config.to_dict(),
                                                "cache": str(corpus.path)}
    if kind in ("speech_commands", "folder"):
        from neuromem.data.loaders import open_dataset
        if not data.data_dir:
            raise ConfigError(f"the {kind} dataset needs --data-dir (see datasets/README.md)",
                              key="data.data_dir")
        loader_params = {k: v for k, v in params.items() if k not in ("front_end", "encoder")}
        ds = open_dataset(kind, data.data_dir, loader_params)
        out = {split: ds.split(split) for split in splits}
        return out, tuple(ds.samples.label_names), {"data_dir": data.data_dir}
    raise ConfigError(f"the kws task takes audio datasets {DATASETS}, not {kind!r}",
                      key="data.dataset")


def _bin_frames(feats: np.ndarray, bins: int) -> np.ndarray:
    """(n, frames, mels) -> (n, bins, mels): mean over consecutive groups of frames."""
    groups = np.array_split(np.arange(feats.shape[1]), bins)
    return np.stack([feats[:, g].mean(axis=1) for g in groups], axis=1)


def load_kws_features(data: KWSData, feat: KWSFeatures, *, card_path, params: dict,
                      progress: bool = False) -> KWSFeatureSet:
    """Load the dataset, compute log-mel features, standardise, bin and map to rates."""
    from neuromem.data.audio import FrontEnd, extract, fit_normalizer
    from neuromem.data.encoders import fit_range

    frontend = build(FrontEnd, params.get("front_end", {}), file=card_path,
                     section="parameters.front_end")
    audio, names, described = _load_audio(data, card_path, params, progress)
    logmel = {}
    labels = {}
    for split, item in audio.items():
        if isinstance(item, tuple):
            x, y, sr, warp = item
            if split == "train" and data.max_train:
                x, y = x[:data.max_train], y[:data.max_train]
            logmel[split] = np.stack([extract(clip, sr, frontend, warp=w)
                                      for clip, w in zip(x, warp)]) if len(x) \
                else np.zeros((0, frontend.n_frames, frontend.n_mels), np.float32)
            labels[split] = np.asarray(y, dtype=np.int64)
        else:
            ds = item
            if split == "train" and data.max_train and len(ds) > data.max_train:
                ds = ds.take(np.arange(data.max_train))
            logmel[split] = ds.features(frontend, progress=progress)
            labels[split] = np.asarray(ds.labels, dtype=np.int64)
    if len(labels["train"]) == 0 or len(labels["test"]) == 0:
        raise DataError("the dataset has an empty train or test split")
    level = _training_level(audio["train"], frontend, data.max_train)
    mean, std = fit_normalizer(logmel["train"])
    flat = {s: flat_features(f, mean, std, feat) for s, f in logmel.items() if len(f)}
    low, high = fit_range(flat["train"], feat.lower_pct, feat.upper_pct)
    normalizer = {"mean": mean, "std": std, "low": low, "high": high,
                  "speech_level_dbfs": level}
    rates = {s: rates_from_features(f, normalizer, feat) for s, f in flat.items()}
    described.update({"front_end": to_plain(frontend), "n_frames": int(frontend.n_frames),
                      "n_rows": int(next(iter(rates.values())).shape[1])})
    return KWSFeatureSet(rates, flat, {s: labels[s] for s in flat}, names, described,
                         normalizer)


def _training_level(item, frontend, max_train: int, n: int = 300) -> float:
    """Median active speech level (dBFS) of the first ``n`` training clips: the level a
    model's automatic gain brings new audio to."""
    from neuromem.data.audio import speech_level_dbfs

    if isinstance(item, tuple):
        x, _, sr, _ = item
        levels = [speech_level_dbfs(c, sr, frontend) for c in x[:n]]
    else:
        levels = [speech_level_dbfs(*item.read(i), frontend)
                  for i in range(min(n, len(item), max_train or n))]
    levels = [v for v in levels if np.isfinite(v)]
    return float(np.median(levels)) if levels else -26.0


def flat_features(logmel: np.ndarray, mean, std, feat: KWSFeatures) -> np.ndarray:
    """(n, frames, mels) log-mel -> standardised, time-binned, flattened (n, bins * mels)."""
    from neuromem.data.audio import normalize_channels

    binned = _bin_frames(normalize_channels(logmel, mean, std), feat.time_bins)
    if feat.deltas:
        binned = np.concatenate([binned, np.diff(binned, axis=1)], axis=1)
    return binned.reshape(len(binned), -1)


def rates_from_features(flat: np.ndarray, normalizer: dict, feat: KWSFeatures) -> np.ndarray:
    """Flat features -> row rates (Hz): the training range mapped to [0, max_rate_Hz], plus
    the bias row."""
    from neuromem.data.encoders import unit_scale

    r = unit_scale(flat, normalizer["low"], normalizer["high"]) * feat.max_rate_Hz
    if feat.bias:
        r = np.concatenate([r, np.full((len(r), 1), 0.5 * feat.max_rate_Hz)], axis=1)
    return r


def baseline_accuracy(fs: KWSFeatureSet, seed: int = 0) -> float:
    """Logistic regression on the same (standardised, binned) features and split."""
    return baseline_predictions(fs, "logistic", seed)[1]


#: The non-spiking baselines on the same features and split.
BASELINES = ("logistic", "mlp")


def baseline_predictions(fs: KWSFeatureSet, kind: str, seed: int = 0):
    """(classifier, test accuracy) of a scikit-learn baseline on the same features and split:
    ``logistic`` (multinomial logistic regression, what the one-layer delta rule follows) or
    ``mlp`` (one hidden layer of 256 ReLU units, Adam, early stopping on 10 % of the training
    split: the gap of the one-layer SNN to a small ANN)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    if kind == "logistic":
        clf = LogisticRegression(max_iter=3000, C=1.0, random_state=seed)
    elif kind == "mlp":
        clf = MLPClassifier((256,), alpha=1e-3, early_stopping=True, max_iter=200,
                            random_state=seed)
    else:
        raise ConfigError(f"unknown baseline {kind!r}; known: {', '.join(BASELINES)}",
                          key="baseline")
    clf.fit(fs.features["train"], fs.labels["train"])
    return clf, float(clf.score(fs.features["test"], fs.labels["test"]))


def baseline_tree(logistic, mlp) -> dict:
    """The fitted baselines' parameters, kept in the model file so that ``neuromem evaluate``
    scores them on any data beside the SNN."""
    return {"logistic": {"coef": logistic.coef_, "intercept": logistic.intercept_,
                         "classes": logistic.classes_.astype(np.int64)},
            "mlp": {"W0": mlp.coefs_[0], "b0": mlp.intercepts_[0], "W1": mlp.coefs_[1],
                    "b1": mlp.intercepts_[1], "classes": mlp.classes_.astype(np.int64)}}


def baseline_predict(tree: dict, features: np.ndarray) -> dict:
    """Class indices the stored baselines give ``features`` (what scikit-learn's
    ``predict`` returns: the argmax of the decision function; ReLU hidden layer for the
    MLP)."""
    def decide(z, classes):                 # one output column: a two-class problem
        classes = np.asarray(classes)
        return classes[(z[:, 0] > 0).astype(np.int64)] if z.shape[1] == 1 \
            else classes[z.argmax(axis=1)]

    x = np.asarray(features, dtype=np.float64)
    out = {}
    if (lr := tree.get("logistic")) is not None:
        out["logistic"] = decide(x @ np.asarray(lr["coef"]).T + np.asarray(lr["intercept"]),
                                 lr["classes"])
    if (mlp := tree.get("mlp")) is not None:
        h = np.maximum(x @ np.asarray(mlp["W0"]) + np.asarray(mlp["b0"]), 0.0)
        out["mlp"] = decide(h @ np.asarray(mlp["W1"]) + np.asarray(mlp["b1"]), mlp["classes"])
    return out


def keyword_metrics(pred: np.ndarray, labels: np.ndarray, label_names, scores=None) -> dict:
    """Accuracy in the Speech Commands protocol terms.

    Classes whose name starts with ``_`` (``_unknown_``, ``_silence_``) are non-keywords.
    ``accuracy_10`` is the accuracy on keyword clips when the answer is restricted to the
    keywords (argmax of ``scores``, the class spike counts, over keyword classes; a clip
    without spikes is no answer; without scores, the prediction itself); ``false_accept`` the fraction of non-keyword clips answered with a keyword;
    ``false_reject`` the fraction of keyword clips answered with a non-keyword or not at all
    (``pred < 0``). Without non-keyword classes the three are the plain accuracy, None and
    the silent fraction.
    """
    names = list(label_names)
    is_kw = np.array([not n.startswith("_") for n in names])
    kw_clip = is_kw[labels]
    out = {"accuracy_10": None, "false_accept": None, "false_reject": None}
    if kw_clip.any():
        if scores is not None:
            restricted = np.where(is_kw[None, :], scores, -np.inf).argmax(axis=1)
            restricted[scores.sum(axis=1) == 0] = -1        # spike counts: none at all
        else:
            restricted = pred
        out["accuracy_10"] = float(np.mean(restricted[kw_clip] == labels[kw_clip]))
        answered_kw = (pred >= 0) & is_kw[np.maximum(pred, 0)]
        out["false_reject"] = float(np.mean(~answered_kw[kw_clip]))
        if (~kw_clip).any():
            out["false_accept"] = float(np.mean(answered_kw[~kw_clip]))
    return out


def build_sections(data: dict, file=None):
    dset = build(KWSData, data.get("data", {}), file=file, section="data")
    feat = build(KWSFeatures, data.get("features", {}), file=file, section="features")
    net = build(KWSNetwork, data.get("network", {}), file=file, section="network")
    neuron = build(LIFParams, data.get("neuron", {}), file=file, section="neuron")
    delta = build(DeltaRuleParams, data.get("delta", {}), file=file, section="delta")
    energy = build(EnergySection, data.get("energy", {}), file=file, section="energy")
    build(KWSReadout, data.get("readout", {}), file=file, section="readout")
    return dset, feat, net, neuron, delta, energy


@register_task("kws")
def run_kws(data: dict, *, path=None, device_overrides=None, seed: int = 0,
            progress: bool = False, raster_samples: int = 0) -> TaskResult:
    """Synthesize (cached) or load the data, train in-crossbar, test, compare with LR."""
    t0 = time.perf_counter()
    device = resolve_device(data.get("device", "ideal"), device_overrides, file=path)
    dset, feat, net_s, neuron, delta, energy_s = build_sections(data, file=path)
    card_path = find_card(dset.dataset, "datasets")
    card = load_toml(card_path)
    params = card.get("parameters", {})
    fs = load_kws_features(dset, feat, card_path=card_path, params=params, progress=progress)
    t_features = time.perf_counter() - t0
    n_classes = len(fs.label_names)
    n_rows = fs.rates["train"].shape[1]
    k = net_s.neurons_per_class
    neuron_class = np.repeat(np.arange(n_classes), k)
    n_out = n_classes * k
    ss = np.random.SeedSequence(seed)
    build_seq, run_seq, order_seq, mac_seq = ss.spawn(4)
    layer = CrossbarLayer(n_rows, n_out, device.params, np.random.default_rng(build_seq),
                          mapping=net_s.mapping, w_max=net_s.w_max,
                          init=(-net_s.init_scale if net_s.mapping == "differential" else 0.0,
                                net_s.init_scale))
    net = Network(layer, Population(n_out, neuron), STDPParams(rule="none"),
                  dt_s=feat.dt_s, t_present_s=feat.t_present_s, t_rest_s=0.0, seed=run_seq)
    t_learn = time.perf_counter()
    train_events = train_delta(net, fs.rates["train"], fs.labels["train"], delta,
                               input_scale=feat.max_rate_Hz * feat.t_present_s,
                               order_rng=np.random.default_rng(order_seq),
                               progress="training" if progress else False,
                               neuron_class=neuron_class)
    t_learn = time.perf_counter() - t_learn
    t_inf = time.perf_counter()
    test_offset = net.samples_seen
    test = net.run(fs.rates["test"], progress="testing" if progress else False)
    t_inf = time.perf_counter() - t_inf
    scores = class_counts(test.counts, k)
    pred = scores.argmax(axis=1)
    pred[scores.sum(axis=1) == 0] = -1
    y_te = fs.labels["test"]
    acc = float(np.mean(pred == y_te))
    val_acc = None
    if "validation" in fs.rates and len(fs.rates["validation"]):
        val = net.run(fs.rates["validation"])
        val_acc = float(np.mean(class_counts(val.counts, k).argmax(axis=1)
                                == fs.labels["validation"]))
    lr_clf, base = baseline_predictions(fs, "logistic", seed)
    t_mlp = time.perf_counter()
    mlp_clf, mlp = baseline_predictions(fs, "mlp", seed)
    t_mlp = time.perf_counter() - t_mlp
    protocol = keyword_metrics(pred, y_te, fs.label_names, scores)
    # the same weights as a DAC -> crossbar -> ADC accelerator on the same test inputs
    modes = compare_modes(layer, fs.rates["test"] / feat.max_rate_Hz, y_te,
                          read_mac=lambda y: class_counts(y, k).argmax(axis=1), accuracy=acc,
                          test_events=test.events, dt_s=feat.dt_s, section=energy_s,
                          device=device, rng=np.random.default_rng(mac_seq))
    raster = net.run(fs.rates["test"][:raster_samples], raster=True).raster \
        if raster_samples else None
    wall = time.perf_counter() - t0
    conf = confusion(y_te, pred, n_classes)  # last column: silent clips (no answer)
    metrics = {
        "accuracy": acc, "baseline_accuracy": base, "mlp_accuracy": mlp,
        "validation_accuracy": val_acc, **protocol,
        "n_train": int(len(fs.labels["train"])), "n_test": int(len(y_te)),
        "n_classes": n_classes, "n_rows": n_rows, "wall_s": wall, "features_s": t_features,
        "learn_s": t_learn, "inference_s": t_inf, "mlp_s": t_mlp, "seed": seed,
        "device": device.name,
        "dataset": dset.dataset, "snr_db": dset.snr_db, "mac_accuracy": modes.mac_accuracy,
        **modes.energy_metrics(),
        "test_spikes_per_sample": float(test.counts.sum(axis=1).mean()),
        "input_spikes_per_sample": float(test.events["input_spikes"] / len(y_te)),
        "silent_test_fraction": float(np.mean(pred < 0)),
    }
    table = [("task", f"kws ({dset.dataset}, {n_classes} classes)"), ("device", device.name),
             ("crossbar", f"{n_rows} rows x {n_out} columns ({net_s.mapping}, "
                          f"{k} neuron(s) per keyword)"),
             ("train / test clips", f"{metrics['n_train']} / {metrics['n_test']}"),
             (f"SNN accuracy ({n_classes}-way)", f"{100 * acc:.2f} %"),
             *_protocol_rows(protocol, n_classes),
             ("baseline: logistic regression", f"{100 * base:.2f} %"),
             ("baseline: MLP (256 hidden)", f"{100 * mlp:.2f} %"),
             (f"MAC mode ({energy_s.dac_bits}b DAC, {energy_s.adc_bits}b ADC)",
              f"{100 * modes.mac_accuracy:.2f} %"),
             modes.table_row(),
             ("input / output spikes per clip",
              f"{metrics['input_spikes_per_sample']:.0f} / "
              f"{metrics['test_spikes_per_sample']:.1f}"),
             ("LTP / LTD pulses (training)",
              f"{train_events.get('ltp_pulses', 0):,} / {train_events.get('ltd_pulses', 0):,}"),
             ("wall time", f"{wall:.1f} s (features {t_features:.1f} s, learning "
                           f"{t_learn:.1f} s, inference {t_inf:.1f} s)")]
    state = conductance_state(layer, confusion=conf, test_predictions=pred, test_labels=y_te,
                              test_counts=test.counts, neuron_labels=neuron_class,
                              neuron_labels_grouped=True)
    cards = result_cards(data, device, {"data": dset, "features": feat, "network": net_s,
                                        "neuron": neuron, "delta": delta, "energy": energy_s},
                         dataset=card)
    extra = {"label_names": list(fs.label_names), "features": fs.description,
             **modes.extra()}
    readout = build(KWSReadout, data.get("readout", {}), file=path, section="readout")
    model = model_tree(net, task="kws", label_names=fs.label_names,
                       test_sample_offset=test_offset,
                       readout={"kind": "class_groups", "neuron_class": neuron_class,
                                "temperature": delta.temperature, **to_plain(readout)},
                       inputs={"kind": "kws_audio", "dataset_kind": kind_of(card, dset),
                               **{k: (np.asarray(v) if np.ndim(v) else float(v))
                                  for k, v in fs.normalizer.items()},
                               "baselines": baseline_tree(lr_clf, mlp_clf)})
    return TaskResult("kws", metrics, cards, {"train": train_events, "test": test.events},
                      state, table, raster, extra, model=model)


def _protocol_rows(protocol: dict, n_classes: int) -> list:
    if protocol["false_accept"] is None:
        return []
    return [("SNN accuracy (keywords alone)", f"{100 * protocol['accuracy_10']:.2f} %"),
            ("false accept / false reject", f"{100 * protocol['false_accept']:.1f} % / "
                                            f"{100 * protocol['false_reject']:.1f} %")]


def kind_of(card: dict, dset: KWSData) -> str:
    """The dataset kind of a dataset card (its ``kind``, else its name)."""
    return str(card.get("kind", dset.dataset))
