"""Accuracy of ``digits_stdp`` per device setting, mean over seeds (the README's table).

    python benchmarks/digits_accuracy.py --seeds 0,1,2 --json benchmarks/results/digits_accuracy.json

Each row is the network card as shipped with one override set, exactly what
``neuromem run digits_stdp --seed S --set ...`` runs.
"""

from accuracy_table import main

SETTINGS = {
    "ideal": {},
    "taox_hfox_wu2018": {"device": "taox_hfox_wu2018"},
    "ideal_dtod25": {"device.g_max_dtod": 0.25, "device.a_dtod": 0.25},
    "ideal_dtod50": {"device.g_max_dtod": 0.5, "device.a_dtod": 0.5},
}
TARGETS = {"ideal": 0.88, "taox_hfox_wu2018": 0.85, "ideal_dtod25": 0.85, "ideal_dtod50": 0.80}

if __name__ == "__main__":
    raise SystemExit(main("digits_stdp", SETTINGS, TARGETS, __doc__.splitlines()[0]))
