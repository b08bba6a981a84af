"""``neuromem evaluate``: a loaded model on a dataset, labels matched by name.

Accuracy is the forced choice the training run scored (the class with the most output
spikes; a silent output is wrong and counted in the confusion's last column). The readout's
rejection (``min_confidence``) is reported beside it. Energy per inference of both modes is
computed from this evaluation's own event counts, as for a run
(:mod:`neuromem.tasks.compare`).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from neuromem.exceptions import ConfigError, DataError
from neuromem.schema import build

__all__ = ["evaluate", "write_evaluation", "UNKNOWN_LABEL"]

#: A model that has this class takes every label it does not know as it.
UNKNOWN_LABEL = "_unknown_"


def _kws_data(model, dataset, data_dir, split, overrides, skip_bad, progress):
    """(rates, label names per sample, skipped files, description, own test split?, top
    rate, the features the stored baselines see)."""
    from neuromem.cards import find_card, load_toml
    from neuromem.data.loaders import SILENCE
    from neuromem.tasks.kws import KWSData, _load_audio

    resolved = dict(model.cards["resolved"]["data"])
    own_name = resolved["dataset"]
    data_fields = {f.name for f in dataclasses.fields(KWSData)}
    data_over = {k: v for k, v in overrides.items() if k in data_fields}
    card_over = {k: v for k, v in overrides.items() if k not in data_fields}
    same_dir = data_dir is None or str(data_dir) == resolved.get("data_dir", "")
    if dataset in (None, own_name) and same_dir:
        card = model.cards["dataset"]
        card_path = model.path
        values = dict(resolved)
    else:
        if dataset is None:
            raise ConfigError("--data-dir needs --dataset (folder or speech_commands)",
                              key="--dataset")
        card_path = find_card(dataset, "datasets")
        card = load_toml(card_path)
        values = {"dataset": dataset, "cache_dir": resolved.get("cache_dir", "")}
    if data_dir is not None:
        values["data_dir"] = str(data_dir)
    values.update(data_over)
    own = dataset in (None, own_name) and same_dir and not overrides
    data = build(KWSData, values, file=card_path, section="data")
    kind = str(card.get("kind", data.dataset))
    params = dict(card.get("parameters", {}))
    if kind == "folder" and "split" not in card_over and not own:
        card_over["split"] = "test" if split == "test" else "auto"
    params.update(card_over)
    audio, names, described = _load_audio(data, card_path, params, progress, kind=kind,
                                          splits=(split,))
    item = audio[split]
    kws = model.kws
    bad = []
    gain = kws.readout.agc and not own     # new data: brought to the training speech level

    def level(w, sr):
        from neuromem.data.audio import match_level
        return match_level(w, sr, kws.frontend, kws.level_dbfs) if gain else w

    if isinstance(item, tuple):
        x, y, sr, _ = item
        logmel = kws.logmel([level(c, sr) for c in x], [sr] * len(x))
        labels = [names[i] for i in y]
    else:
        untrimmed = dataclasses.replace(kws.frontend, trim_db=math.inf)
        waves, kept = [], []
        for i in range(len(item)):          # read every file before any work
            try:
                waves.append(item.read(i))
                kept.append(i)
            except DataError as err:
                if not skip_bad:
                    raise DataError(f"{err} (--skip-bad skips unreadable files)") from None
                bad.append({"file": str(item.paths[i]), "error": str(err)})
        from neuromem.data.audio import extract
        logmel = np.stack([extract(level(w, sr), sr, untrimmed if item.words[i] == SILENCE
                                   else kws.frontend) for (w, sr), i in zip(waves, kept)]) \
            if waves else np.zeros((0, kws.frontend.n_frames, kws.frontend.n_mels))
        labels = [names[item.labels[i]] for i in kept]
    if not labels:
        raise DataError(f"the {data.dataset} dataset has no {split} samples to evaluate")
    described.update({"dataset": data.dataset, "kind": kind, "split": split,
                      "agc_dbfs": kws.level_dbfs if gain else None})
    return kws.rates_from_logmel(logmel), labels, bad, described, own, \
        float(kws.features.max_rate_Hz), kws.features_from_logmel(logmel)


def _digits_data(model, dataset, split, overrides):
    from neuromem.data.digits import load_digits_split

    if dataset not in (None, "sklearn_digits") or overrides:
        raise ConfigError(f"a digits model evaluates on sklearn_digits, not {dataset!r}"
                          if dataset not in (None, "sklearn_digits") else
                          "the digits dataset takes no --set data.* overrides",
                          key="--dataset")
    d = model.cards["resolved"]["data"]
    x_tr, y_tr, x_te, y_te = load_digits_split(d["test_fraction"], d["split_seed"])
    if split not in ("test", "train"):
        raise ConfigError(f"expected split test or train, got {split!r}", key="--split")
    x, y = (x_te, y_te) if split == "test" else (x_tr, y_tr)
    return (model.encode(x), [str(int(v)) for v in y], [],
            {"dataset": "sklearn_digits", "split": split}, True,
            float(model.inputs["max_rate_Hz"]), None)


def _match_labels(names, model_labels) -> np.ndarray:
    index = {n: i for i, n in enumerate(model_labels)}
    unknown = index.get(UNKNOWN_LABEL)
    out = np.empty(len(names), dtype=np.int64)
    missing = set()
    for i, n in enumerate(names):
        k = index.get(n, unknown)
        if k is None:
            missing.add(n)
        else:
            out[i] = k
    if missing:
        raise ConfigError(f"the data has labels the model does not know: "
                          f"{', '.join(sorted(missing))} (data: "
                          f"{', '.join(sorted(set(names)))}; model: {', '.join(model_labels)})",
                          key="--dataset")
    return out


def evaluate(model, dataset=None, *, data_dir=None, split="test", data_overrides=None,
             tech=None, skip_bad=False, progress=False, seed=0) -> dict:
    """See :meth:`neuromem.model.model.Model.evaluate`."""
    from neuromem.tasks.compare import EnergySection, energy_inputs, energy_summary, mac_mode

    overrides = dict(data_overrides or {})
    if model.task == "kws":
        rates, names, bad, described, own, max_rate, flat = _kws_data(
            model, dataset, data_dir, split, overrides, skip_bad, progress)
    else:
        rates, names, bad, described, own, max_rate, flat = _digits_data(model, dataset,
                                                                         split, overrides)
    y = _match_labels(names, model.labels)
    baselines = {}
    if flat is not None and isinstance(model.inputs.get("baselines"), dict):
        from neuromem.tasks.kws import baseline_predict
        baselines = {f"{name}_accuracy": float(np.mean(p == y)) for name, p in
                     baseline_predict(model.inputs["baselines"], flat).items()}
    replay = own and split == "test" and model.test_sample_offset >= 0
    pred = model.predict_rates(rates, sample_offset=model.test_sample_offset if replay
                               else None)
    n_classes = len(model.labels)
    acc = float(np.mean(pred.index == y))
    conf = np.zeros((n_classes, n_classes + 1), dtype=np.int64)
    np.add.at(conf, (y, np.where(pred.index >= 0, pred.index, n_classes)), 1)
    per_label = {}
    for k, name in enumerate(model.labels):
        sel = y == k
        if np.any(sel):
            per_label[name] = {"n": int(sel.sum()),
                               "accuracy": float(np.mean(pred.index[sel] == k))}
    accepted = pred.decision >= 0
    from neuromem.tasks.kws import keyword_metrics
    protocol = keyword_metrics(pred.decision, y, model.labels, pred.scores) \
        if model.task == "kws" else {}
    section = build(EnergySection, model.cards["resolved"]["energy"], file=model.path,
                    section="cards.energy")
    layer = model.network.layer
    y_mac, mac_counts, xbar = mac_mode(layer, rates / max_rate, section,
                                       np.random.default_rng(np.random.SeedSequence(seed)))
    if model.readout["kind"] == "class_groups":
        mac_scores = np.zeros((len(y_mac), n_classes))
        np.add.at(mac_scores.T, model.neuron_class, y_mac.T)
        pred_mac = mac_scores.argmax(axis=1)
    else:
        pred_mac = model.neuron_class[np.argmax(y_mac, axis=1)]
    acc_mac = float(np.mean(pred_mac == y))
    e_inputs = energy_inputs(layer=layer, xbar=xbar, test_events=pred.events,
                             mac_counts=mac_counts, n_test=len(y), dt_s=model.network.dt_s,
                             section=section, acc_spiking=acc, acc_mac=acc_mac)
    tech = tech or section.tech
    e_sum = energy_summary(e_inputs, model.device, tech)
    out = {
        "model": str(model.path), "task": model.task, **described,
        "device": model.device.name, "transfer": model.transfer, "age_s": model.age_s,
        "n_samples": int(len(y)), "n_clips": int(len(y)) if model.task == "kws" else None,
        "accuracy": acc, "mac_accuracy": acc_mac, **protocol, **baselines,
        "per_label": per_label,
        "labels": list(model.labels), "confusion_columns": [*model.labels, "none"],
        "confusion": conf.tolist(),
        "rejected_fraction": float(1.0 - accepted.mean()),
        "accuracy_accepted": float(np.mean(pred.index[accepted] == y[accepted]))
        if accepted.any() else None,
        "silent_fraction": float(np.mean(pred.index < 0)),
        "energy": {"tech": tech, "spiking_J_per_inference": e_sum["spiking_J"],
                   "mac_J_per_inference": e_sum["mac_J"], "spiking": e_sum["spiking"],
                   "mac": e_sum["mac"]},
        "skipped": bad, "n_skipped": len(bad),
        "replayed_test_split": bool(replay),
        "predictions": pred.index.tolist(), "true_labels": y.tolist(),
        "input_spikes_per_sample": pred.events.get("input_spikes", 0) / len(y),
        "output_spikes_per_sample": float(pred.counts.sum(axis=1).mean()),
    }
    out["_energy_inputs"] = e_inputs
    out["_events"] = dict(pred.events)
    return out


def write_evaluation(path, evaluation: dict, model, command=None):
    """An evaluation result file (crash-safe store; ``neuromem energy`` reads it)."""
    from neuromem.store import write_result

    metrics = {k: v for k, v in evaluation.items()
               if isinstance(v, (int, float, str, bool)) and v is not None}
    metrics["confusion"] = np.asarray(evaluation["confusion"], dtype=np.int64)
    metrics["spiking_energy_per_inference_J"] = evaluation["energy"]["spiking_J_per_inference"]
    metrics["mac_energy_per_inference_J"] = evaluation["energy"]["mac_J_per_inference"]
    state = {"predictions": np.asarray(evaluation["predictions"], dtype=np.int64),
             "true_labels": np.asarray(evaluation["true_labels"], dtype=np.int64)}
    extra = {"evaluation_of": str(model.path), "label_names": list(model.labels),
             "per_label": evaluation["per_label"], "transfer": evaluation["transfer"],
             "skipped": evaluation["skipped"], "energy_inputs": evaluation["_energy_inputs"],
             "energy_summary": {"tech": evaluation["energy"]["tech"],
                                "spiking": evaluation["energy"]["spiking"],
                                "mac": evaluation["energy"]["mac"]}}
    cards = {"device": model.device.to_dict(), "model_cards": model.cards}
    return write_result(path, metrics=metrics, cards=cards, state=state, extra=extra,
                        command=command, events={"evaluation": evaluation["_events"]}
                        if "_events" in evaluation else None)
