"""Energy of a result file: read its energy inputs, evaluate both modes, store the report.

The contract (what a task writes) and the stored entry are documented in
:mod:`neuromem.energy`; ``neuromem energy RESULT.h5`` is the face of this module.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

from neuromem._files import atomic_write
from neuromem._version import __version__
from neuromem.energy.model import (MAC_COMPONENTS, SPIKING_COMPONENTS, ConductanceStats,
                                   conductance_stats, device_params, mac_energy,
                                   spiking_energy)
from neuromem.energy.tech import TechPreset, load_tech
from neuromem.exceptions import ConfigError, DataError, StoreError
from neuromem.store import Result, read_result, write_result

__all__ = ["ENERGY_INPUTS_KEY", "energy_inputs", "evaluate_result", "store_energy",
           "format_energy_table"]

#: Key of the energy inputs in a result's ``extra`` (or, second choice, ``metrics``).
ENERGY_INPUTS_KEY = "energy_inputs"
_SPIKING_KEYS = {"events", "n_inferences", "dt_s", "n_in", "active_steps", "conductance",
                 "device", "accuracy"}
_MAC_KEYS = {"counts", "n_inferences", "dac_bits", "adc_bits", "dac_mode", "adc_share", "n_in",
             "n_out", "conductance", "drive_v2_fraction", "input_bits", "output_bits",
             "device", "accuracy", "mac_array", "programming"}


def _result(result_or_path) -> Result:
    return result_or_path if isinstance(result_or_path, Result) else read_result(result_or_path)


def energy_inputs(result_or_path) -> dict:
    """The energy inputs of a result (``extra["energy_inputs"]``, else
    ``metrics["energy_inputs"]``), checked for shape.

    Raises
    ------
    DataError
        No energy inputs, or no ``spiking`` / ``mac`` section, or an unknown key.
    """
    res = _result(result_or_path)
    inputs = (res.extra or {}).get(ENERGY_INPUTS_KEY)
    if inputs is None:
        inputs = res.metrics.get(ENERGY_INPUTS_KEY)
    if inputs is None:
        raise DataError(f"{res.path}: no energy inputs (expected extra['{ENERGY_INPUTS_KEY}'] "
                        "with a 'spiking' and/or 'mac' section; see neuromem.energy)")
    if not isinstance(inputs, Mapping) or not ({"spiking", "mac"} & set(inputs)):
        raise DataError(f"{res.path}: {ENERGY_INPUTS_KEY} has neither a 'spiking' nor a 'mac' "
                        "section")
    for key in inputs:
        if key not in ("spiking", "mac", "accuracy"):
            raise DataError(f"{res.path}: {ENERGY_INPUTS_KEY}.{key}: unknown key; known: "
                            "accuracy, mac, spiking")
    for mode, known in (("spiking", _SPIKING_KEYS), ("mac", _MAC_KEYS)):
        section = inputs.get(mode)
        if section is None:
            continue
        if not isinstance(section, Mapping):
            raise DataError(f"{res.path}: {ENERGY_INPUTS_KEY}.{mode} is not a table")
        for key in section:
            if key not in known:
                raise DataError(f"{res.path}: {ENERGY_INPUTS_KEY}.{mode}.{key}: unknown key; "
                                f"known: {', '.join(sorted(known))}")
    return dict(inputs)


def _device_of(res: Result, section: Mapping, mode: str):
    card = section.get("device", res.cards.get("device"))
    if card is None:
        raise DataError(f"{res.path}: {ENERGY_INPUTS_KEY}.{mode}: no device (give 'device' or "
                        "store the device card in the result)")
    return card


def _state_conductance(res: Result, device) -> tuple[ConductanceStats, str]:
    """Conductance stats of the stored final conductances (``state/g_pos_S``, ``g_neg_S``)."""
    g_pos = res.state.get("g_pos_S")
    if g_pos is None:
        raise DataError(f"{res.path}: no conductance given and no state/g_pos_S to derive "
                        "it from")
    g_neg = res.state.get("g_neg_S")
    g_ref = None if g_neg is not None else device_params(device).g_min_S
    return conductance_stats(g_pos, g_neg, g_ref_S=g_ref), \
        "conductances from state/g_pos_S" + ("/g_neg_S" if g_neg is not None else
                                              " and a reference cell at g_min")


def _accuracy(inputs: Mapping, section: Mapping, mode: str, res: Result):
    acc = section.get("accuracy")
    if acc is None and isinstance(inputs.get("accuracy"), Mapping):
        acc = inputs["accuracy"].get(mode)
    if acc is None and mode == "spiking":
        acc = res.metrics.get("accuracy")
    return None if acc is None else float(acc)


def evaluate_result(result_or_path, tech="isaac_32nm") -> dict:
    """Energy, latency and accuracy of both modes of a result file, with preset ``tech``.

    Returns
    -------
    dict
        ``{"tech", "tech_summary", "spiking": {...}, "mac": {...}, "ratio_spiking_over_mac"}``;
        each mode is :meth:`EnergyReport.to_dict` plus ``accuracy`` (absent modes are
        left out; the ratio is None unless both are present).

    Raises
    ------
    DataError
        Missing or malformed energy inputs (one line naming the file and the key).
    ConfigError
        An invalid technology preset.
    """
    res = _result(result_or_path)
    t = tech if isinstance(tech, TechPreset) else load_tech(tech)
    inputs = energy_inputs(res)
    out: dict = {"tech": t.name, "tech_summary": t.summary}
    for mode in ("spiking", "mac"):
        section = inputs.get(mode)
        if section is None:
            continue
        where = f"{res.path}: {ENERGY_INPUTS_KEY}.{mode}"
        try:
            for key in (("events", "n_inferences") if mode == "spiking" else
                        ("counts", "n_inferences", "dac_bits", "adc_bits", "n_in", "n_out")):
                if key not in section:
                    raise DataError(f"{where}.{key}: missing")
            device = _device_of(res, section, mode)
            notes = []
            if section.get("conductance") is not None:
                stats = ConductanceStats.from_dict(section["conductance"])
            else:
                stats, note = _state_conductance(res, device)
                notes.append(note)
            if mode == "spiking":
                rep = spiking_energy(section["events"], stats, device, t,
                                     n_inferences=section["n_inferences"],
                                     dt_s=section.get("dt_s"), n_in=section.get("n_in"),
                                     active_steps=section.get("active_steps"))
            else:
                rep = mac_energy(section["counts"], t, dac_bits=section["dac_bits"],
                                 adc_bits=section["adc_bits"], n_in=section["n_in"],
                                 n_out=section["n_out"], device=device, conductance=stats,
                                 n_inferences=section["n_inferences"],
                                 dac_mode=section.get("dac_mode", "bit_serial"),
                                 adc_share=section.get("adc_share", 1),
                                 drive_v2_fraction=section.get("drive_v2_fraction"),
                                 input_bits=section.get("input_bits"),
                                 output_bits=section.get("output_bits"))
        except ConfigError as err:
            raise DataError(f"{where}: {err}") from None
        entry = rep.to_dict()
        entry["assumptions"] = list(entry["assumptions"]) + notes
        entry["accuracy"] = _accuracy(inputs, section, mode, res)
        if mode == "mac":
            entry["mac_array"] = str(section.get("mac_array", "fresh"))
            if section.get("programming") is not None:
                entry["programming"] = dict(section["programming"])
        out[mode] = entry
    from neuromem.energy.neurobench import neurobench_from_result
    try:
        out["neurobench"] = neurobench_from_result(res, inputs)
    except DataError as err:          # no stored weights: the energy report stands alone
        out["neurobench"] = {"unavailable": str(err)}
    both = "spiking" in out and "mac" in out and out["mac"]["energy_per_inference_J"] > 0
    out["ratio_spiking_over_mac"] = (out["spiking"]["energy_per_inference_J"]
                                     / out["mac"]["energy_per_inference_J"]) if both else None
    return out


# ------------------------------------------------------------------------------- storing

def store_energy(path, evaluation: Mapping) -> str:
    """Add ``evaluation`` to the result file as ``metrics/energy/<tech>``; returns that key.

    The file is rewritten atomically (:func:`neuromem.store.write_result` to a temporary
    file beside it, then ``os.replace``) with everything else as it was, including the
    original ``/provenance`` (who ran the simulation, not who computed the energy; the
    entry records ``computed_utc`` and ``neuromem_version`` itself). An earlier entry of the
    same preset is replaced; other presets' entries stay.
    """
    import h5py

    path = Path(path)
    res = read_result(path)
    tech = str(evaluation["tech"])
    metrics = dict(res.metrics)
    energy = metrics.get("energy", {})
    if not isinstance(energy, Mapping):
        raise DataError(f"{path}: metrics/energy exists and is not a table; not overwriting it")
    energy = dict(energy)
    entry = {k: v for k, v in evaluation.items() if k not in ("spiking", "mac", "neurobench")}
    for mode in ("spiking", "mac"):
        if mode in evaluation:
            report = dict(evaluation[mode])
            report["assumptions"] = "; ".join(report.get("assumptions") or [])
            entry[mode] = report
    entry["computed_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    entry["neuromem_version"] = __version__
    energy[tech] = entry
    metrics["energy"] = energy
    try:
        with atomic_write(path, tmp_suffix=".energy") as tmp:
            write_result(tmp, metrics=metrics, cards=res.cards, events=res.events,
                         state=res.state, raster=res.raster, snapshots=res.snapshots, seed=None,
                         command="", extra=res.extra)
            with h5py.File(path, "r") as src, h5py.File(tmp, "r+") as dst:
                del dst["provenance"]
                src.copy(src["provenance"], dst, name="provenance")
    except BaseException as exc:
        if isinstance(exc, (StoreError, DataError)) or not isinstance(exc, Exception):
            raise
        raise StoreError(f"cannot store the energy report in {path}: {exc}; the file is "
                         "unchanged") from exc
    return f"metrics/energy/{tech}"


# ------------------------------------------------------------------------------ display

def _si(value, unit: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if value == 0:
        return f"0 {unit}"
    for factor, prefix in ((1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"),
                           (1e-15, "f"), (1e-18, "a")):
        if abs(value) >= factor:
            return f"{value / factor:.4g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def format_energy_table(evaluation: Mapping, path=None) -> str:
    """The table ``neuromem energy`` prints: accuracy, energy per inference by component,
    latency, for each mode present, and the spiking / MAC ratio."""
    modes = [m for m in ("spiking", "mac") if m in evaluation]
    rows: list[tuple[str, ...]] = [("", *modes)]
    rows.append(("accuracy", *(("n/a" if evaluation[m]["accuracy"] is None else
                                f"{100 * evaluation[m]['accuracy']:.2f} %") for m in modes)))
    rows.append(("energy / inference", *(_si(evaluation[m]["energy_per_inference_J"], "J")
                                         for m in modes)))
    order = list(SPIKING_COMPONENTS) + [c for c in MAC_COMPONENTS
                                        if c not in SPIKING_COMPONENTS]
    for comp in order:
        if any(comp in evaluation[m]["breakdown_J"] for m in modes):
            rows.append((f"  {comp}", *(_si(evaluation[m]["breakdown_J"][comp], "J")
                                        if comp in evaluation[m]["breakdown_J"] else "-"
                                        for m in modes)))
    rows.append(("latency / inference", *(_si(evaluation[m]["latency_s"], "s")
                                          for m in modes)))
    nb = evaluation.get("neurobench")
    if nb and "footprint_bytes" in nb:
        from neuromem.energy.neurobench import format_neurobench_rows
        rows += format_neurobench_rows(nb, modes)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    if path is not None:
        lines.append(f"result  {path}")
    lines.append(f"tech    {evaluation['tech']}  ({evaluation.get('tech_summary', '')})")
    lines.append("")
    for r in rows:
        lines.append("  ".join([r[0].ljust(widths[0])] + [c.rjust(w) for c, w in
                                                          zip(r[1:], widths[1:])]).rstrip())
    mac = evaluation.get("mac") or {}
    if "mac_array" in mac:
        lines.append("")
        lines.append("MAC array  " + ("the same cells as the spiking mode" if
                                      mac["mac_array"] == "same" else
                                      "a fresh array (ex-situ transfer)"))
        prog = mac.get("programming")
        if prog:
            lines.append(f"programming  {prog['pulses']:,} write-verify pulses, "
                         f"{_si(prog['write_energy_J'], 'J')} once; "
                         f"{prog['cells_converged']:,} of {prog['cells']:,} cells within "
                         "tolerance")
    ratio = evaluation.get("ratio_spiking_over_mac")
    if ratio is not None:
        lines.append("")
        verdict = "spiking uses less energy" if ratio < 1 else "MAC uses less energy"
        lines.append(f"energy ratio spiking / MAC  {ratio:.3g}  ({verdict})")
    notes = [f"{m}: {a}" for m in modes for a in evaluation[m].get("assumptions", [])]
    if notes:
        lines.append("")
        lines += [f"note  {n}" for n in notes]
    return "\n".join(lines)
