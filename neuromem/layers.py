"""Crossbar-mapped layers and neuron populations.

A :class:`CrossbarLayer` keeps its weights as device conductances: one device per synapse
read against a reference at g_min (``mapping = "single"``, weights in [0, 1]) or a
differential pair G+ - G- (``"differential"``, weights in [-1, 1], programmed symmetrically
about mid-window, G± = G_mid ± w (g_max - g_min) / 2, so that push-pull updates can move
both devices). The normalised weight is
``w = (G+ - G_ref) / (g_max - g_min)``; an input spike on row i adds ``(G_ij - G_ref) v_read``
amperes to column j, which the neuron integrates with gain ``w_max / ((g_max - g_min) v_read)``
(per column, so a column normalisation can adjust it), i.e. a synapse at g_max adds ``w_max``
to the neuron's excitatory input.
"""

from __future__ import annotations

import numpy as np

from neuromem.devices import DeviceParams, PulseDevice
from neuromem.exceptions import ConfigError
from neuromem.neurons import LIFParams, PopulationState

__all__ = ["CrossbarLayer", "Population", "MAPPINGS"]

MAPPINGS = ("single", "differential")


#: Peak bytes per cell while a layer is built (conductances, variability, initial weights;
#: measured with tracemalloc: 32 single, 40 differential).
_BYTES_PER_CELL = {"single": 32, "differential": 40}


def _available_memory() -> int | None:
    """Bytes of memory available now (Linux ``MemAvailable``; else physical pages), or None."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import os
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _check_memory(n_in: int, n_out: int, mapping: str) -> None:
    """Refuse a crossbar whose arrays would not fit in the memory available, with the estimate."""
    need = n_in * n_out * _BYTES_PER_CELL.get(mapping, 40)
    have = _available_memory()
    if have is not None and need > have:
        raise ConfigError(f"a {n_in:,} x {n_out:,} {mapping} crossbar needs about "
                          f"{need / 2**30:.1f} GiB ({n_in * n_out:,} cells x "
                          f"{_BYTES_PER_CELL.get(mapping, 40)} bytes), more than the "
                          f"{have / 2**30:.1f} GiB of memory available")


class CrossbarLayer:
    """An n_in x n_out crossbar of memristive devices between inputs and a population.

    Parameters
    ----------
    n_in, n_out : int
        Rows (inputs) and columns (neurons).
    device : DeviceParams
        The device model (one device per cell; two per synapse when differential).
    rng : numpy.random.Generator
        Draws device-to-device variation, faults and the initial weights.
    mapping : {"single", "differential"}
    w_max : float
        Neuron input added by one spike through a synapse at full conductance (units of the
        population's excitatory input: leak conductances for conductance-based neurons).
    init : (float, float)
        Initial normalised weights drawn uniformly from this range.
    """

    def __init__(self, n_in: int, n_out: int, device: DeviceParams, rng: np.random.Generator,
                 *, mapping: str = "single", w_max: float = 1.0, init=(0.0, 0.3)):
        if mapping not in MAPPINGS:
            raise ConfigError(f"expected one of {MAPPINGS}, got {mapping!r}", key="mapping")
        if n_in < 1 or n_out < 1:
            raise ConfigError("a crossbar needs at least one row and one column", key="n_in")
        if not isinstance(device, PulseDevice):
            raise ConfigError(f"learning in the engine needs a pulse-kind device; "
                              f"{device.kind!r} cards can be programmed and read through "
                              "neuromem.crossbar", key="device")
        _check_memory(int(n_in), int(n_out), mapping)
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.device = device
        self.mapping = mapping
        self.w_max = float(w_max)
        self.pos = device.make_array((self.n_in, self.n_out), rng)
        self.neg = device.make_array((self.n_in, self.n_out), rng) if self.differential \
            else None
        lo, hi = init
        if not (-1.0 <= lo <= hi <= 1.0) or (not self.differential and lo < 0):
            raise ConfigError(f"initial weight range {init} outside the mapping's range",
                              key="init")
        self.set_weights(rng.uniform(lo, hi, size=(self.n_in, self.n_out)))
        self.gain = np.full(self.n_out, self.base_gain)
        #: tiling and read model of the cells (``CrossbarConfig``; None: its defaults with this
        #: layer's mapping, 128 x 128 tiles, the card's wire resistance)
        self.read_config = None

    @property
    def differential(self) -> bool:
        return self.mapping == "differential"

    @property
    def span_S(self) -> float:
        return self.device.g_max_S - self.device.g_min_S

    @property
    def g_ref_S(self) -> float:
        return self.device.g_min_S

    @property
    def base_gain(self) -> float:
        """Neuron input per ampere of column current (1/A)."""
        return self.w_max / (self.span_S * self.device.v_read_V)

    def set_weights(self, w) -> None:
        """Program normalised weights (bounded by each device's window)."""
        w = np.asarray(w, dtype=np.float64)
        if self.differential:
            # symmetric about mid-window, so push-pull updates can move both devices
            mid = self.g_ref_S + 0.5 * self.span_S
            self.pos.program(mid + 0.5 * w * self.span_S)
            self.neg.program(mid - 0.5 * w * self.span_S)
        else:
            self.pos.program(self.g_ref_S + w * self.span_S)

    def weights(self) -> np.ndarray:
        """Normalised weights from the noise-free conductances, (n_in, n_out)."""
        g = self.pos.conductance_S - (self.neg.conductance_S if self.differential
                                      else self.g_ref_S)
        return g / self.span_S

    def effective_weights(self) -> np.ndarray:
        """What a spike delivers: weights times the per-column gain, in units of w_max."""
        return self.weights() * (self.gain / self.base_gain)

    def normalize_columns(self, target_mean: float) -> None:
        """Set each column's gain so its mean effective weight is ``target_mean`` (x w_max).

        A per-neuron programmable gain in the read-out periphery, the device-friendly form of
        Diehl & Cook's weight normalisation: conductances are not rewritten.
        """
        mean_w = self.weights().mean(axis=0)
        safe = np.where(mean_w > 1e-12, mean_w, 1e-12)
        self.gain[:] = self.base_gain * target_mean / safe

    def apply_weight_changes(self, dw, rng: np.random.Generator) -> dict:
        """Program a matrix of normalised weight changes (n_in, n_out) as device pulses.

        Each change becomes ``dw * Pmax`` pulses (stochastically rounded for devices with
        discrete levels; split push-pull over a differential pair); the device model decides
        the conductance change. Returns the event counts (pulses, cells written).
        """
        from neuromem.kernels import engine as _k

        dw = np.ascontiguousarray(np.asarray(dw, dtype=np.float64).reshape(-1))
        if dw.shape[0] != self.n_in * self.n_out:
            raise ConfigError(f"expected {self.n_in} x {self.n_out} weight changes, got "
                              f"{dw.shape[0]} values", key="dw")
        if not np.all(np.isfinite(dw)):
            raise ConfigError("weight changes must be finite", key="dw")
        args = self.kernel_args()
        events = np.zeros(_k.N_EVENTS, dtype=np.int64)
        (g_pos, g_neg, differential, _ref, _span, _gain, _v, _read_noise_sigma,
         dmin_p, dmax_p, altp_p, altd_p, fault_p, dmin_n, dmax_n, altp_n, altd_n, fault_n,
         p_max, continuous, ctoc_sigma) = args
        _k.apply_weight_matrix(dw, g_pos, g_neg, differential, p_max, continuous, ctoc_sigma,
                               dmin_p, dmax_p, altp_p, altd_p, fault_p, dmin_n, dmax_n,
                               altp_n, altd_n, fault_n, events, rng)
        return {"ltp_pulses": int(events[_k.EV_LTP_PULSES]),
                "ltd_pulses": int(events[_k.EV_LTD_PULSES]),
                "cells_written": int(events[_k.EV_CELLS_WRITTEN])}

    def crossbar(self, config=None):
        """The layer's own cells as a :class:`~neuromem.crossbar.Crossbar` (shared, not copied).

        What MAC mode reads: the very conductances, D2D parameters, faults and drift the
        spiking engine uses, through ``config``'s tiling and periphery (default
        ``CrossbarConfig`` with this layer's mapping). ``Crossbar.weights()`` of it equals
        :meth:`weights` (normalised, before the per-column gain): the differential pair's
        ``G+ - G-``, or ``G - g_min`` against the layer's ideal reference. The per-column
        gain (relative to :attr:`base_gain`) becomes the crossbar's ``column_gain``, an analog
        gain of each column's sense amplifier ahead of the ADC, so ``mac`` gives
        ``x @ effective_weights()``.
        """
        from neuromem.crossbar import Crossbar, CrossbarConfig

        mapping = "differential" if self.differential else "offset"
        config = config or self.read_config
        if config is None:
            config = CrossbarConfig(mapping=mapping, offset_reference="min", w_max=1.0)
        if config.mapping != mapping or (mapping == "offset"
                                         and config.offset_reference != "min"):
            raise ConfigError(f"a {self.mapping} layer is read as mapping = {mapping!r}"
                              f"{' with offset_reference = min' if mapping == 'offset' else ''}"
                              f", not {config.mapping!r}", key="mapping")
        if self.differential:
            xbar = Crossbar.of_cells((self.pos, self.neg), self.device, config, w_max=1.0)
        else:
            xbar = Crossbar.of_cells((self.pos,), self.device, config, w_max=1.0,
                                     reference_S=self.g_ref_S)
        xbar.column_gain = self.gain / self.base_gain
        return xbar

    def memory_bytes(self) -> int:
        """Bytes of per-synapse state: conductances (+ per-cell D2D and fault arrays)."""
        arrays = [self.pos] + ([self.neg] if self.neg is not None else [])
        total = 0
        for a in arrays:
            total += a.g.nbytes + a.fault.nbytes + a.g_min.nbytes + a.g_max.nbytes \
                + a.a_ltp.nbytes + a.a_ltd.nbytes
        return total

    @property
    def r_wire_Ohm(self) -> float:
        """Wire resistance the cells are read through (the read config's, else the card's)."""
        return self.crossbar().r_wire_Ohm

    def kernel_args(self, *, read_model: bool = False):
        """The device arrays in the order the engine kernel takes them.

        With ``read_model`` and wire resistance, the arrays the kernel reads are the
        tiles' transfer conductances (:meth:`Crossbar.transfer_conductances`): a time step's
        active rows are then read together through the IR-drop network, exactly (it is
        linear). Those arrays are copies, so this form is for inference only.

        Names and units at this boundary (card key -> kernel argument): ``g_*_S`` in S;
        ``v_read_V`` in V; ``read_noise_sigma`` and ``ctoc_sigma`` keep their card names
        (relative sigma per read; sigma per pulse as a fraction of g_max - g_min). The
        card's ``a_ltp`` / ``a_ltd`` are A normalised to Pmax; the arrays' ``a_ltp`` /
        ``a_ltd`` (and the kernels') are A in pulses, ``A = a_ltp x Pmax``
        (:meth:`PulseDevice.make_array`); ``p_max`` is Pmax = levels - 1.
        """
        pos = self.pos
        neg = self.neg if self.neg is not None else self.pos
        g_pos = pos.g
        g_neg = self.neg.g if self.neg is not None else np.zeros(1)
        if read_model and self.r_wire_Ohm > 0:
            xbar = self.crossbar()
            t = xbar.transfer_conductances()
            g_pos = np.ascontiguousarray(t[0]).ravel()
            if self.differential:
                g_neg = np.ascontiguousarray(t[1]).ravel()
        return (g_pos, g_neg, self.differential, self.g_ref_S, self.span_S, self.gain,
                self.device.v_read_V, self.device.read_noise_sigma,
                pos.g_min, pos.g_max, pos.a_ltp, pos.a_ltd, pos.fault,
                neg.g_min, neg.g_max, neg.a_ltp, neg.a_ltd, neg.fault,
                float(self.device.p_max), bool(self.device.continuous),
                float(self.device.ctoc_sigma))


class Population:
    """A population of LIF neurons with its state."""

    def __init__(self, n: int, params: LIFParams):
        if n < 1:
            raise ConfigError("a population needs at least one neuron", key="n")
        self.n = int(n)
        self.params = params
        self.state = PopulationState.initial(self.n, params)
