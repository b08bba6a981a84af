"""Keyword spotting in and out of its training domain, mean over seeds, beside its baselines.

    python benchmarks/kws_accuracy.py --seeds 0,1,2 --json benchmarks/results/kws_accuracy.json
    python benchmarks/kws_accuracy.py --seeds 0 --rows ablation --json ...ablation.json

Every run is what ``neuromem run kws --seed S --set ...`` runs (12 classes: ten keywords,
``_unknown_``, ``_silence_``); out-of-domain rows evaluate its model file as
``neuromem evaluate MODEL.h5 --dataset ...`` does. Per row: the SNN's 12-way accuracy, its
accuracy on the keyword clips with the answer restricted to the keywords (10-way), false
accepts (non-keywords answered with a keyword) and false rejects, MAC mode, and the logistic
regression and MLP on the same features and split (for evaluated rows: the baselines stored
in the model file, scored on the same clips).

Rows
    ``in_domain``: the card as shipped, voice-disjoint test split of the corpus;
    ``taox``: the same on the TaOx/HfOx card; ``snr20``: trained and tested at 20 dB SNR;
    ``heldout_klatt``: trained on the formant voices only (``data.family=formant``), tested
    on the 19 Klatt-synthesizer voices it never heard (``synth_kws_klatt``);
    ``<family>`` (``flite``, ``festival``: when the Debian package is installed): the
    ``in_domain`` model on keywords spoken by another synthesizer family
    (:mod:`neuromem.data.othersynth`), 10-way data, so its 12-way accuracy counts an
    ``_unknown_``/``_silence_`` answer as wrong;
    ``ablation``: trained on the formant voices with each augmentation alone / none, and
    the front end's earlier settings (fixed window, absolute levels); each model is tested
    on its in-domain split, on the Klatt voices and on the other synthesizers.

Results are written after every run; a second call with the same ``--json`` resumes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from neuromem.cards import find_card, load_network_data, load_toml
from neuromem.tasks import get_task

TARGETS = {"in_domain": 0.93, "taox": 0.91, "snr20": 0.80, "heldout_klatt": 0.85,
           "flite": 0.80, "festival": 0.80}
RUNS = {"in_domain": {}, "taox": {"device": "taox_hfox_wu2018"},
        "snr20": {"data.snr_db": 20.0}, "heldout_klatt": {"data.family": "formant"}}
ABLATION = {"augment: none": {"data.augment": "none"},
            "augment: vtlp only": {"data.augment": "vtlp"},
            "augment: channel only": {"data.augment": "channel"},
            "augment: reverb only": {"data.augment": "reverb"},
            "front end: fixed window": {"front_end": {"time_axis": "window"}},
            "front end: absolute levels": {"front_end": {"floor_db": float("inf")}}}
FIELDS = ("accuracy", "accuracy_10", "false_accept", "false_reject", "mac_accuracy",
          "logistic_accuracy", "mlp_accuracy")


def _card_with_front_end(changes: dict, folder: Path) -> str:
    """A copy of the synth_kws card with front-end settings changed (for ablations): the
    card's own lines ``key = value`` of ``[parameters.front_end]`` rewritten."""
    import re

    text = find_card("synth_kws", "datasets").read_text()
    head, sep, table = text.partition("[parameters.front_end]")
    body, nxt, rest = table.partition("\n[")
    for key, value in changes.items():
        literal = ("inf" if value == float("inf") else f'"{value}"' if isinstance(value, str)
                   else repr(value))
        body, n = re.subn(rf"^{key} = [^\n]*$", f"{key} = {literal}", body, flags=re.M)
        if n != 1:
            raise SystemExit(f"synth_kws card: no front_end key {key!r} to change")
    path = folder / f"synth_kws_{'_'.join(changes)}.toml"
    path.write_text(head + sep + body + nxt + rest)
    load_toml(path)                                  # still a valid card
    return str(path)


def _run(overrides: dict, seed: int, folder: Path, name: str):
    from neuromem.store import write_result

    overrides = dict(overrides)
    if "front_end" in overrides:
        overrides["data.dataset"] = _card_with_front_end(overrides.pop("front_end"), folder)
    data, path, dev = load_network_data("kws", overrides)
    t0 = time.perf_counter()
    res = get_task("kws")(data, path=path, device_overrides=dev, seed=seed)
    wall = time.perf_counter() - t0
    model_path = folder / f"{name}-{seed}.h5".replace(" ", "_").replace(":", "")
    write_result(model_path, metrics=res.metrics, cards=res.cards, events=res.events,
                 state=res.state, seed=seed, extra=res.extra, model=res.model)
    m = dict(res.metrics)
    m["logistic_accuracy"] = m.pop("baseline_accuracy")
    return {k: m.get(k) for k in FIELDS} | {"wall_s": wall, "features_s": m["features_s"],
                                             "learn_s": m["learn_s"]}, model_path


def _evaluate(model_path, dataset, data_dir=None):
    from neuromem.model import load_model

    t0 = time.perf_counter()
    ev = load_model(model_path).evaluate(dataset, data_dir=data_dir)
    return {k: ev.get(k) for k in FIELDS} | {"wall_s": time.perf_counter() - t0,
                                             "n_clips": ev["n_samples"]}


def _mean(runs: list[dict]) -> dict:
    out = {}
    for key in runs[0]:
        values = [r[key] for r in runs if isinstance(r.get(key), (int, float))
                  and not isinstance(r.get(key), bool)]
        if values:
            out[key] = float(np.mean(values))
            out[f"{key}_std"] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return out


def _line(name: str, row: dict) -> str:
    def pct(key):
        v = row["mean"].get(key)
        return "   -  " if v is None else f"{100 * v:6.2f}"
    target = TARGETS.get(name)
    verdict = "" if target is None else (
        f"  target {100 * target:.0f} %: "
        f"{'PASS' if row['mean'][row['target_on']] >= target else 'FAIL'}")
    return (f"{name:28s} {pct('accuracy')} {pct('accuracy_10')} {pct('false_accept')} "
            f"{pct('false_reject')} {pct('mac_accuracy')} {pct('logistic_accuracy')} "
            f"{pct('mlp_accuracy')}{verdict}")


def main(argv=None) -> int:
    from neuromem.data.othersynth import available_families, write_keywords
    from neuromem.data.corpus import KEYWORDS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--rows", default="main", help="main (every row but the ablation), "
                        "ablation, or a comma-separated list of row names")
    parser.add_argument("--json", help="write (and resume from) this JSON file")
    parser.add_argument("--keep", help="folder for the model files (default: a temporary one)")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    families = available_families()
    main_rows = [*RUNS, *families]
    rows = {"main": main_rows, "ablation": list(ABLATION)}.get(
        args.rows, [r.strip() for r in args.rows.split(",") if r.strip()])
    unknown = [r for r in rows if r not in RUNS and r not in ABLATION and r not in families]
    if unknown:
        parser.error(f"unknown row(s) {unknown}; rows: {main_rows + list(ABLATION)}")
    done = {}
    if args.json and os.path.exists(args.json):
        with open(args.json) as fh:
            done = json.load(fh).get("rows", {})
    folder = Path(args.keep or tempfile.mkdtemp(prefix="kws_accuracy_"))
    folder.mkdir(parents=True, exist_ok=True)
    other_root = folder / "other_synthesizers"

    def _family_folder(family: str) -> Path:
        """A folder dataset of one other synthesizer family's keywords (made once)."""
        if not (other_root / "done").exists():
            write_keywords(other_root, KEYWORDS)
            (other_root / "done").write_text("")
        sub = folder / f"only_{family}"
        if not sub.exists():
            for word in KEYWORDS:
                (sub / word).mkdir(parents=True)
                for f in (other_root / word).glob(f"{family}-*.wav"):
                    os.symlink(f, sub / word / f.name)
        return sub

    def save():
        if args.json:
            out = {"network": "kws", "seeds": seeds, "rows": done,
                   "machine": {"python": platform.python_version(), "cpus": os.cpu_count()}}
            tmp = f"{args.json}.tmp"
            with open(tmp, "w") as fh:
                json.dump(out, fh, indent=2)
            os.replace(tmp, args.json)

    print(f"{'row':28s} {'12-way':>6s} {'10-way':>6s} {'FA':>6s} {'FR':>6s} {'MAC':>6s} "
          f"{'LR':>6s} {'MLP':>6s}   (%)", flush=True)
    for name in rows:
        row = done.setdefault(name, {"runs": {}})
        for seed in seeds:
            if str(seed) in row["runs"]:
                continue
            if name in ABLATION:                     # trained on the formant voices,
                result, model_path = _run({**RUNS["heldout_klatt"], **ABLATION[name]},
                                          seed, folder, name)
                klatt = _evaluate(model_path, "synth_kws_klatt")   # tested in and out
                result["klatt_accuracy"] = klatt["accuracy"]
                result["klatt_logistic_accuracy"] = klatt["logistic_accuracy"]
                for family in families:
                    ev = _evaluate(model_path, "folder", _family_folder(family))
                    result[f"{family}_accuracy"] = ev["accuracy"]
                    result[f"{family}_logistic_accuracy"] = ev["logistic_accuracy"]
            elif name in RUNS:
                result, model_path = _run(RUNS[name], seed, folder, name)
                if name == "heldout_klatt":
                    result = {**_evaluate(model_path, "synth_kws_klatt"),
                              "trained_on": "formant voices", "train": result}
            else:                                   # another synthesizer family
                base = done.get("in_domain", {}).get("models", {}).get(str(seed))
                if base is None or not Path(base).exists():
                    base = str(_run({}, seed, folder, "in_domain")[1])
                result = _evaluate(base, "folder", _family_folder(name))
                model_path = None
            row["runs"][str(seed)] = result
            if model_path is not None:
                row.setdefault("models", {})[str(seed)] = str(model_path)
            save()
        row["mean"] = _mean([row["runs"][str(s)] for s in seeds])
        row["target_on"] = "accuracy"
        row["target"] = TARGETS.get(name)
        print(_line(name, row), flush=True)
        save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
