"""Figures of the energy model: breakdown per mode, accuracy against energy, break-even.

Inputs are what :mod:`neuromem.energy` produces: :class:`~neuromem.energy.EnergyReport`
objects, their ``to_dict()`` form, or the dict of
:func:`~neuromem.energy.evaluate_result` (``{"spiking": ..., "mac": ..., "tech": ...}``).
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

__all__ = ["plot_energy_breakdown", "plot_accuracy_vs_energy", "plot_breakeven"]

_PREFIXES = ((1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f"))


def _as_dict(report) -> dict:
    return report.to_dict() if hasattr(report, "to_dict") else dict(report)


def _bars(reports) -> list[tuple[str, dict]]:
    """(label, report dict) pairs from an evaluation, a mapping or a sequence."""
    if isinstance(reports, Mapping) and ("spiking" in reports or "mac" in reports) \
            and "breakdown_J" not in reports:
        tech = reports.get("tech", "")
        return [(f"{m}\n{tech}" if tech else m, _as_dict(reports[m]))
                for m in ("spiking", "mac") if m in reports]
    if isinstance(reports, Mapping):
        return [(str(k), _as_dict(v)) for k, v in reports.items()]
    out = []
    for r in reports:
        d = _as_dict(r)
        out.append((f"{d.get('mode', '')}\n{d.get('tech', '')}".strip(), d))
    return out


def _unit(peak: float) -> tuple[float, str]:
    for factor, prefix in _PREFIXES:
        if peak >= factor:
            return factor, prefix
    return _PREFIXES[-1]


def plot_energy_breakdown(reports, *, ax=None, title: str | None = None):
    """Stacked bars: energy per inference of each report, split by component.

    ``reports``: an :func:`~neuromem.energy.evaluate_result` dict (spiking and MAC side by
    side), a mapping label -> report, or a sequence of reports. Components are stacked in a
    fixed order with one colour each across bars; the total is written above each bar.
    """
    bars = _bars(reports)
    if ax is None:
        fig = Figure(figsize=(1.6 * len(bars) + 3.2, 4.2), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    comps: list[str] = []
    for _, d in bars:
        comps += [c for c in d["breakdown_J"] if c not in comps]
    totals = [sum(d["breakdown_J"].values()) for _, d in bars]
    factor, prefix = _unit(max(totals) if totals and max(totals) > 0 else 1.0)
    cmap = matplotlib.colormaps["tab20"]
    bottom = np.zeros(len(bars))
    x = np.arange(len(bars))
    for k, comp in enumerate(comps):
        vals = np.array([d["breakdown_J"].get(comp, 0.0) for _, d in bars]) / factor
        if not np.any(vals > 0):
            continue
        ax.bar(x, vals, 0.6, bottom=bottom, label=comp, color=cmap(k % 20))
        bottom += vals
    for xi, tot in zip(x, totals):
        ax.annotate(f"{tot / factor:.3g}", (xi, tot / factor), ha="center", va="bottom",
                    fontsize=8, xytext=(0, 2), textcoords="offset points")
    if totals:
        ax.set_ylim(0, 1.1 * max(totals) / factor or 1.0)
    ax.set_xticks(x, [label.replace(" ", "\n") for label, _ in bars], fontsize=8)
    ax.set_ylabel(f"energy per inference ({prefix}J)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title(title or "Energy per inference by component")
    return fig


def plot_accuracy_vs_energy(points, *, ax=None, title: str | None = None):
    """Accuracy against energy per inference (log x), one marker per run and mode.

    ``points``: evaluations (:func:`~neuromem.energy.evaluate_result` dicts; a label may be
    added as ``"label"``) or dicts ``{"label", "mode", "accuracy",
    "energy_per_inference_J"}``. Spiking points are circles, MAC points squares; the two
    modes of one evaluation are joined by a line.
    """
    if ax is None:
        fig = Figure(figsize=(5.6, 4.2), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    markers = {"spiking": "o", "mac": "s"}
    for k, p in enumerate(points):
        color = f"C{k % 10}"
        if "spiking" in p or "mac" in p:
            pts = [(m, p[m]) for m in ("spiking", "mac") if m in p
                   and p[m].get("accuracy") is not None]
            label = p.get("label", p.get("tech", ""))
        else:
            pts = [(p.get("mode", "spiking"), p)]
            label = p.get("label", "")
        xs = [d["energy_per_inference_J"] for _, d in pts]
        ys = [100 * d["accuracy"] for _, d in pts]
        if len(pts) > 1:
            ax.plot(xs, ys, "-", color=color, lw=0.8, alpha=0.6)
        for (mode, d), xv, yv in zip(pts, xs, ys):
            ax.plot([xv], [yv], markers.get(mode, "o"), color=color, ms=7,
                    label=f"{label} {mode}".strip())
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("energy per inference (J)")
    ax.set_ylabel("accuracy (%)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    ax.set_title(title or "Accuracy against energy")
    return fig


def plot_breakeven(curves, *, ax=None, reference=None, title: str | None = None,
                   xlabel: str = "spikes per synapse per inference"):
    """Energy ratio spiking / MAC against spiking activity (log-log), with ratio = 1.

    Parameters
    ----------
    curves : sequence of dict
        ``{"label", "x", "ratio"}`` (optionally ``"breakeven_x"``: marked with a dot on the
        ratio-1 line; ``"style"``: a matplotlib format string).
    reference : (float, float, str), optional
        A published break-even range ``(low, high, label)`` shaded on the x axis.
    """
    if ax is None:
        fig = Figure(figsize=(6.4, 4.4), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    if reference is not None:
        lo, hi, text = reference
        ax.axvspan(lo, hi, color="0.85", zorder=0, label=text)
    for k, c in enumerate(curves):
        x = np.asarray(c["x"], dtype=np.float64)
        r = np.asarray(c["ratio"], dtype=np.float64)
        line, = ax.plot(x, r, c.get("style", "-"), color=c.get("color", f"C{k % 10}"),
                        lw=1.4, label=c.get("label"))
        be = c.get("breakeven_x")
        if be is not None and np.isfinite(be):
            ax.plot([be], [1.0], "o", color=line.get_color(), ms=5)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("energy ratio  E_spiking / E_MAC")
    ax.text(0.01, 0.02, "below 1: spiking uses less energy", transform=ax.transAxes,
            fontsize=8, color="0.3")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    ax.set_title(title or "Break-even of spiking and MAC modes")
    return fig
