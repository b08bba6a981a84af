"""Figures of networks: receptive fields, confusion matrices, conductances, rasters."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

__all__ = ["plot_receptive_fields", "plot_confusion", "plot_conductance_histograms",
           "plot_raster"]

_US = 1e6


def plot_receptive_fields(conductance_S, image_shape, *, labels=None, n_max: int = 100,
                          ncols: int = 10, title: str | None = None, cmap: str = "viridis"):
    """One small conductance map per neuron (column of the crossbar), in µS.

    ``conductance_S`` is (n_inputs, n_neurons); inputs are reshaped to ``image_shape``.
    ``labels`` (one class per neuron, -1 = unlabelled) are written above each map.
    """
    g = np.asarray(conductance_S, dtype=np.float64)
    n = min(g.shape[1], n_max)
    nrows = max(1, math.ceil(n / ncols))
    fig = Figure(figsize=(1.05 * ncols + 0.9, 1.15 * nrows + 0.6), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    vmin, vmax = g[:, :n].min() * _US, g[:, :n].max() * _US
    im = None
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= n:
            ax.set_axis_off()
            continue
        im = ax.imshow(g[:, k].reshape(image_shape) * _US, cmap=cmap, vmin=vmin, vmax=vmax)
        if labels is not None:
            lab = int(labels[k])
            ax.set_title("–" if lab < 0 else str(lab), fontsize=8, pad=2)
    if im is not None:
        fig.colorbar(im, ax=axes, shrink=0.6, label="conductance (µS)")
    fig.suptitle(title or f"Learned receptive fields ({n} neurons; label above each)")
    return fig


def plot_confusion(confusion, *, class_names=None, ax=None, title: str | None = None):
    """Row-normalised confusion matrix (true class per row). A last column counted as
    'no answer' (a silent network) is shown when present."""
    m = np.asarray(confusion, dtype=np.float64)
    n_cls = m.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(n_cls)]
    cols = names + (["none"] if m.shape[1] == n_cls + 1 else [])
    if ax is None:
        fig = Figure(figsize=(0.55 * len(cols) + 2.2, 0.5 * n_cls + 1.6), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    rows = m.sum(axis=1, keepdims=True)
    frac = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if m[i, j]:
                ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center", fontsize=7,
                        color="white" if frac[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(cols)), cols)
    ax.set_yticks(range(n_cls), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    acc = np.trace(m[:, :n_cls]) / max(m.sum(), 1)
    ax.set_title(title or f"Confusion matrix (accuracy {100 * acc:.1f} %)")
    fig.colorbar(im, ax=ax, shrink=0.8, label="fraction of the true class")
    return fig


def plot_conductance_histograms(before_S, after_S, *, g_min_S=None, g_max_S=None, ax=None,
                                bins: int = 60, title: str | None = None):
    """Conductance distributions before and after learning (µS), with the device window."""
    if ax is None:
        fig = Figure(figsize=(6.4, 3.6), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    b = np.ravel(before_S) * _US
    a = np.ravel(after_S) * _US
    lo = min(b.min(), a.min())
    hi = max(b.max(), a.max())
    edges = np.linspace(lo, hi if hi > lo else lo + 1e-9, bins + 1)
    ax.hist(b, bins=edges, alpha=0.55, label="before learning", color="0.5")
    ax.hist(a, bins=edges, alpha=0.65, label="after learning", color="C2")
    for value, name in ((g_min_S, "g_min"), (g_max_S, "g_max")):
        if value is not None:
            ax.axvline(value * _US, color="k", ls="--", lw=1)
            ax.text(value * _US, ax.get_ylim()[1] * 0.95, f" {name}", fontsize=8, va="top")
    ax.set_yscale("log")
    ax.set_xlabel("conductance (µS)")
    ax.set_ylabel("cells")
    ax.legend()
    ax.set_title(title or "Crossbar conductances")
    return fig


def plot_raster(raster, *, dt_s: float, n_neurons: int | None = None, labels=None, ax=None,
                t_present_s: float | None = None, title: str | None = None, class_names=None):
    """Spike raster of one sample from (step, neuron) pairs; neurons coloured by label.

    With ``class_names`` and ``labels`` grouped by class (neurons of a class adjacent, as the
    readouts of ``kws``), the y axis names each group."""
    r = np.asarray(raster).reshape(-1, 2)
    if ax is None:
        fig = Figure(figsize=(7.0, 3.6), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    t_ms = r[:, 0] * dt_s * 1e3
    colors = None
    if labels is not None and len(r):
        colors = [f"C{int(labels[j]) % 10}" if labels[j] >= 0 else "0.6" for j in r[:, 1]]
    ax.scatter(t_ms, r[:, 1], s=6, c=colors if colors is not None else "k", marker="|")
    if t_present_s is not None:
        ax.axvspan(0, t_present_s * 1e3, color="0.9", zorder=0, label="input on")
        ax.legend(loc="upper right", fontsize=8)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron")
    if n_neurons is not None:
        ax.set_ylim(-0.5, n_neurons - 0.5)
    if class_names is not None and labels is not None:
        labels = np.asarray(labels)
        ticks = [(np.flatnonzero(labels == k).mean(), name)
                 for k, name in enumerate(class_names) if np.any(labels == k)]
        ax.set_yticks([t for t, _ in ticks], [name for _, name in ticks], fontsize=8)
        ax.set_ylabel("output neurons by class")
    ax.set_title(title or f"Spike raster ({len(r)} spikes)")
    return fig
