"""The one-page report of a run: spike raster, confusion matrix, energy breakdown."""

from __future__ import annotations

from matplotlib.figure import Figure

from neuromem.plot.energy import plot_energy_breakdown
from neuromem.plot.network import plot_confusion, plot_raster

__all__ = ["plot_report"]


def plot_report(result, *, energy=None, title: str | None = None) -> Figure:
    """A one-page figure of a task result (``neuromem.tasks.TaskResult``).

    Panels: the spike raster of the first test sample (when the run recorded one), the
    confusion matrix of the test split, and the energy per inference of the spiking and MAC
    modes by component (``energy``: the ``energy_summary`` dict with ``spiking`` and ``mac``
    reports, when available).
    """
    m = result.metrics
    fig = Figure(figsize=(15, 4.6), layout="constrained")
    axes = fig.subplots(1, 3, width_ratios=[1.2, 1.0, 1.0])
    resolved = result.cards.get("resolved", {})
    dt = (resolved.get("features") or resolved.get("network") or {}).get("dt_s", 1e-3)
    names = result.extra.get("label_names") if result.extra else None
    if result.raster:
        n_out = len(result.state.get("neuron_labels", [])) or None
        label = int(result.state["test_labels"][0])
        shown = names[label] if names is not None else label
        plot_raster(result.raster[0], dt_s=dt, n_neurons=n_out, ax=axes[0],
                    labels=result.state.get("neuron_labels"),
                    class_names=names if result.state.get("neuron_labels_grouped") else None,
                    title=f"test sample 1 (label {shown!r}): output spikes")
    else:
        axes[0].set_axis_off()
        axes[0].text(0.5, 0.5, "no raster recorded", ha="center", va="center")
    if "confusion" in result.state:
        plot_confusion(result.state["confusion"], class_names=names, ax=axes[1])
    else:
        axes[1].set_axis_off()
        axes[1].text(0.5, 0.5, "no confusion matrix (the task has no classes)",
                     ha="center", va="center")
    if energy is not None:
        plot_energy_breakdown({"spiking": energy["spiking"], "mac": energy["mac"]}, ax=axes[2],
                              title=f"energy per inference ({energy['tech']})")
    else:
        axes[2].set_axis_off()
    acc = m.get("accuracy")
    extra = (f", MAC {100 * m['mac_accuracy']:.1f} %" if m.get("mac_accuracy") is not None
             else "")
    scored = f": accuracy {100 * acc:.1f} %{extra}" if acc is not None else ""
    fig.suptitle(title or f"{result.name} on {m.get('device')}{scored}")
    return fig
