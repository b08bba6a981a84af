"""What the runtime bridge and the equation export share: checks at the Brian2 boundary.

Brian2 keeps physical quantities at its edge; neuromem keeps SI floats inside. Values given
to the bridge as Brian2 Quantities are checked against the unit they must have and converted
here; a wrong unit raises Brian2's own ``DimensionMismatchError`` naming the object.
"""

from __future__ import annotations

import math

import numpy as np
from brian2.devices.device import RuntimeDevice, get_device
from brian2.units.fundamentalunits import DimensionMismatchError, get_dimensions, get_unit

from neuromem.devices import PulseDevice
from neuromem.exceptions import ConfigError, SimulationError
from neuromem.layers import CrossbarLayer
from neuromem.plasticity import STDPParams

__all__ = ["StandaloneDeviceError", "device_name", "refuse_standalone", "check_layer",
           "check_size", "target_variable", "group_range", "w_max_scale", "quantity_to_si",
           "check_clocks", "default_stdp", "unit_name"]

EXPORT_HINT = ("use neuromem.brian.to_brian2_synapses(layer, source, target, stdp=...) "
               "instead: it builds Brian2 Synapses with the same device-aware STDP, which run "
               "on every Brian2 device")


class StandaloneDeviceError(SimulationError, NotImplementedError):
    """The runtime bridge was asked to run on a Brian2 standalone device.

    Brian2's standalone devices (``cpp_standalone``, Brian2GeNN, Brian2CUDA) generate the
    whole simulation as a C++/CUDA project and silently skip Python network operations; the
    bridge refuses them instead of learning nothing.
    """


def device_name(device=None) -> str:
    """The name Brian2 registered a device under (``'runtime'``, ``'cpp_standalone'``)."""
    from brian2.devices.device import all_devices

    device = get_device() if device is None else device
    for name, dev in all_devices.items():
        if dev is device:
            return name
    return type(device).__name__


def refuse_standalone(owner: str) -> None:
    """Raise :class:`StandaloneDeviceError` unless Brian2 runs in runtime mode."""
    device = get_device()
    if not isinstance(device, RuntimeDevice):
        raise StandaloneDeviceError(
            f"{owner} runs neuromem's crossbar kernel in a Brian2 NetworkOperation, which the "
            f"'{device_name(device)}' device would silently skip (it generates the whole "
            f"simulation as a standalone project); {EXPORT_HINT}.")


def check_layer(layer, owner: str) -> CrossbarLayer:
    """A :class:`CrossbarLayer` of a pulse device, or a clear error."""
    from neuromem.crossbar import Crossbar

    if isinstance(layer, Crossbar):
        raise ConfigError(
            f"{owner} takes a neuromem.layers.CrossbarLayer (the event-driven layer of the "
            "learning engine); a neuromem.crossbar.Crossbar is the MAC-mode read model (tiles, "
            "IR drop, DAC/ADC) and cannot be coupled to Brian2", key="layer")
    if not isinstance(layer, CrossbarLayer):
        raise ConfigError(f"{owner} takes a neuromem.layers.CrossbarLayer, got "
                          f"{type(layer).__name__}", key="layer")
    if not isinstance(layer.device, PulseDevice):
        raise ConfigError(f"{owner}: {layer.device.kind!r} devices (physics models) cannot "
                          "learn through the bridge; use a pulse-kind card", key="device")
    if layer.r_wire_Ohm > 0:
        raise ConfigError(f"{owner} reads cells without wire resistance; this layer has "
                          f"r_wire_Ohm = {layer.r_wire_Ohm:g} (run it with Network, or set 0)",
                          key="r_wire_Ohm")
    return layer


def default_stdp(stdp) -> STDPParams:
    if stdp is None:
        return STDPParams()
    if not isinstance(stdp, STDPParams):
        raise ConfigError(f"stdp must be a neuromem.plasticity.STDPParams, got "
                          f"{type(stdp).__name__}", key="stdp")
    return stdp


def group_range(group) -> tuple[int, int]:
    """(start, stop) of a group's indices in its spikespace and arrays (Subgroups share their
    parent's)."""
    start = int(getattr(group, "start", 0))
    stop = int(getattr(group, "stop", start + len(group)))
    return start, stop


def check_size(group, n: int, what: str, owner: str) -> None:
    if len(group) != n:
        raise ConfigError(f"{owner}: the layer has {n} {what} but group '{group.name}' has "
                          f"{len(group)} neurons", key="n_in" if what == "rows" else "n_out")


def target_variable(group, name: str, owner: str):
    """The Brian2 ``ArrayVariable`` the crossbar writes to (float64, writable, per neuron)."""
    from brian2.core.variables import ArrayVariable

    var = group.variables.get(name) if hasattr(group, "variables") else None
    if var is None:
        known = sorted(k for k, v in group.variables.items()
                       if isinstance(v, ArrayVariable) and not k.startswith("_")
                       and not (v.read_only or v.constant or v.scalar))
        raise ConfigError(f"{owner}: group '{group.name}' has no variable {name!r}; "
                          f"per-neuron variables: {', '.join(known)}", key="target_var")
    if not isinstance(var, ArrayVariable) or var.read_only or var.constant or var.scalar:
        raise ConfigError(f"{owner}: '{group.name}.{name}' must be a writable per-neuron state "
                          "variable (not a subexpression, constant or shared value)",
                          key="target_var")
    if np.dtype(var.dtype) != np.float64:
        raise ConfigError(f"{owner}: '{group.name}.{name}' is {np.dtype(var.dtype)}; the "
                          "crossbar writes float64 (Brian2's default float type)",
                          key="target_var")
    return var


def unit_name(dim) -> str:
    """A readable unit for a Brian2 dimension (``'V'``, ``'S'``, ``'1'``)."""
    return "1" if dim is get_dimensions(1) else str(get_unit(dim))


def quantity_to_si(value, dim, what: str, owner: str) -> float:
    """SI float of ``value``, which must have dimensions ``dim`` (Brian2 Quantity or number).

    Raises
    ------
    brian2.DimensionMismatchError
        When the dimensions differ (a plain number counts as dimensionless).
    """
    got = get_dimensions(value)
    if got is not dim:
        raise DimensionMismatchError(f"{owner}: {what} must be given in {unit_name(dim)}, got "
                                     f"{value!r}", got, dim)
    out = float(np.asarray(value))
    if not math.isfinite(out):
        raise ConfigError(f"{owner}: {what} must be finite, got {value!r}", key=what)
    return out


def w_max_scale(layer: CrossbarLayer, w_max, dim, owner: str) -> float:
    """Factor from the layer's ``w_max`` (SI, in the target's unit) to the one given here.

    ``w_max`` (a Quantity in the target variable's unit) is what one spike through a synapse
    at full conductance adds to the target; None keeps the layer's ``w_max`` as an SI value in
    that unit.
    """
    if w_max is None:
        return 1.0
    si = quantity_to_si(w_max, dim, "w_max", owner)
    if si <= 0:
        raise ConfigError(f"{owner}: w_max must be > 0, got {w_max!r}", key="w_max")
    return si / layer.w_max


def check_clocks(source, target, owner: str):
    """Both groups on one time step; returns the target's clock."""
    if abs(source.clock.dt_ - target.clock.dt_) > 1e-12 * target.clock.dt_:
        raise ConfigError(f"{owner}: groups '{source.name}' (dt = {source.clock.dt}) and "
                          f"'{target.name}' (dt = {target.clock.dt}) run on different time "
                          "steps; the crossbar needs one", key="dt")
    return target.clock

