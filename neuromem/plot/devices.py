"""Figures of devices and fits (matplotlib).

Every function builds its figure with :class:`matplotlib.figure.Figure` (no pyplot state, no
``show``), so it works under any backend, in scripts, the CLI and notebooks alike; pass
``ax`` to draw into your own axes, and save with ``fig.savefig(path)``. Conductances are
plotted in µS against the pulse number.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from neuromem.devices.base import DeviceParams
from neuromem.exceptions import ConfigError

__all__ = ["plot_device", "plot_devices_overview", "plot_fit", "device_sweeps"]

LTP_COLOR = "C0"
LTD_COLOR = "C3"
_US = 1e6  # S -> µS
_MAX_AUTO_PULSES = 5000


def _resolve(card_or_params):
    """(params, name, short source) for a DeviceCard, a DeviceParams, a card name or path."""
    if isinstance(card_or_params, DeviceParams):
        return card_or_params, card_or_params.kind + " device", ""
    if isinstance(card_or_params, str) or hasattr(card_or_params, "__fspath__"):
        from neuromem.cards import load_device
        card_or_params = load_device(card_or_params)
    params = getattr(card_or_params, "params", None)
    if not isinstance(params, DeviceParams):
        raise ConfigError(f"expected a device card, card name or device parameters, got "
                          f"{type(card_or_params).__name__}", key="card")
    return params, card_or_params.name, _short_source(card_or_params)


def _short_source(card) -> str:
    """'Wu et al., VLSI 2018' from a summary ending in parentheses, else the citation's start."""
    match = re.search(r"\(([^()]*\d{4}[^()]*)\)\s*$", card.summary or "")
    if match:
        return match.group(1)
    citation = (card.source or {}).get("citation", "")
    return citation if len(citation) <= 60 else citation[:57].rstrip() + "..."


def _nominal(params: DeviceParams, *, keep_ctoc: bool) -> DeviceParams:
    """The card's nominal device: no D2D spread, no stuck cells; C2C noise kept or removed."""
    changes = {}
    for f in dataclasses.fields(params):
        if not f.init:
            continue
        value = getattr(params, f.name)
        if f.name.endswith("_dtod") or f.name in ("stuck_on_rate", "stuck_off_rate"):
            if value:
                changes[f.name] = 0.0
        elif f.name == "ctoc_sigma" and not keep_ctoc and value:
            changes[f.name] = 0.0
    return params.with_updates(**changes) if changes else params


def _has_dtod(params: DeviceParams) -> bool:
    return any(getattr(params, f.name) for f in dataclasses.fields(params)
               if f.name.endswith("_dtod") or f.name in ("stuck_on_rate", "stuck_off_rate"))


def _ctoc(params: DeviceParams) -> float:
    return float(getattr(params, "ctoc_sigma", 0.0) or 0.0)


def device_sweeps(params: DeviceParams, n_cells: int, n_pulses: int,
                  rng: np.random.Generator) -> np.ndarray:
    """Conductances of ``n_cells`` sampled devices through one LTP then one LTD sweep.

    Parameters
    ----------
    params : DeviceParams
        The model; ``make_array`` samples each cell (D2D spread and faults, if any).
    n_cells, n_pulses : int
        Devices and pulses per sweep.
    rng : numpy.random.Generator
        Source of the D2D draws and C2C noise.

    Returns
    -------
    ndarray, shape (2, n_pulses + 1, n_cells), S
        ``[0]`` LTP reads from the initial (OFF) state, ``[1]`` LTD reads from where LTP ended;
        index 1 along the second axis is the read after pulse 1.
    """
    cells = params.make_array((n_cells,), rng)
    reads = np.empty((2, n_pulses + 1, n_cells))
    for d, sign in enumerate((1, -1)):
        reads[d, 0] = cells.g
        for p in range(1, n_pulses + 1):
            cells.apply_pulses(sign, rng=rng)
            reads[d, p] = cells.g
    return reads


def _pulses_per_sweep(params: DeviceParams, rng) -> int:
    """Pmax of a pulse card; otherwise the pulses the nominal device needs to cross 99.5 % of
    its window in either direction (at most 5000)."""
    p_max = getattr(params, "p_max", None)
    if p_max is not None:
        return int(p_max)
    cell = _nominal(params, keep_ctoc=False).make_array((1,), rng)
    lo, hi = float(cell.g_min_cell[0]), float(cell.g_max_cell[0])
    counts = []
    for sign, done in ((1, lambda g: g >= lo + 0.995 * (hi - lo)),
                       (-1, lambda g: g <= lo + 0.005 * (hi - lo))):
        n = 0
        while n < _MAX_AUTO_PULSES and not done(float(cell.g[0])):
            cell.apply_pulses(sign, rng=rng)
            n += 1
        counts.append(n)
    return max(max(counts), 2)


def _nominal_curves(params: DeviceParams, n_pulses: int, rng):
    """Noise-free LTP and LTD sweeps (pulse numbers, conductances in S): the closed form when
    the model has one, else a simulated sweep of the nominal device without C2C noise."""
    if hasattr(params, "curve") and getattr(params, "p_max", None) == n_pulses:
        return [params.curve(d) for d in ("ltp", "ltd")]
    reads = device_sweeps(_nominal(params, keep_ctoc=False), 1, n_pulses, rng)[..., 0]
    p = np.arange(n_pulses + 1, dtype=np.float64)
    return [(p, reads[0]), (p, reads[1])]


def _two_axes(ax, figsize):
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        return fig, fig.subplots(1, 2)
    axes = list(ax) if isinstance(ax, Sequence) or isinstance(ax, np.ndarray) else [ax]
    if len(axes) != 2:
        raise ConfigError(f"plot_device draws two panels: pass two Axes, got {len(axes)}",
                          key="ax")
    return axes[0].figure, axes


def plot_device(card_or_params, rng: np.random.Generator, ax=None, *, n_devices: int = 200,
                n_cycles: int = 3, n_pulses: int | None = None, title: str | None = None,
                yscale: str = "linear", figsize=(11.0, 5.2)) -> Figure:
    """Pulse response and variability of a device card.

    Parameters
    ----------
    card_or_params : DeviceCard, DeviceParams or str
        A loaded card, a parameter object, or a built-in card name / path to a TOML card.
    rng : numpy.random.Generator
        Source of the sampled devices and the C2C noise shown.
    ax : pair of matplotlib Axes, optional
        Axes for the two panels (default: a new figure).
    n_devices : int
        Devices sampled for the variability panel.
    n_cycles : int
        Noisy C2C cycles of the nominal device drawn over the noise-free curves.
    n_pulses : int, optional
        Pulses per sweep (default: Pmax of a pulse card, else the pulses the nominal device
        needs to cross its window).
    title : str, optional
        Figure title (default: the card's name and short source).
    yscale : str
        ``'linear'`` or ``'log'`` conductance axes (log suits large on/off ratios).
    figsize : tuple of float, inch

    Returns
    -------
    matplotlib.figure.Figure
        Left: noise-free LTP/LTD curves (lines, labelled "LTP (closed form)" for pulse cards)
        with noisy cycles as faint markers. Right: 5-95 % and 25-75 % bands and the median of
        the conductance after each pulse over ``n_devices`` sampled devices (D2D + C2C; the
        title says when the card has only one kind of variability).
    """
    params, name, source = _resolve(card_or_params)
    n = _pulses_per_sweep(params, rng) if n_pulses is None else int(n_pulses)
    fig, (ax1, ax2) = _two_axes(ax, figsize)
    sigma = _ctoc(params)
    closed = hasattr(params, "curve") and getattr(params, "p_max", None) == n
    label = "closed form" if closed else "noise-free"
    curves = _nominal_curves(params, n, rng)
    every = max(1, n // 100)  # at most ~100 markers per sweep
    noisy = device_sweeps(_nominal(params, keep_ctoc=True), n_cycles, n, rng) \
        if sigma > 0 and n_cycles > 0 else None
    for d, (which, color) in enumerate((("LTP", LTP_COLOR), ("LTD", LTD_COLOR))):
        p, g = curves[d]
        ax1.plot(p, g * _US, color=color, lw=2, label=f"{which} ({label})", zorder=3)
        if noisy is not None:
            for c in range(n_cycles):
                ax1.plot(np.arange(n + 1)[::every], noisy[d, ::every, c] * _US, ls="none",
                         marker="o", ms=3, color=color, alpha=0.3,
                         label=f"{which}, {n_cycles} noisy cycles" if c == 0 else None)
    ax1.set_xlabel("pulse number in sweep")
    ax1.set_ylabel("conductance (µS)")
    ax1.set_title("Pulse response of the nominal device\n" + (
        f"C2C σ = {100 * sigma:.3g} % " + ("of the window " if params.kind == "pulse" else
                                           "of the state change ") + "per pulse"
        if sigma > 0 else "no C2C noise"), fontsize="medium")
    ax1.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    ax1.grid(alpha=0.3)

    dtod = _has_dtod(params)
    reads = device_sweeps(params, n_devices, n, rng) * _US
    x = np.arange(n + 1)
    for d, (which, color) in enumerate((("LTP", LTP_COLOR), ("LTD", LTD_COLOR))):
        q05, q25, q50, q75, q95 = np.percentile(reads[d], [5, 25, 50, 75, 95], axis=1)
        ax2.fill_between(x, q05, q95, color=color, alpha=0.18, lw=0, label=f"{which} 5-95 %")
        ax2.fill_between(x, q25, q75, color=color, alpha=0.35, lw=0, label=f"{which} 25-75 %")
        ax2.plot(x, q50, color=color, lw=1.5, label=f"{which} median")
        ax2.plot(curves[d][0], curves[d][1] * _US, color="k", lw=0.8, ls="--",
                 label="nominal device" if d == 1 else None)
    if dtod and sigma > 0:
        kind = "D2D + C2C"
    elif sigma > 0:
        kind = "C2C only (card has no D2D spread)"
    elif dtod:
        kind = "D2D only (card has no C2C noise)"
    else:
        kind = "none (card has neither D2D spread nor C2C noise)"
    ax2.set_title(f"Variability over {n_devices} sampled devices\n{kind}", fontsize="medium")
    ax2.set_xlabel("pulse number in sweep")
    ax2.set_ylabel("conductance (µS)")
    handles = dict(zip(*reversed(ax2.get_legend_handles_labels())))
    order = [f"{w} {s}" for s in ("5-95 %", "25-75 %", "median") for w in ("LTP", "LTD")]
    order.append("nominal device")  # columns: the bands, the medians, the nominal curve
    ax2.legend([handles[k] for k in order], order, fontsize="small", loc="upper center",
               bbox_to_anchor=(0.5, -0.16), ncol=4)
    ax2.grid(alpha=0.3)
    for a in (ax1, ax2):
        a.set_yscale(yscale)
    if title is None:
        title = f"{name} — {source}" if source else name
    fig.suptitle(title)
    return fig


def _overview_items(cards):
    if cards is None:
        from neuromem.cards import list_cards
        cards = list(list_cards("synapse_models"))
    items = cards.items() if isinstance(cards, Mapping) else ((None, c) for c in cards)
    out = []
    for key, card in items:
        params, name, source = _resolve(card)
        out.append((str(key) if key is not None else name, params, source))
    return out


def _card_caption(params) -> str:
    bits = []
    if getattr(params, "levels", None):
        bits.append(f"{params.levels} levels")
    a_ltp, a_ltd = getattr(params, "a_ltp_norm", None), getattr(params, "a_ltd_norm", None)
    if a_ltp is not None:
        bits.append("A/Pmax " + "/".join("lin" if math.isinf(a) else f"{a:.2g}"
                                         for a in (a_ltp, a_ltd)))
    if _ctoc(params):
        bits.append(f"C2C {100 * _ctoc(params):.2g} %")
    return ", ".join(bits) or params.kind


def plot_devices_overview(cards=None, ax=None, *, rng: np.random.Generator | None = None,
                          ncols: int = 4) -> Figure:
    """Normalised noise-free LTP/LTD curves of several cards, for comparing their shapes.

    Parameters
    ----------
    cards : iterable or mapping, optional
        Card names, paths, DeviceCards or DeviceParams (a mapping gives each a label);
        default: every built-in card.
    ax : matplotlib Axes, optional
        One Axes: every card is drawn into it (LTP solid, LTD dashed, one colour per card).
        Default: a new figure with one small panel per card.
    rng : numpy.random.Generator, optional
        Only used by models without a closed form (default: seeded 0; curves are noise-free).
    ncols : int
        Panels per row of the small multiples.

    Returns
    -------
    matplotlib.figure.Figure
        x = pulse number / Pmax, y = (G - Gmin) / (Gmax - Gmin) of the nominal device.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    items = _overview_items(cards)
    if not items:
        raise ConfigError("no cards to plot", key="cards")
    if ax is not None:
        fig, axes = ax.figure, [ax] * len(items)
    else:
        nrows = math.ceil(len(items) / ncols)
        ncol = min(ncols, len(items))
        fig = Figure(figsize=(3.1 * ncol, 2.7 * nrows + 0.4), layout="constrained")
        grid = np.atleast_1d(fig.subplots(nrows, ncol, sharex=True, sharey=True, squeeze=False))
        axes = list(grid.ravel())
        for extra in axes[len(items):]:
            extra.set_visible(False)
    for i, (label, params, _) in enumerate(items):
        n = _pulses_per_sweep(params, rng)
        curves = _nominal_curves(params, n, rng)
        lo, hi = curves[0][1][0], curves[0][1][-1]
        span = hi - lo if hi > lo else 1.0
        a = axes[i]
        single = ax is not None
        for d, (which, color, ls) in enumerate((("LTP", LTP_COLOR, "-"), ("LTD", LTD_COLOR, "--"))):
            p, g = curves[d]
            kw = dict(color=f"C{i % 10}", ls=ls) if single else dict(color=color, ls="-")
            a.plot(p / n, (g - lo) / span, lw=1.6,
                   label=(f"{label}" if d == 0 else None) if single else which, **kw)
        if not single:
            a.set_title(f"{label}\n{_card_caption(params)}", fontsize="small")
            a.grid(alpha=0.3)
            if i == 0:
                a.legend(fontsize="x-small", loc="center right")
    if ax is not None:
        ax.set_xlabel("pulse number / Pmax")
        ax.set_ylabel("(G - Gmin) / (Gmax - Gmin)")
        ax.set_title("Normalised pulse response (LTP solid, LTD dashed)", fontsize="medium")
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0),
                  borderaxespad=0.0)
        ax.grid(alpha=0.3)
    else:
        fig.supxlabel("pulse number / Pmax")
        fig.supylabel("(G - Gmin) / (Gmax - Gmin)")
        fig.suptitle("Device cards: normalised noise-free pulse response")
    return fig


def plot_fit(fit_result, pulse, conductance, direction, ax=None, *, cycle=None,
             title: str | None = None, figsize=(8.4, 4.8)) -> Figure:
    """Measured curves against the fitted pulse model.

    Parameters
    ----------
    fit_result : FitResult
        From :func:`neuromem.fit.fit_pulse_device`.
    pulse, conductance, direction : array_like
        The data the fit used (pulse number, conductance in S, 'ltp'/'ltd').
    ax : matplotlib Axes, optional
    cycle : array_like, optional
        Unused for drawing; accepted so a :class:`CurveData`'s fields can be passed as they are.
    title : str, optional
    figsize : tuple of float, inch

    Returns
    -------
    matplotlib.figure.Figure
        Every read as a faint dot, the mean read per pulse as open circles, the fitted
        closed-form curves as lines (labelled "LTP fit" / "LTD fit") and the fitted values.
    """
    del cycle
    pulse = np.asarray(pulse)
    g = np.asarray(conductance, dtype=np.float64)
    direction = np.char.lower(np.asarray(direction).astype(str))
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    for which, color in (("ltp", LTP_COLOR), ("ltd", LTD_COLOR)):
        sel = direction == which
        if not np.any(sel):
            continue
        ax.plot(pulse[sel], g[sel] * _US, ls="none", marker=".", ms=2.5, color=color,
                alpha=0.2 if sel.sum() > 500 else 0.5, label=f"{which.upper()} reads")
        ps = np.unique(pulse[sel])
        means = np.array([g[sel][pulse[sel] == p].mean() for p in ps])
        if ps.size < sel.sum():
            every = max(1, ps.size // 60)
            ax.plot(ps[::every], means[::every] * _US, ls="none", marker="o", mfc="none",
                    ms=4, color=color, label=f"{which.upper()} mean per pulse")
        p_fit, g_fit = fit_result.curve(which)
        ax.plot(p_fit, g_fit * _US, color=color, lw=2, label=f"{which.upper()} fit")
    ax.set_xlabel("pulse number in sweep")
    ax.set_ylabel("conductance (µS)")
    ax.set_title(title or f"Pulse-model fit ({fit_result.n_sweeps} sweeps, "
                          f"{fit_result.n_points} reads)", fontsize="medium")
    ax.legend(title=_fit_text(fit_result), fontsize="small", title_fontsize="small",
              loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    ax.grid(alpha=0.3)
    return fig


def _fit_text(fit_result) -> str:
    """The fitted values with their standard errors, one per line."""
    u = fit_result.uncertainties

    def value(key, scale=1.0, unit=""):
        v, e = getattr(fit_result, key) * scale, u.get(key, math.nan) * scale
        if key.startswith("a_") and getattr(fit_result, f"linear_{key[2:]}"):
            return "linear"
        return f"{v:.4g} ± {e:.2g}{unit}" if math.isfinite(e) else f"{v:.4g}{unit}"

    return "\n".join([f"Gmin {value('g_min_S', _US, ' µS')}",
                      f"Gmax {value('g_max_S', _US, ' µS')}",
                      f"A/Pmax LTP {value('a_ltp')}",
                      f"A/Pmax LTD {value('a_ltd')}",
                      f"C2C σ {value('ctoc_sigma', 100, ' %')}",
                      f"Pmax {fit_result.p_max}"])
