"""MAC mode on the trained layer's own cells ("same") against ex-situ transfer ("fresh").

    PYTHONPATH=. python benchmarks/same_cells.py --json benchmarks/results/same_cells.json

For each network (quick settings, seed 0) and device setting, one training run; its MAC mode
is evaluated both ways from the same trained layer (``neuromem.tasks.compare.mac_mode`` with
``[energy] mac_array = "same"`` and ``"fresh"``), so the spiking side is identical and only
the MAC array differs. Energies per inference with ``isaac_32nm``; a fresh array's one-off
write-verify programming (pulses, energy) is reported beside them.

Device settings: ``ideal``; the TaOx/HfOx card (Wu 2018: 128 levels, 3.7 % C2C noise);
TaOx/HfOx with 25 % D2D spread of G_max and A and 2 % + 2 % stuck cells.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from neuromem.cards import load_network_data
from neuromem.schema import build
from neuromem.tasks import get_task
from neuromem.tasks.compare import EnergySection, energy_inputs, energy_summary, mac_mode

DEVICES = {
    "ideal": {"device": "ideal"},
    "taox": {"device": "taox_hfox_wu2018"},
    "taox_d2d_stuck": {"device": "taox_hfox_wu2018", "device.g_max_dtod": 0.25,
                       "device.a_dtod": 0.25, "device.stuck_on_rate": 0.02,
                       "device.stuck_off_rate": 0.02},
}


def _capture():
    """Patch the tasks' mac_mode to keep the trained layer and the MAC inputs of a run."""
    import neuromem.tasks.digits as digits
    import neuromem.tasks.kws as kws
    seen = {}

    def keep(layer, x, section, rng):
        seen.update(layer=layer, x=np.array(x), section=section)
        return mac_mode(layer, x, section, rng)

    for mod in (digits, kws):
        mod.mac_mode = keep
    return seen


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default="digits_stdp,kws")
    parser.add_argument("--devices", default=",".join(DEVICES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the results as JSON")
    args = parser.parse_args(argv)
    seen = _capture()
    rows = []
    t0 = time.perf_counter()
    for name in args.networks.split(","):
        for dev_name in args.devices.split(","):
            data, path, dev_over = load_network_data(name, DEVICES[dev_name], quick=True)
            result = get_task(name)(data, path=path, device_overrides=dev_over, seed=args.seed)
            m = result.metrics
            layer, x, section = seen["layer"], seen["x"], seen["section"]
            test_events = result.events["test"]
            n_test = x.shape[0]
            y_true = np.asarray(result.state["test_labels"])
            for kind in ("same", "fresh"):
                sec = build(EnergySection, {**_plain(section), "mac_array": kind},
                            section="energy")
                y, counts, xbar = mac_mode(layer, x, sec, np.random.default_rng(
                    np.random.SeedSequence([args.seed, 7])))
                acc_mac = _mac_accuracy(name, y, result, y_true)
                inputs = energy_inputs(layer=layer, xbar=xbar, test_events=test_events,
                                       mac_counts=counts, n_test=n_test,
                                       dt_s=result.extra["energy_inputs"]["spiking"]["dt_s"],
                                       section=sec, acc_spiking=m["accuracy"],
                                       acc_mac=acc_mac)
                e = energy_summary(inputs, result.cards["device"], "isaac_32nm")
                row = {"network": name, "device": dev_name, "mac_array": kind,
                       "accuracy_spiking": m["accuracy"], "accuracy_mac": acc_mac,
                       "mac_accuracy_of_the_run": m["mac_accuracy"],
                       "spiking_J": e["spiking_J"], "mac_J": e["mac_J"],
                       "ratio": e["spiking_J"] / e["mac_J"],
                       "mac_breakdown_J": e["mac"]["breakdown_J"],
                       "mac_read_conductance_S": e["mac"]["details"]["read_conductance_S"],
                       "programming": inputs["mac"].get("programming")}
                rows.append(row)
                prog = row["programming"]
                print(f"{name:12s} {dev_name:15s} {kind:5s}  SNN {100 * m['accuracy']:6.2f} %"
                      f"  MAC {100 * acc_mac:6.2f} %  spiking {e['spiking_J'] * 1e9:6.3g} nJ"
                      f"  MAC {e['mac_J'] * 1e9:6.3g} nJ (cell reads "
                      f"{e['mac']['breakdown_J']['cell_reads'] * 1e12:6.4g} pJ)"
                      + (f"  programming {prog['pulses']:,} pulses "
                         f"{prog['write_energy_J'] * 1e9:.3g} nJ, {prog['cells_converged']:,}"
                         f"/{prog['cells']:,} cells in tolerance" if prog else ""))
    out = {"config": vars(args), "rows": rows,
           "machine": {"python": platform.python_version(),
                       "wall_s": time.perf_counter() - t0}}
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
    return 0


def _plain(section) -> dict:
    import dataclasses
    return {f.name: getattr(section, f.name) for f in dataclasses.fields(section)}


def _mac_accuracy(name, y, result, y_true) -> float:
    """The task's own MAC readout of activations ``y``."""
    if name == "digits_stdp":
        assign = np.asarray(result.state["neuron_labels"])
        return float(np.mean(assign[np.argmax(y, axis=1)] == y_true))
    cls = np.asarray(result.state["neuron_labels"])          # kws: class of each column
    n_classes = int(cls.max()) + 1
    scores = np.zeros((len(y), n_classes))
    np.add.at(scores.T, cls, y.T)
    return float(np.mean(scores.argmax(axis=1) == y_true))


if __name__ == "__main__":
    raise SystemExit(main())
