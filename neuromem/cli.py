"""The ``neuromem`` command.

Exit codes: 0 success, 2 usage or configuration error, 1 runtime failure. Errors are one line
on stderr; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from neuromem import __version__
from neuromem.exceptions import ConfigError, NeuromemError

__all__ = ["main", "build_parser"]


def _fmt_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def cmd_devices(args) -> int:
    from neuromem.cards import list_cards, load_device

    rows = []
    for name in list_cards("synapse_models"):
        card = load_device(name)
        p = card.params
        levels = "continuous" if getattr(p, "continuous", False) else (p.n_levels or "analog")
        ratio = p.on_off_ratio
        doi = card.source.get("doi")
        short = card.summary + (f", doi:{doi}" if doi else "")
        rows.append((name, card.kind, str(levels),
                     "inf" if ratio == float("inf") else f"{ratio:.3g}", short))
    if args.json:
        print(json.dumps([dict(zip(("name", "kind", "levels", "on_off", "source"), r))
                          for r in rows], indent=2))
        return 0
    header = ("name", "kind", "levels", "on/off", "source")
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(4)]
    print("  ".join(h.ljust(w) for h, w in zip(header[:4], widths)) + "  " + header[4])
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4])
    return 0


def cmd_device_show(args) -> int:
    from neuromem.cards import load_device
    from neuromem.schema import describe

    card = load_device(args.name)
    if args.json:
        print(json.dumps(card.to_dict(), indent=2, default=str))
        return 0
    print(f"{card.name}  ({card.kind})  {card.summary}")
    if card.path is not None:
        print(f"card: {card.path}")
    for key in ("citation", "doi", "url", "figures", "notes"):
        if card.source.get(key):
            print(f"{key}: {card.source[key]}")
    print()
    rows = [r for r in describe(card.params) if r["value"] is not None]
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        unit = r["unit"] or "-"
        print(f"  {r['name'].ljust(width)}  {_fmt_value(r['value']):>12}  {unit:<4}  {r['doc']}")
    p = card.params
    derived = {"on/off ratio": p.on_off_ratio}
    if hasattr(p, "a_ltp_norm"):
        derived["A_LTP/Pmax (resolved)"] = p.a_ltp_norm
        derived["A_LTD/Pmax (resolved)"] = p.a_ltd_norm
    print()
    for k, v in derived.items():
        print(f"  {k.ljust(width)}  {_fmt_value(v):>12}")
    return 0


def cmd_device_plot(args) -> int:
    import numpy as np

    from neuromem.cards import load_device
    from neuromem.plot import plot_device

    card = load_device(args.name)
    out = Path(args.output)
    if out.parent and not out.parent.exists():
        raise ConfigError(f"output folder does not exist: {out.parent}", key="-o")
    fig = plot_device(card, np.random.default_rng(args.seed))
    fig.savefig(out, dpi=args.dpi, bbox_inches="tight")
    print(f"wrote {out}")
    return 0


def cmd_device_fit(args) -> int:
    from neuromem.fit import fit_pulse_device, read_curves_csv

    curves = read_curves_csv(args.curves)
    result = fit_pulse_device(curves["pulse"], curves["conductance_S"], curves["direction"],
                              cycle=curves.get("cycle"))
    name = args.name or Path(args.output).stem
    text = result.to_card(name, source_citation=args.citation or f"fitted to {args.curves}")
    out = Path(args.output)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(out)
    print(result.summary())
    print(f"wrote {out}")
    return 0


def _json_default(obj):
    import numpy as np
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, default=_json_default))


def _print_rows(rows) -> None:
    """(label, value) rows as two aligned columns."""
    width = max(len(str(k)) for k, _ in rows)
    for key, value in rows:
        print(f"{str(key).ljust(width)}  {value}")


def _command_line() -> str | None:
    """The command as typed (stored in result files)."""
    return " ".join(["neuromem", *sys.argv[1:]]) if sys.argv else None


def cmd_run(args) -> int:
    from neuromem.cards import load_network_data, parse_override
    from neuromem.tasks import get_task

    overrides = dict(parse_override(text) for text in args.set or [])
    if args.dataset:
        overrides["data.dataset"] = args.dataset
    if args.data_dir:
        folder = Path(args.data_dir).expanduser()
        if not folder.is_dir():
            raise ConfigError(f"data folder not found: {folder} (see datasets/README.md)",
                              key="--data-dir")
        overrides["data.data_dir"] = str(folder)
    data, path, device_overrides = load_network_data(args.network, overrides, quick=args.quick)
    seed = args.seed if args.seed is not None else data.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"expected a non-negative integer seed, got {seed!r}", key="seed")
    output = Path(args.output) if args.output else None
    if output is not None:
        from neuromem._files import check_output_file
        check_output_file(output)               # a folder, missing or read-only: before the run
    task = get_task(data.get("task", path.stem), file=path)
    result = task(data, path=path, device_overrides=device_overrides, seed=seed,
                  progress=not args.json and sys.stderr.isatty() or args.progress,
                  raster_samples=1 if output is not None else 0)
    report = None
    if output is not None:
        from neuromem._files import atomic_write
        from neuromem.plot.report import plot_report
        from neuromem.store import write_result
        write_result(output, metrics=result.metrics, cards=result.cards, events=result.events,
                     state=result.state, raster=result.raster, seed=seed,
                     command=_command_line(), extra=result.extra or None, model=result.model)
        report = output.with_name(output.stem + "_report.png")
        summary = (result.extra or {}).get("energy_summary")
        with atomic_write(report) as tmp:       # Ctrl-C leaves no half-written figure
            plot_report(result, energy=summary).savefig(tmp, dpi=110, format="png")
    if args.json:
        out = dict(result.metrics)
        out["events"] = result.events
        if output is not None:
            out["result_file"] = str(output)
            out["report_figure"] = str(report)
        _print_json(out)
    else:
        rows = list(result.table)
        if output is not None:
            rows += [("result file", output), ("report figure", report)]
        _print_rows(rows)
    return 0


def cmd_sweep(args) -> int:
    import os
    import shlex

    from neuromem.sweep import SweepInterrupted, run_sweep

    if args.sweep == "status":
        return _sweep_status(args)
    if args.folder is not None:
        raise ConfigError(f"unexpected argument {args.folder!r}: give the sweep's folder with "
                          "-o (or run: neuromem sweep status DIR)", key="sweep")
    if args.repair:
        return _sweep_repair(args)
    if args.serial and (args.scheduler or args.workers is not None):
        raise ConfigError("--serial runs in this process: it takes neither --workers nor "
                          "--scheduler", key="--serial")
    if args.scheduler and args.workers is not None:
        raise ConfigError("--workers sizes the local pool; a Dask cluster's size is set by "
                          "its workers", key="--workers")
    scheduler = args.scheduler
    if not (scheduler or args.serial or args.workers is not None):
        scheduler = os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    engine = "serial" if args.serial else "dask" if scheduler else "pool"
    command = shlex.join(["neuromem", *sys.argv[1:]]) if sys.argv else None
    try:
        report = run_sweep(args.sweep, args.output, engine=engine, workers=args.workers,
                           scheduler=scheduler, resume=args.resume, force=args.force,
                           progress=args.progress or (not args.json and sys.stderr.isatty()),
                           command=command)
    except SweepInterrupted as exc:
        print(f"neuromem: interrupted: {exc.n_saved} of {exc.n_runs} runs are saved in "
              f"{exc.folder}; continue with: neuromem sweep {shlex.quote(str(args.sweep))} "
              f"-o {shlex.quote(str(exc.folder))} --resume", file=sys.stderr)
        return 130
    if args.json:
        _print_json(report.to_dict())
    else:
        engine_text = {"serial": "serial (this process)",
                       "pool": f"process pool ({report.workers} workers)",
                       "dask": f"Dask at {scheduler} ({report.workers} threads)"}[engine]
        rows = [("sweep", report.name), ("engine", engine_text), ("folder", report.folder),
                ("runs", f"{report.n_runs}: {report.n_done} done now, {report.n_skipped} "
                         f"already done, {report.n_failed} failed"),
                ("wall time", f"{report.wall_s:.1f} s"), ("results", report.results)]
        if report.n_truncated or report.n_stray_tmp:
            rows.insert(4, ("cleaned", f"{report.n_truncated} damaged shards redone, "
                                       f"{report.n_stray_tmp} stray .tmp files removed"))
        if report.n_corrupt:
            rows.insert(4, ("corrupt", f"{report.n_corrupt} shards failed their SHA-256 check "
                                       f"(moved to *.h5.corrupt): {', '.join(report.corrupt[:5])}"))
        if report.n_late:
            rows.insert(4, ("late", f"{report.n_late} shards committed by an earlier, killed "
                                    "driver's tasks (kept: results are identical)"))
        _print_rows(rows)
    if report.n_failed:
        print(f"neuromem: {report.n_failed} of {report.n_runs} runs failed (records in "
              f"{report.folder / 'failed'}):", file=sys.stderr)
        for failure in report.failures[:3]:
            print(f"  {failure['run_id']}: {failure['error']}", file=sys.stderr)
        return 1
    return 0


def _sweep_status(args) -> int:
    from neuromem.sweep.ledger import format_status, sweep_status

    folder = args.folder or args.output
    if folder is None:
        raise ConfigError("which sweep? neuromem sweep status DIR", key="status")
    if not (Path(folder) / "manifest.json").is_file():
        raise ConfigError(f"{folder} holds no sweep (no manifest.json)", key="status")
    status = sweep_status(folder)
    if args.json:
        _print_json(status)
    else:
        print(format_status(status))
    return 0


def _sweep_repair(args) -> int:
    from neuromem.sweep import load_sweep
    from neuromem.sweep.ledger import repair_manifest

    sweep = load_sweep(args.sweep)
    folder = Path(args.output) if args.output else Path("sweeps") / sweep.name
    info = repair_manifest(sweep, folder, force=args.force)
    print(f"rebuilt {folder / 'manifest.json'} from {args.sweep}: {info['n_runs']} runs, "
          f"{info['n_shards']} complete shards kept, {info['n_foreign']} shards of other "
          f"runs ignored; continue with --resume")
    return 0


def cmd_inspect(args) -> int:
    from neuromem.store import summarize
    from neuromem.sweep import is_sweep_output, summarize_sweep

    if args.verify:
        from neuromem.sweep.ledger import verify_sweep
        if not (Path(args.file) / "manifest.json").is_file():
            raise ConfigError(f"--verify checks a sweep folder; {args.file} holds no "
                              "manifest.json", key="--verify")
        report = verify_sweep(args.file)
        print(report.format())
        return 0 if report.clean else 1
    print(summarize_sweep(args.file) if is_sweep_output(args.file) else summarize(args.file))
    return 0


def cmd_energy(args) -> int:
    from neuromem.energy import evaluate_result, format_energy_table, load_tech, store_energy
    from neuromem.store import read_result

    tech = load_tech(args.tech)
    result = read_result(args.result)
    evaluation = evaluate_result(result, tech)
    stored = None if args.no_store else store_energy(args.result, evaluation)
    if args.json:
        out = dict(evaluation)
        out["stored"] = stored
        _print_json(out)
    else:
        print(format_energy_table(evaluation, args.result))
        if stored:
            print(f"\nstored  {stored} in {args.result}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neuromem",
        description="Spiking neural networks on ReRAM crossbars.")
    parser.add_argument("--version", action="version", version=f"neuromem {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("devices", help="list the built-in device cards")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_devices)

    dev = sub.add_parser("device", help="show, plot or fit a device card")
    dsub = dev.add_subparsers(dest="device_command", metavar="ACTION")
    p = dsub.add_parser("show", help="all parameters of a card, with units and source")
    p.add_argument("name", help="built-in card name or path to a .toml card")
    p.add_argument("--json", action="store_true", help="print the resolved card as JSON")
    p.set_defaults(func=cmd_device_show)
    p = dsub.add_parser("plot", help="potentiation/depression curves and variability")
    p.add_argument("name", help="built-in card name or path to a .toml card")
    p.add_argument("-o", "--output", required=True, help="figure file (.png, .pdf, .svg)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noisy cycles shown")
    p.add_argument("--dpi", type=int, default=150)
    p.set_defaults(func=cmd_device_plot)
    p = dsub.add_parser("fit", help="fit a pulse-model card to measured curves (CSV)")
    p.add_argument("curves", help="CSV with columns pulse, conductance_S, direction[, cycle]")
    p.add_argument("-o", "--output", required=True, help="card file to write (.toml)")
    p.add_argument("--name", help="card name (default: the output file's stem)")
    p.add_argument("--citation", help="where the measurements come from")
    p.set_defaults(func=cmd_device_fit)
    dev.set_defaults(func=None, _parser=dev)

    p = sub.add_parser("run", help="train and test a network card (e.g. digits_stdp)")
    p.add_argument("network", help="built-in network card name or path to a .toml card")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a card key by dotted path (repeatable), e.g. "
                   "--set device=taox_hfox_wu2018 --set device.g_max_dtod=0.25 "
                   "--set network.n_exc=200")
    p.add_argument("--seed", type=int, help="the run's seed (default: the card's)")
    p.add_argument("-o", "--output", help="write an HDF5 result file")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("--quick", action="store_true", help="the card's quick setting (< 1 min)")
    p.add_argument("--progress", action="store_true", help="progress bars even when not a tty")
    p.add_argument("--dataset", help="dataset card of the data section (e.g. speech_commands, "
                   "folder, synth_kws)")
    p.add_argument("--data-dir", help="folder of a real dataset (see datasets/README.md)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("sweep", help="run a sweep card: many runs into one folder")
    p.add_argument("sweep", help="sweep card (.toml) or built-in sweep name; or 'status' "
                   "(then the sweep's folder): done, failed and pending runs and an ETA")
    p.add_argument("folder", nargs="?", help=argparse.SUPPRESS)
    p.add_argument("-o", "--output", help="the sweep's folder (default: sweeps/NAME)")
    p.add_argument("--workers", type=int, help="local worker processes (default: all cores)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="run on a Dask cluster (default: $DASK_SCHEDULER_ADDRESS if set)")
    p.add_argument("--serial", action="store_true", help="run in this process, one by one")
    p.add_argument("--resume", action="store_true",
                   help="continue the sweep in the folder: keep complete runs, redo the rest")
    p.add_argument("--force", action="store_true",
                   help="with --resume: continue although the sweep or network card changed")
    p.add_argument("--repair", action="store_true",
                   help="rebuild the folder's manifest.json from the card and the shards")
    p.add_argument("--progress", action="store_true", help="progress bar even when not a tty")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("inspect", help="summarise an HDF5 result file or a sweep")
    p.add_argument("file", help="a result file, a sweep's results.h5 or a sweep folder")
    p.add_argument("--verify", action="store_true",
                   help="check every shard of a sweep folder against its SHA-256 (exit 1 if "
                   "one is corrupt or incomplete)")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("energy", help="energy and latency per inference, spiking vs MAC mode, "
                       "of a result file")
    p.add_argument("result", help="a result file (.h5) whose extra holds energy_inputs")
    p.add_argument("--tech", default="isaac_32nm", metavar="NAME|PATH.toml",
                   help="technology preset: built-in name (isaac_32nm, neurram_130nm, "
                   "spikesim_65nm) or a .toml file (default: isaac_32nm)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--no-store", action="store_true",
                   help="do not add the report to the result file (metrics/energy/<tech>)")
    p.set_defaults(func=cmd_energy)

    from neuromem.cli_model import add_model_commands
    add_model_commands(sub)
    _debug_everywhere(parser)
    return parser


def _debug_everywhere(parser: argparse.ArgumentParser) -> None:
    """Accept ``--debug`` after any command too (``neuromem run X --debug``)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                child.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                                   help="show tracebacks on errors")
                _debug_everywhere(child)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        (getattr(args, "_parser", None) or parser).print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except ConfigError as err:
        if args.debug:
            raise
        print(f"neuromem: error: {err}", file=sys.stderr)
        return 2
    except NeuromemError as err:
        if args.debug:
            raise
        print(f"neuromem: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("neuromem: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `neuromem inspect FILE | head`
        sys.stderr.close()
        return 0
    except OSError as err:  # the system refused: disk full, permissions, ...
        if args.debug:
            raise
        where = f"{err.filename}: " if getattr(err, "filename", None) else ""
        print(f"neuromem: error: {where}{err.strerror or err}", file=sys.stderr)
        return 1
    except Exception as err:  # a bug: one line, the traceback with --debug
        if args.debug:
            raise
        print(f"neuromem: internal error: {type(err).__name__}: {err} (run again with --debug "
              "for the traceback, and please report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
