"""Accuracy of ``motion`` (BasicMotions) per device, mean over seeds, beside the LR baseline.

    python benchmarks/sensors_accuracy.py --seeds 0,1,2 --json benchmarks/results/sensors_motion.json

Each row is the network card as shipped with one override set, exactly what
``neuromem run motion --seed S --set ...`` runs. Needs sktime (``neuromem[sensors]``).
"""

from accuracy_table import main

SETTINGS = {
    "ideal": {},
    "taox_hfox_wu2018": {"device": "taox_hfox_wu2018"},
}
TARGETS = {"ideal": 0.95 - 1e-9, "taox_hfox_wu2018": 0.92 - 1e-9}  # 38/40 = 95 %; float mean

if __name__ == "__main__":
    raise SystemExit(main("motion", SETTINGS, TARGETS, __doc__.splitlines()[0]))
