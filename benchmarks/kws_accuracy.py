"""Accuracy of ``kws`` per setting, mean over seeds, beside the logistic-regression baseline.

    python benchmarks/kws_accuracy.py --seeds 0,1,2 --json benchmarks/results/kws_accuracy.json

Each row is the network card as shipped with one override set, exactly what
``neuromem run kws --seed S --set ...`` runs (the corpus is synthesized once and cached).
"""

from accuracy_table import main

SETTINGS = {
    "ideal": {},
    "taox_hfox_wu2018": {"device": "taox_hfox_wu2018"},
    "ideal_snr20": {"data.snr_db": 20.0},
}
TARGETS = {"ideal": 0.88, "taox_hfox_wu2018": 0.85, "ideal_snr20": 0.78}

if __name__ == "__main__":
    raise SystemExit(main("kws", SETTINGS, TARGETS, __doc__.splitlines()[0]))
