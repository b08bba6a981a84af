"""Cross-workload bar chart: accuracy and energy per inference, spiking vs MAC mode.

    PYTHONPATH=. python benchmarks/workloads_energy.py benchmarks/results/workloads_energy.png

``digits_stdp`` and ``motion`` are run here (quick setting, ``ideal``, seed 0; ~20 s).
``kws`` is the quick-setting numbers of the README (``neuromem run kws --quick --json``; it
needs its synthesized corpus, minutes to build), passed in as constants.
"""

from __future__ import annotations

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from neuromem.cards import load_network_data  # noqa: E402
from neuromem.tasks import get_task  # noqa: E402

# kws quick setting as in the README (energy table and quick-setting paragraph)
MEASURED = {
    "kws": {"spiking_J": 16.2e-9, "mac_J": 1.55e-9, "acc": 0.910, "mac_acc": 0.927},
}


def main(out: str) -> None:
    rows = {}
    for name in ("digits_stdp", "kws", "motion"):
        if name in MEASURED:
            rows[name] = MEASURED[name]
            continue
        data, path, dev = load_network_data(name, quick=True)
        m = get_task(name)(data, path=path, device_overrides=dev, seed=0).metrics
        rows[name] = {"spiking_J": m["spiking_energy_per_inference_J"],
                      "mac_J": m["mac_energy_per_inference_J"], "acc": m["accuracy"],
                      "mac_acc": m["mac_accuracy"]}
    names = list(rows)
    fig, (ax_a, ax_e) = plt.subplots(1, 2, figsize=(9, 3.6))
    xs = range(len(names))
    for off, key, label in ((-0.2, "acc", "spiking"), (0.2, "mac_acc", "MAC")):
        vals = [100 * rows[n][key] for n in names]
        ax_a.bar([x + off for x in xs], vals, 0.4, label=label)
    ax_a.set_xticks(list(xs), names)
    ax_a.set_ylabel("test accuracy (%)")
    ax_a.set_ylim(0, 100)
    ax_a.set_title("accuracy, quick settings, ideal card")
    ax_a.legend(loc="lower right")
    for off, key, label in ((-0.2, "spiking_J", "spiking"), (0.2, "mac_J", "MAC")):
        ax_e.bar([x + off for x in xs], [1e9 * rows[n][key] for n in names], 0.4, label=label)
    ax_e.set_xticks(list(xs), names)
    ax_e.set_ylabel("energy per inference (nJ, isaac_32nm)")
    ax_e.set_yscale("log")
    ax_e.set_title("energy, quick settings, ideal card")
    ax_e.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print({n: r for n, r in rows.items()})


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "workloads_energy.png")
