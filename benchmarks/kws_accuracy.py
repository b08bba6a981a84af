"""Accuracy of ``kws`` per setting, mean over seeds, beside the logistic-regression baseline.

    python benchmarks/kws_accuracy.py --seeds 0,1,2 --json benchmarks/results/kws_accuracy.json

Each row is the network card as shipped with one override set, exactly what
``neuromem run kws --seed S --set ...`` runs (the corpus is synthesized once and cached).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from neuromem.cards import load_network_data
from neuromem.tasks import get_task

SETTINGS = {
    "ideal": {},
    "taox_hfox_wu2018": {"device": "taox_hfox_wu2018"},
    "ideal_snr20": {"data.snr_db": 20.0},
}
TARGETS = {"ideal": 0.88, "taox_hfox_wu2018": 0.85, "ideal_snr20": 0.78}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--settings", default=",".join(SETTINGS),
                        help="comma-separated subset of: " + ", ".join(SETTINGS))
    parser.add_argument("--json", help="write the table as JSON")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    chosen = [n.strip() for n in args.settings.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in SETTINGS]
    if unknown:
        parser.error(f"unknown setting(s) {unknown}; choose from {list(SETTINGS)}")
    task = get_task("kws")
    rows = []
    for name in chosen:
        accs, bases, walls = [], [], []
        for seed in seeds:
            data, path, dev = load_network_data("kws", SETTINGS[name])
            t0 = time.perf_counter()
            res = task(data, path=path, device_overrides=dev, seed=seed)
            walls.append(time.perf_counter() - t0)
            accs.append(res.metrics["accuracy"])
            bases.append(res.metrics["baseline_accuracy"])
        mean, base = float(np.mean(accs)), float(np.mean(bases))
        row = {"setting": name, "overrides": SETTINGS[name], "seeds": seeds, "accuracy": accs,
               "mean_accuracy": mean,
               "std_accuracy": float(np.std(accs, ddof=1)) if len(accs) > 1 else 0.0,
               "baseline_accuracy": base, "gap_to_baseline": base - mean,
               "target": TARGETS[name], "meets_target": bool(mean >= TARGETS[name]),
               "wall_s_per_run": float(np.mean(walls))}
        rows.append(row)
        print(f"{name:18s} SNN {100 * mean:6.2f} % +- {100 * row['std_accuracy']:.2f}   "
              f"LR {100 * base:6.2f} %   (target {100 * row['target']:.0f} %: "
              f"{'PASS' if row['meets_target'] else 'FAIL'})  {row['wall_s_per_run']:.0f} s/run",
              flush=True)
    if args.json:
        out = {"rows": rows, "machine": {"python": platform.python_version(),
                                         "cpus": os.cpu_count()}}
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
