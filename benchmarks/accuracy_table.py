"""Shared driver of the accuracy benchmarks (``digits_accuracy.py``, ``kws_accuracy.py``).

Each row is a network card as shipped with one override set, exactly what
``neuromem run NETWORK --seed S --set ...`` runs, repeated over seeds: mean and standard
deviation of the test accuracy, and of the task's non-spiking baseline when it reports one.
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


def main(network: str, settings: dict, targets: dict, description: str, argv=None) -> int:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--settings", default=",".join(settings),
                        help="comma-separated subset of: " + ", ".join(settings))
    parser.add_argument("--json", help="write the table as JSON")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    chosen = [n.strip() for n in args.settings.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in settings]
    if unknown:
        parser.error(f"unknown setting(s) {unknown}; choose from {list(settings)}")
    task = get_task(network)
    rows = []
    for name in chosen:
        accs, bases, walls = [], [], []
        for seed in seeds:
            data, path, dev = load_network_data(network, settings[name])
            t0 = time.perf_counter()
            res = task(data, path=path, device_overrides=dev, seed=seed)
            walls.append(time.perf_counter() - t0)
            accs.append(res.metrics["accuracy"])
            if res.metrics.get("baseline_accuracy") is not None:
                bases.append(res.metrics["baseline_accuracy"])
        mean = float(np.mean(accs))
        row = {"setting": name, "overrides": settings[name], "seeds": seeds, "accuracy": accs,
               "mean_accuracy": mean,
               "std_accuracy": float(np.std(accs, ddof=1)) if len(accs) > 1 else 0.0,
               "target": targets[name], "meets_target": bool(mean >= targets[name]),
               "wall_s_per_run": float(np.mean(walls))}
        line = f"{name:18s} {100 * mean:6.2f} % +- {100 * row['std_accuracy']:.2f}"
        if bases:
            base = float(np.mean(bases))
            row.update(baseline_accuracy=base, gap_to_baseline=base - mean)
            line += f"   baseline {100 * base:6.2f} %"
        rows.append(row)
        print(f"{line}   (target {100 * row['target']:.0f} %: "
              f"{'PASS' if row['meets_target'] else 'FAIL'})  {row['wall_s_per_run']:.0f} s/run",
              flush=True)
    if args.json:
        out = {"network": network, "rows": rows,
               "machine": {"python": platform.python_version(), "cpus": os.cpu_count()}}
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
    return 0
