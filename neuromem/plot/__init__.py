"""Figures (matplotlib, no pyplot state): devices and fits, networks and learning.

Every function returns a :class:`matplotlib.figure.Figure` (or draws into the ``ax`` given);
save with ``fig.savefig(path)``.
"""

from neuromem.plot.devices import device_sweeps, plot_device, plot_devices_overview, plot_fit
from neuromem.plot.network import (plot_conductance_histograms, plot_confusion, plot_raster,
                                   plot_receptive_fields)
from neuromem.plot.stream import plot_stream

__all__ = ["plot_device", "plot_devices_overview", "plot_fit", "device_sweeps",
           "plot_receptive_fields", "plot_confusion", "plot_conductance_histograms",
           "plot_raster", "plot_stream"]
