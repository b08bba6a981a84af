"""Keyword spotting on a long recording: the signal, the score track and the detections."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

__all__ = ["plot_stream"]


def plot_stream(stream: dict, waveform=None, sample_rate_Hz: int | None = None, *,
                truth=None) -> Figure:
    """Waveform, per-keyword window probabilities and detections of
    :meth:`neuromem.model.model.Model.stream` (called with ``scores=True``).

    ``truth``: optional ``(label, onset_s)`` pairs drawn as ticks under the detections.
    """
    fig = Figure(figsize=(12, 5.5), layout="constrained")
    axes = fig.subplots(2, 1, sharex=True, height_ratios=(1, 1.6))
    ax = axes[0]
    if waveform is not None:
        x = np.asarray(waveform, dtype=np.float64)
        t = np.arange(x.shape[0]) / sample_rate_Hz
        ax.plot(t, x, lw=0.3, color="0.4")
    for w in stream["words"]:
        color = "C2" if w["label"] != "none" else "0.7"
        ax.axvspan(w["start_s"], w["stop_s"], color=color, alpha=0.25, lw=0)
    ax.set_ylabel("waveform")
    ax.set_title(f"{stream['duration_s']:.1f} s: {len(stream['words'])} words heard, "
                 f"{len(stream['detections'])} keywords detected (windows of "
                 f"{stream['window_s']:g} s every {stream['hop_s']:g} s)")
    ax = axes[1]
    labels = stream["labels"]
    if "window_probabilities" in stream:
        p = np.asarray(stream["window_probabilities"])
        tw = np.asarray(stream["window_times_s"])
        for k, name in enumerate(labels):
            ax.plot(tw, p[:, k], lw=0.8, alpha=0.8, color=f"C{k % 10}", label=name)
    for d in stream["detections"]:
        k = labels.index(d["label"])
        ax.axvline(d["start_s"], color=f"C{k % 10}", lw=1.2, ls="--")
        ax.annotate(d["label"], (d["start_s"], 1.02), xycoords=("data", "axes fraction"),
                    ha="center", va="bottom", fontsize=8, color=f"C{k % 10}")
    if truth:
        for name, onset in truth:
            axes[0].plot([onset], [0.0], marker="v", color="k", ms=5,
                         transform=axes[0].get_xaxis_transform())
            axes[0].annotate(name, (onset, 0.04), xycoords=("data", "axes fraction"),
                             ha="left", fontsize=7)
    ax.set_ylim(-0.02, 1.0)
    ax.set_ylabel("window probability")
    ax.set_xlabel("time (s)   (dashed: detected onsets with their label; top panel: "
                  "the words heard, green when answered, and the true onsets)")
    ax.legend(ncol=len(labels), fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.28),
              frameon=False)
    return fig
