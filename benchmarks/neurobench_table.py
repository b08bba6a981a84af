"""NeuroBench metrics beside neuromem's device-level energy per inference (README table).

    PYTHONPATH=. python benchmarks/neurobench_table.py --json benchmarks/results/neurobench.json

Each workload is trained as ``neuromem run NAME`` does (seed 0, ideal card): ``digits_stdp``
in its full setting, ``kws`` in its quick setting (``--quick``: 2,000 synthesized clips; the
full corpus takes much longer to synthesize and train; ``--kws-full`` runs it). The trained
network is then exported to NIR (:meth:`neuromem.model.model.Model.to_nir`), re-imported
losslessly on its own card and evaluated on the run's test split
(:func:`neuromem.nir.evaluate_nir`): accuracy and energy of both execution modes
(``isaac_32nm``) and NeuroBench's metrics from the exact event counts of that same run
(:func:`neuromem.energy.neurobench.neurobench_metrics`; MAC mode: one dense
matrix-vector product per inference, answered by its most driven neuron's label). The
input spike trains are drawn afresh (seed 0), so accuracies differ from the training run's
own test score by sampling noise; both are printed.
"""

from __future__ import annotations

import argparse
import json
import time


from neuromem.cards import load_network_data
from neuromem.model.model import Model, _cards_of
from neuromem.model.state import restore_network
from neuromem.nir import evaluate_nir
from neuromem.tasks import get_task


def _test_split(name: str, model: Model, data: dict, path):
    """(rates (n, rows) Hz, labels) of the run's test split, encoded as the run encoded it."""
    if name == "digits_stdp":
        from neuromem.data.digits import load_digits_split
        d = model.cards["resolved"]["data"]
        _, _, x_te, y_te = load_digits_split(d["test_fraction"], d["split_seed"])
        return model.encode(x_te), y_te
    from neuromem.cards import find_card, load_toml
    from neuromem.tasks.kws import build_sections, load_kws_features
    dset, feat, *_ = build_sections(data, file=path)
    card_path = find_card(dset.dataset, "datasets")
    fs = load_kws_features(dset, feat, card_path=card_path,
                           params=load_toml(card_path).get("parameters", {}))
    return fs.rates["test"], fs.labels["test"]


def measure(name: str, quick: bool) -> dict:
    t0 = time.perf_counter()
    data, path, dev = load_network_data(name, quick=quick)
    result = get_task(name)(data, path=path, device_overrides=dev, seed=0)
    device, neuron, stdp = _cards_of(result.cards, name)
    net = restore_network(result.model, device.params, neuron, stdp, where=name)
    model = Model(name, result.model, result.cards, device, net, result.metrics)
    rates, labels = _test_split(name, model, data, path)
    graph = model.to_nir()
    max_rate = json.loads(graph.metadata["neuromem"]["input_encoding_json"])["max_rate_Hz"]
    ev = evaluate_nir(graph, None, rates, labels, max_rate_Hz=max_rate, seed=0)
    nb = ev["neurobench"]
    return {"workload": name, "setting": "quick" if quick else "full", "device": device.name,
            "tech": ev["tech"], "n_test": ev["n_samples"],
            "run_accuracy": result.metrics["accuracy"],
            "accuracy": ev["accuracy"], "energy_per_inference_J": ev["energy_per_inference_J"],
            "footprint_bytes": nb["footprint_bytes"],
            "connection_sparsity": nb["connection_sparsity"],
            "activation_sparsity": nb["spiking"]["activation_sparsity"],
            "spiking_synaptic_operations": nb["spiking"]["synaptic_operations"],
            "mac_synaptic_operations": nb["mac"]["synaptic_operations"],
            "crossbar": f"{net.layer.n_in} x {net.layer.n_out} ({net.layer.mapping})",
            "wall_s": time.perf_counter() - t0}


def table(rows) -> str:
    lines = ["| | " + " | ".join(f"{r['workload']} ({r['setting']})" for r in rows) + " |",
             "|---|" + "---|" * len(rows)]

    def add(label, fmt):
        lines.append(f"| {label} | " + " | ".join(fmt(r) for r in rows) + " |")

    add("crossbar", lambda r: r["crossbar"])
    add("accuracy: spiking / MAC", lambda r: f"{100 * r['accuracy']['spiking']:.1f} % / "
        f"{100 * r['accuracy']['mac']:.1f} %")
    add("footprint", lambda r: f"{r['footprint_bytes']:,} B")
    add("connection sparsity", lambda r: f"{r['connection_sparsity']:.3f}")
    add("activation sparsity (spiking)", lambda r: f"{r['activation_sparsity']:.4f}")
    add("Effective_ACs / inference (spiking)",
        lambda r: f"{r['spiking_synaptic_operations']['Effective_ACs']:,.0f}")
    add("Effective_MACs / inference (MAC mode)",
        lambda r: f"{r['mac_synaptic_operations']['Effective_MACs']:,.0f}")
    add("Dense ops / inference: spiking / MAC",
        lambda r: f"{r['spiking_synaptic_operations']['Dense']:,.0f} / "
        f"{r['mac_synaptic_operations']['Dense']:,.0f}")
    add(f"device-level energy / inference ({rows[0]['tech']}): spiking / MAC",
        lambda r: f"{r['energy_per_inference_J']['spiking'] * 1e9:.3g} nJ / "
        f"{r['energy_per_inference_J']['mac'] * 1e9:.3g} nJ")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="write the rows as JSON")
    ap.add_argument("--kws-full", action="store_true", help="kws in its full setting")
    args = ap.parse_args()
    rows = [measure("digits_stdp", quick=False), measure("kws", quick=not args.kws_full)]
    print(table(rows))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2, default=float)
            fh.write("\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
