"""Accuracy of ``digits_stdp`` per device setting, mean over seeds (the README's table).

    python benchmarks/digits_accuracy.py --seeds 0,1,2 --json benchmarks/results/digits_accuracy.json

Each row is the network card as shipped with one override set, exactly what
``neuromem run digits_stdp --seed S --set ...`` runs.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from neuromem.cards import load_network_data
from neuromem.tasks import get_task

SETTINGS = {
    "ideal": {},
    "taox_hfox_wu2018": {"device": "taox_hfox_wu2018"},
    "ideal_dtod25": {"device.g_max_dtod": 0.25, "device.a_dtod": 0.25},
    "ideal_dtod50": {"device.g_max_dtod": 0.5, "device.a_dtod": 0.5},
}
TARGETS = {"ideal": 0.88, "taox_hfox_wu2018": 0.85, "ideal_dtod25": 0.85, "ideal_dtod50": 0.80}


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
    task = get_task("digits_stdp")
    rows = []
    for name in chosen:
        accs, walls = [], []
        for seed in seeds:
            data, path, dev = load_network_data("digits_stdp", SETTINGS[name])
            t0 = time.perf_counter()
            res = task(data, path=path, device_overrides=dev, seed=seed)
            walls.append(time.perf_counter() - t0)
            accs.append(res.metrics["accuracy"])
        row = {"setting": name, "overrides": SETTINGS[name], "seeds": seeds,
               "accuracy": accs, "mean_accuracy": float(np.mean(accs)),
               "std_accuracy": float(np.std(accs, ddof=1)) if len(accs) > 1 else 0.0,
               "target": TARGETS[name], "meets_target": bool(np.mean(accs) >= TARGETS[name]),
               "wall_s_per_run": float(np.mean(walls))}
        rows.append(row)
        print(f"{name:18s} {100 * row['mean_accuracy']:6.2f} % +- {100 * row['std_accuracy']:.2f}"
              f"  (target {100 * row['target']:.0f} %: "
              f"{'PASS' if row['meets_target'] else 'FAIL'})  {row['wall_s_per_run']:.0f} s/run",
              flush=True)
    if args.json:
        out = {"rows": rows, "machine": {"python": platform.python_version(),
                                         "processor": platform.processor(),
                                         "cpus": __import__("os").cpu_count()}}
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
