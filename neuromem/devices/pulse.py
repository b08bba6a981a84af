"""The behavioural pulse model (NeuroSim form) and the ``ideal`` device.

Notes
-----
With P the pulse number (0..Pmax) counted from the OFF state (MLP+NeuroSim V3.0 manual,
eq. 1-3)::

    G_LTP(P) =  B (1 - exp(-P / A_LTP)) + Gmin
    G_LTD(P) = -B (1 - exp((P - Pmax) / A_LTD)) + Gmax
    B        = (Gmax - Gmin) / (1 - exp(-Pmax / A))

An update from the current conductance G inverts the curve to find P, moves it by the signed
pulse count and reads the curve again; C2C noise N(0, ctoc_sigma) sqrt(|dP|) (a fraction of
Gmax - Gmin) is added and the result clipped to [Gmin, Gmax]. A -> inf is the linear device.

Nonlinearity is given either as NeuroSim's labelled NL (``nonlinearity_ltp``) or as A
normalised to Pmax (``a_ltp``). NeuroSim maps the label to A/Pmax through a lookup table of
which one point is published beside its device table (NL 2.40 -> A/Pmax 0.4992); neuromem uses
``A/Pmax = 1.19808 / |NL|``, exact at that point, monotone, and linear as NL -> 0. Give
``a_ltp``/``a_ltd`` to use a measured A instead (``neuromem device fit`` does).
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import numpy as np

from neuromem.devices.base import DeviceArray, DeviceParams, relative_spread, sample_faults
from neuromem.exceptions import ConfigError
from neuromem.kernels import pulse as _k
from neuromem.schema import at_least, nonnegative, param, positive

__all__ = ["PulseDevice", "PulseArray", "nonlinearity_to_a", "NL_TO_A_CONSTANT"]

#: A/Pmax = NL_TO_A_CONSTANT / |NL|, anchored at NeuroSim's NL 2.40 -> A/Pmax 0.4992.
NL_TO_A_CONSTANT = 2.40 * 0.4992


def nonlinearity_to_a(nl: float) -> float:
    """A/Pmax for a NeuroSim nonlinearity label (sign = published label convention, ignored)."""
    return math.inf if nl == 0 else NL_TO_A_CONSTANT / abs(nl)


@dataclasses.dataclass(frozen=True, kw_only=True)
class PulseDevice(DeviceParams):
    """Behavioural pulse-response device (NeuroSim model)."""

    kind: ClassVar[str] = "pulse"

    g_min_S: float = param(unit="S", doc="lowest conductance (OFF state)", check=nonnegative)
    g_max_S: float = param(unit="S", doc="highest conductance (ON state)", check=positive)
    levels: int = param(kind=int, doc="distinct conductance states (Pmax + 1)",
                        check=at_least(2))
    nonlinearity_ltp: float = param(optional=True, doc="NeuroSim NL label for potentiation")
    nonlinearity_ltd: float = param(optional=True, doc="NeuroSim NL label for depression")
    a_ltp: float = param(optional=True, doc="potentiation nonlinearity A/Pmax (inf = linear)",
                         check=positive, allow_inf=True)
    a_ltd: float = param(optional=True, doc="depression nonlinearity A/Pmax (inf = linear)",
                         check=positive, allow_inf=True)
    ctoc_sigma: float = param(0.0, doc="cycle-to-cycle sigma per pulse, fraction of Gmax-Gmin",
                              check=nonnegative)
    continuous: bool = param(False, kind=bool,
                             doc="accept fractional pulse counts (analog update, no quantisation)")
    g_max_dtod: float = param(0.0, doc="device-to-device relative sigma of Gmax",
                              check=nonnegative)
    g_min_dtod: float = param(0.0, doc="device-to-device relative sigma of Gmin",
                              check=nonnegative)
    a_dtod: float = param(0.0, doc="device-to-device relative sigma of A (LTP and LTD)",
                          check=nonnegative)
    v_ltp_V: float = param(1.0, unit="V", doc="potentiation (SET) pulse amplitude")
    t_ltp_s: float = param(100e-9, unit="s", doc="potentiation pulse width", check=positive)
    v_ltd_V: float = param(-1.0, unit="V", doc="depression (RESET) pulse amplitude")
    t_ltd_s: float = param(100e-9, unit="s", doc="depression pulse width", check=positive)

    def check(self) -> None:
        super().check()
        if self.g_min_S >= self.g_max_S:
            raise ConfigError(f"g_min_S ({self.g_min_S:g}) must be below g_max_S "
                              f"({self.g_max_S:g})", key="g_min_S")
        for which in ("ltp", "ltd"):
            if (getattr(self, f"nonlinearity_{which}") is not None
                    and getattr(self, f"a_{which}") is not None):
                raise ConfigError(f"give either nonlinearity_{which} (NeuroSim label) or "
                                  f"a_{which} (A/Pmax), not both", key=f"a_{which}")

    @property
    def p_max(self) -> int:
        return self.levels - 1

    @property
    def n_levels(self) -> int | None:
        return None if self.continuous else self.levels

    @property
    def a_ltp_norm(self) -> float:
        """A_LTP / Pmax (inf for a linear response)."""
        if self.a_ltp is not None:
            return self.a_ltp
        return nonlinearity_to_a(self.nonlinearity_ltp or 0.0)

    @property
    def a_ltd_norm(self) -> float:
        if self.a_ltd is not None:
            return self.a_ltd
        return nonlinearity_to_a(self.nonlinearity_ltd or 0.0)

    def curve(self, direction: str = "ltp", n_points: int | None = None) -> tuple[np.ndarray,
                                                                                 np.ndarray]:
        """Closed-form noise-free G(P) of the full potentiation or depression sweep.

        Returns pulse numbers 0..Pmax and conductances: LTP from Gmin up, LTD from Gmax down.
        """
        p = np.arange(self.p_max + 1, dtype=np.float64) if n_points is None else \
            np.linspace(0, self.p_max, n_points)
        span = self.g_max_S - self.g_min_S
        if direction == "ltp":
            a = self.a_ltp_norm * self.p_max
            if math.isinf(a):
                return p, self.g_min_S + span * p / self.p_max
            b = span / (1 - math.exp(-self.p_max / a))
            return p, b * (1 - np.exp(-p / a)) + self.g_min_S
        if direction == "ltd":
            a = self.a_ltd_norm * self.p_max
            q = self.p_max - p  # LTD sweep starts at P = Pmax and counts down
            if math.isinf(a):
                return p, self.g_min_S + span * q / self.p_max
            b = span / (1 - math.exp(-self.p_max / a))
            return p, -b * (1 - np.exp((q - self.p_max) / a)) + self.g_max_S
        raise ConfigError(f"direction must be 'ltp' or 'ltd', got {direction!r}", key="direction")

    def make_array(self, shape, rng: np.random.Generator) -> "PulseArray":
        """Sample one device per cell: D2D draws of Gmax, Gmin, A and stuck-at faults.

        Cells start at Gmin (fully RESET); stuck cells sit at their stuck value.
        """
        shape = tuple(int(s) for s in np.atleast_1d(shape))
        n = int(np.prod(shape))
        g_max = relative_spread(self.g_max_S, self.g_max_dtod, n, rng)
        g_min = relative_spread(self.g_min_S, self.g_min_dtod, n, rng) if self.g_min_S > 0 \
            else np.zeros(1)
        if g_min.shape[0] > 1 or g_max.shape[0] > 1:
            g_min = np.broadcast_to(g_min, (n,)).copy()
            g_max = np.broadcast_to(g_max, (n,)).copy()
            g_min = np.minimum(g_min, 0.5 * g_max)  # keep every cell's window open
        a_ltp = relative_spread(self.a_ltp_norm * self.p_max, self.a_dtod, n, rng)
        a_ltd = relative_spread(self.a_ltd_norm * self.p_max, self.a_dtod, n, rng)
        fault = sample_faults(n, self.stuck_on_rate, self.stuck_off_rate, rng)
        return PulseArray(self, shape, g_min, g_max, a_ltp, a_ltd, fault)


class PulseArray(DeviceArray):
    """Cells of a :class:`PulseDevice`; the state is the conductance itself.

    ``g_min``, ``g_max`` (S) and ``a_ltp``, ``a_ltd`` are per cell (length n) or shared
    (length 1); ``a_ltp`` / ``a_ltd`` here are the nonlinearity A **in pulses**
    (the card's A/Pmax times Pmax; inf for a linear cell), as the kernels take it.
    """

    def __init__(self, params: PulseDevice, shape, g_min, g_max, a_ltp, a_ltd, fault):
        self.params = params
        self.shape = shape
        self.g_min = np.ascontiguousarray(g_min, dtype=np.float64)
        self.g_max = np.ascontiguousarray(g_max, dtype=np.float64)
        self.a_ltp = np.ascontiguousarray(a_ltp, dtype=np.float64)
        self.a_ltd = np.ascontiguousarray(a_ltd, dtype=np.float64)
        self.fault = np.ascontiguousarray(fault, dtype=np.uint8)
        self.g = np.empty(int(np.prod(shape)), dtype=np.float64)
        self.g[:] = np.broadcast_to(self.g_min, self.g.shape)
        self._pin_faults()

    @property
    def g_min_cell(self):
        return self.g_min

    @property
    def g_max_cell(self):
        return self.g_max

    @property
    def continuous(self) -> bool:
        return self.params.continuous

    @property
    def stochastic(self) -> bool:
        return self.params.ctoc_sigma > 0

    def _apply(self, cells, n_pulses, rng):
        p = self.params
        _k.pulse_apply(self.g, cells, n_pulses, self.g_min, self.g_max, self.a_ltp, self.a_ltd,
                       float(p.p_max), p.ctoc_sigma, self.fault, rng)

    def pulses_from_reset(self, g_target) -> np.ndarray:
        """Whole LTP pulses from RESET (G = g_min) whose noise-free response lands nearest
        to each cell's target, on the cell's own curve (its D2D bounds and A):
        ``P = -A ln(1 - (G - g_min) / B)`` rounded, ``B = (g_max - g_min) / (1 - exp(-Pmax / A))``
        (``P = Pmax (G - g_min) / (g_max - g_min)`` for a linear cell), clipped to 0..Pmax."""
        n = self.g.shape[0]
        lo = np.broadcast_to(self.g_min, (n,))
        hi = np.broadcast_to(self.g_max, (n,))
        a = np.broadcast_to(self.a_ltp, (n,))
        p_max = float(self.params.p_max)
        frac = np.clip((np.ravel(g_target) - lo) / (hi - lo), 0.0, 1.0)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            linear = ~np.isfinite(a)
            q = -np.expm1(-p_max / np.where(linear, 1.0, a))
            p = np.where(linear, frac * p_max,
                         -np.where(linear, 1.0, a) * np.log1p(-np.minimum(frac * q, 1 - 1e-15)))
        return np.clip(np.round(p), 0.0, p_max)

    def program_by_pulses(self, g_target, rng: np.random.Generator) -> int:
        """Open-loop programming as a chip would do it: RESET every cell, then apply
        :meth:`pulses_from_reset` potentiating pulses through the device model (levels,
        nonlinearity, cycle-to-cycle noise per pulse, stuck cells). Returns the pulse count.
        """
        pulses = self.pulses_from_reset(g_target)
        self.g[:] = np.broadcast_to(self.g_min, self.g.shape)
        self._pin_faults()
        self.apply_pulses(pulses.reshape(self.shape), rng=rng)
        return int(pulses.sum())

    def write_verify(self, g_target, rng: np.random.Generator, *, tol_S: float,
                     max_pulses: int) -> dict:
        """Closed-loop programming: program, read, re-pulse until within ``tol_S`` of the
        target or ``max_pulses`` pulses per cell (:func:`neuromem.kernels.pulse.write_verify`).

        Each verify read sees the card's read noise; each pulse goes through the device model
        (levels, nonlinearity, C2C noise, bounds, stuck cells) and costs
        ``V^2 t (G_before + G_after) / 2`` (REFERENCE: write energy per pulse).

        Returns
        -------
        dict
            ``ltp_pulses``, ``ltd_pulses``, ``pulses`` (their sum), ``verify_reads``,
            ``cells``, ``cells_converged`` (within ``tol_S`` at the last read),
            ``max_pulses_per_cell`` (the most any cell took), ``write_energy_J``,
            ``tol_S`` and ``max_pulses``.
        """
        if not (isinstance(tol_S, (int, float, np.floating)) and tol_S >= 0
                and math.isfinite(tol_S)):
            raise ConfigError(f"expected a tolerance >= 0 S, got {tol_S!r}", key="tol_S")
        if isinstance(max_pulses, bool) or int(max_pulses) != max_pulses or max_pulses < 0:
            raise ConfigError(f"expected a whole pulse budget >= 0, got {max_pulses!r}",
                              key="max_pulses")
        if not isinstance(rng, np.random.Generator):
            raise ConfigError("write-verify draws read and C2C noise: pass rng=np.random."
                              "Generator", key="rng")
        target = np.ascontiguousarray(np.broadcast_to(np.asarray(g_target, dtype=np.float64),
                                                      self.shape).ravel())
        if not np.all(np.isfinite(target)):
            raise ConfigError("target conductances must be finite", key="g_target")
        p = self.params
        per_cell = np.zeros(self.size, dtype=np.int64)
        counts = np.zeros(4, dtype=np.int64)
        energy = _k.write_verify(self.g, target, float(tol_S), int(max_pulses),
                                 bool(p.continuous), self.g_min, self.g_max, self.a_ltp,
                                 self.a_ltd, float(p.p_max), float(p.ctoc_sigma), self.fault,
                                 float(p.read_noise_sigma), float(p.v_ltp_V), float(p.t_ltp_s),
                                 float(p.v_ltd_V), float(p.t_ltd_s), rng, per_cell, counts)
        return {"ltp_pulses": int(counts[0]), "ltd_pulses": int(counts[1]),
                "pulses": int(counts[0] + counts[1]), "verify_reads": int(counts[2]),
                "cells": int(self.size), "cells_converged": int(counts[3]),
                "max_pulses_per_cell": int(per_cell.max()) if per_cell.size else 0,
                "write_energy_J": float(energy), "tol_S": float(tol_S),
                "max_pulses": int(max_pulses)}

    def _set_state(self, g_target):
        lo = np.broadcast_to(self.g_min, self.g.shape)
        hi = np.broadcast_to(self.g_max, self.g.shape)
        self.g[:] = np.clip(g_target, lo, hi)
