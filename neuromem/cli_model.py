"""``neuromem evaluate``, ``predict`` and ``export``: the commands that use a trained model
file (a result file of ``neuromem run NAME -o MODEL.h5``). :mod:`neuromem.cli` builds the
parser and handles errors and exit codes."""

from __future__ import annotations

import sys
from pathlib import Path

from neuromem.cli import _command_line, _print_json, _print_rows
from neuromem.exceptions import ConfigError

__all__ = ["add_model_commands"]


#: ``--set nir.KEY=V`` of evaluate on a NIR graph: import options of neuromem.nir.from_nir.
_NIR_OPTIONS = ("dt_s", "t_present_s", "t_rest_s", "spike_convention")


def _model_overrides(texts, *, nir: bool = False):
    """``--set`` of evaluate: (device card or None, device overrides, data overrides, NIR
    import options)."""
    from neuromem.cards import parse_override

    device, device_over, data_over, nir_over = None, {}, {}, {}
    for text in texts or []:
        key, value = parse_override(text)
        if key == "device":
            device = value
        elif key.startswith("device."):
            device_over[key[len("device."):]] = value
        elif key.startswith("data."):
            data_over[key[len("data."):]] = value
        elif nir and key.startswith("nir.") and key[len("nir."):] in _NIR_OPTIONS:
            nir_over[key[len("nir."):]] = value
        else:
            more = (", nir." + ", nir.".join(_NIR_OPTIONS)) if nir else ""
            raise ConfigError(f"evaluate takes device=CARD, device.KEY=V, data.KEY=V{more}, "
                              f"not {key!r}", key="--set")
    return device, device_over, data_over, nir_over


def _is_nir_file(path: Path) -> bool:
    """A ``.nir`` file, or an HDF5 file laid out as NIR writes them (a root ``node`` group
    and ``version``) rather than a result file."""
    if path.suffix == ".nir":
        return True
    try:
        import h5py
        with h5py.File(path, "r") as f:
            return "node" in f and "version" in f and "format" not in f.attrs
    except (OSError, ValueError):
        return False


def _evaluate_graph(args) -> int:
    """``neuromem evaluate NET.nir --device CARD --dataset NAME``."""
    from neuromem.cards import resolve_device
    from neuromem.nir.evaluate import evaluate_graph

    for flag, given in (("--data-dir", args.data_dir), ("--age-s", args.age_s),
                        ("-o", args.output), ("--skip-bad", args.skip_bad)):
        if given:
            raise ConfigError(f"{flag} is for model files (neuromem run NAME -o MODEL.h5), "
                              "not NIR graphs", key=flag)
    if not args.dataset:
        raise ConfigError("a NIR graph needs a dataset to run on: --dataset NAME (e.g. "
                          "sklearn_digits)", key="--dataset")
    device, device_over, data_over, nir_over = _model_overrides(args.set, nir=True)
    card = resolve_device(args.device or device or "ideal", device_over)
    ev = evaluate_graph(args.model, card, args.dataset, split=args.split,
                        data_overrides=data_over, import_options=nir_over,
                        tech=args.tech or "isaac_32nm", seed=args.seed)
    if args.json:
        _print_json(ev)
        return 0
    e, nb = ev["energy"], ev["neurobench"]
    acs = nb["spiking"]["synaptic_operations"]["Effective_ACs"]
    macs = nb["mac"]["synaptic_operations"]["Effective_MACs"]
    _print_rows([
        ("graph", ev["graph"]), ("device", ev["device"]),
        ("data", f"{ev['dataset']} / {ev['split']}: {ev['n_samples']} samples"),
        ("accuracy", f"{100 * ev['accuracy']:.2f} %"),
        ("MAC mode accuracy", f"{100 * ev['mac_accuracy']:.2f} %"),
        (f"energy / inference ({e['tech']})",
         f"spiking {e['spiking_J_per_inference'] * 1e9:.3g} nJ, MAC "
         f"{e['mac_J_per_inference'] * 1e9:.3g} nJ"),
        ("NeuroBench", f"footprint {nb['footprint_bytes']:,} B, connection sparsity "
                       f"{nb['connection_sparsity']:.3f}, activation sparsity "
                       f"{nb['spiking']['activation_sparsity']:.4f}"),
        ("  synaptic operations / inference",
         f"Effective_ACs {acs:,.0f} (spiking), Effective_MACs {macs:,.0f} (MAC mode)")])
    return 0


def cmd_evaluate(args) -> int:
    from neuromem.model import load_model
    from neuromem.model.evaluate import write_evaluation

    if _is_nir_file(Path(args.model)):
        return _evaluate_graph(args)
    output = Path(args.output) if args.output else None
    if output is not None and not output.parent.exists():
        raise ConfigError(f"output folder does not exist: {output.parent}", key="-o")
    data_dir = None
    if args.data_dir:
        data_dir = Path(args.data_dir).expanduser()
        if not data_dir.is_dir():
            raise ConfigError(f"data folder not found: {data_dir}", key="--data-dir")
    device, device_over, data_over, _ = _model_overrides(args.set)
    device = args.device or device
    model = load_model(args.model)
    if device is not None or device_over:
        model = model.with_device(device or model.device.to_dict(), device_over,
                                  seed=args.seed)
    if args.age_s:
        model = model.aged(args.age_s)
    ev = model.evaluate(args.dataset, data_dir=data_dir, split=args.split,
                        data_overrides=data_over, tech=args.tech, skip_bad=args.skip_bad,
                        progress=not args.json and sys.stderr.isatty(), seed=args.seed)
    if output is not None:
        write_evaluation(output, ev, model,
                         command=_command_line())
    if args.json:
        out = {k: v for k, v in ev.items() if not k.startswith("_")}
        if output is not None:
            out["result_file"] = str(output)
        _print_json(out)
        return 0
    e = ev["energy"]
    rows = [("model", f"{ev['model']} ({ev['task']})"),
            ("device", ev["device"] + (f" (ex-situ: trained on {ev['transfer']['trained_on']},"
                                       " weights programmed into a fresh array)"
                                       if ev["transfer"] else "")),
            ("data", f"{ev['dataset']} / {ev['split']}: {ev['n_samples']} samples"
                     + (f", {ev['n_skipped']} unreadable files skipped" if ev["n_skipped"]
                        else "")),
            ("accuracy", f"{100 * ev['accuracy']:.2f} %"),
            ("MAC mode accuracy", f"{100 * ev['mac_accuracy']:.2f} %")]
    if ev.get("accuracy_10") is not None:
        rows.append(("accuracy on the keywords alone", f"{100 * ev['accuracy_10']:.2f} %"))
    if ev.get("false_reject") is not None:
        fa = ev.get("false_accept")
        rows.append(("false accept / false reject",
                     ("-" if fa is None else f"{100 * fa:.1f} %")
                     + f" / {100 * ev['false_reject']:.1f} %"))
    rows += [(f"baseline: {name.replace('_', ' ')}", f"{100 * ev[key]:.2f} %")
             for key, name in (("logistic_accuracy", "logistic regression"),
                               ("mlp_accuracy", "MLP")) if key in ev]
    rows += [("rejected (below min_confidence)", f"{100 * ev['rejected_fraction']:.1f} %"),
            (f"energy / inference ({e['tech']})",
             f"spiking {e['spiking_J_per_inference'] * 1e9:.3g} nJ, MAC "
             f"{e['mac_J_per_inference'] * 1e9:.3g} nJ")]
    rows += [(f"  {name}", f"{100 * v['accuracy']:.1f} % of {v['n']}")
             for name, v in ev["per_label"].items()]
    if output is not None:
        rows.append(("result file", str(output)))
    _print_rows(rows)
    return 0


def cmd_predict(args) -> int:
    from neuromem.model import load_model

    if bool(args.files) == bool(args.stream):
        raise ConfigError("give WAV files, or one long recording with --stream", key="FILE")
    model = load_model(args.model)
    if args.stream:
        out = model.stream(args.stream)
        if args.json:
            _print_json(out)
            return 0
        print(f"{args.stream}: {out['duration_s']:.1f} s, {len(out['words'])} words heard, "
              f"{len(out['detections'])} keywords")
        for d in out["detections"]:
            print(f"  {d['start_s']:8.2f} s  {d['label']:<10} confidence {d['confidence']:.2f}")
        return 0
    out = model.predict_files(args.files, skip_bad=args.skip_bad)
    if args.json:
        _print_json(out)
        return 0
    width = max(len(f["file"]) for f in out["files"]) if out["files"] else 4
    for f in out["files"]:
        words = f.get("words")
        extra = ("  words: " + ", ".join(f"{w['label']}@{w['start_s']:.2f}s" for w in words)
                 if words else "")
        print(f"{f['file'].ljust(width)}  {f['label']:<10} confidence {f['confidence']:.2f}"
              f"{extra}")
    for s in out["skipped"]:
        print(f"skipped  {s['error']}", file=sys.stderr)
    return 0


def cmd_export(args) -> int:
    from neuromem._files import check_output_file
    from neuromem.nir import export_model

    out = check_output_file(Path(args.output))
    export_model(args.model, out)
    print(f"wrote {out}")
    return 0


def add_model_commands(sub) -> None:
    """Add evaluate, predict and export to the ``neuromem`` subcommands."""
    p = sub.add_parser("evaluate", help="a trained model (a result file of neuromem run -o) "
                       "or a NIR graph on a dataset: accuracy, energy of both modes")
    p.add_argument("model", help="result file with a model (neuromem run NAME -o MODEL.h5), "
                   "or a NIR graph (NET.nir: any framework's export, run on --device)")
    p.add_argument("--device", metavar="CARD", help="device card: a NIR graph's crossbars "
                   "(default: ideal); for a model the same as --set device=CARD")
    p.add_argument("--dataset", help="dataset card (default: the model's own); NIR graphs: "
                   "sklearn_digits or basic_motions, encoded as their task encodes them")
    p.add_argument("--data-dir", help="folder of a real dataset (folder, speech_commands)")
    p.add_argument("--split", default="test", choices=("test", "validation", "train"),
                   help="which split (a folder given with --data-dir is all test data)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="device=CARD (ex-situ: the trained weights programmed into that "
                   "card's array), device.KEY=V, data.KEY=V (e.g. data.snr_db=20); NIR "
                   "graphs also nir.dt_s, nir.t_present_s, nir.t_rest_s, "
                   "nir.spike_convention (graphs from other frameworks)")
    p.add_argument("--tech", help="technology preset of the energies (default: the card's)")
    p.add_argument("--seed", type=int, default=0, help="seed of fresh arrays (ex-situ, MAC)")
    p.add_argument("--age-s", type=float, default=0.0, metavar="SECONDS",
                   help="evaluate the cells this long after programming (retention drift "
                   "of the device card)")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable WAV files and "
                   "count them (default: refuse before doing any work)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("-o", "--output", help="write an evaluation result file (HDF5)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="answer WAV files (or --stream a long recording) "
                       "with a trained kws model")
    p.add_argument("model", help="result file with a kws model")
    p.add_argument("files", nargs="*", metavar="FILE.wav", help="clips to answer")
    p.add_argument("--stream", metavar="LONG.wav", help="slide over a long recording and "
                   "print the keywords heard with their times")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable files")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("export", help="a trained model as a NIR graph")
    p.add_argument("model", help="result file with a model (neuromem run NAME -o MODEL.h5)")
    p.add_argument("-o", "--output", required=True, help="NIR file to write (.nir)")
    p.set_defaults(func=cmd_export)
