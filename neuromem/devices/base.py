"""What every device model shares: read and fault parameters, and the array of cells.

A device model is a frozen parameter dataclass (one per kind, built from a card) whose
``make_array(shape, rng)`` samples one device per crossbar cell: device-to-device (D2D)
parameters and stuck-at faults are drawn once here from the caller's ``np.random.Generator``;
cycle-to-cycle (C2C) noise is drawn per pulse by the kernels.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from neuromem.exceptions import ConfigError
from neuromem.kernels import pulse as _k
from neuromem.schema import fraction, nonnegative, param, positive

__all__ = ["DeviceParams", "DeviceArray", "sample_faults", "relative_spread",
           "FAULT_NONE", "FAULT_STUCK_OFF", "FAULT_STUCK_ON"]

FAULT_NONE = _k.FAULT_NONE
FAULT_STUCK_OFF = _k.FAULT_STUCK_OFF
FAULT_STUCK_ON = _k.FAULT_STUCK_ON


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeviceParams:
    """Parameters every device kind has: read conditions and non-idealities."""

    kind: ClassVar[str] = ""

    v_read_V: float = param(0.2, unit="V", doc="read voltage", check=positive)
    t_read_s: float = param(10e-9, unit="s", doc="read pulse width", check=positive)
    read_noise_sigma: float = param(0.0, doc="relative sigma of read noise per read",
                                    check=nonnegative)
    stuck_on_rate: float = param(0.0, doc="fraction of cells stuck at ON (g_max)", check=fraction)
    stuck_off_rate: float = param(0.0, doc="fraction of cells stuck at OFF (g_min)",
                                  check=fraction)
    drift_nu: float = param(0.0, doc="retention drift exponent: G(t) = G0 (t/t0)^-nu",
                            check=nonnegative)
    drift_t0_s: float = param(1.0, unit="s", doc="drift reference time t0", check=positive)
    r_wire_Ohm: float = param(0.0, unit="Ohm", check=nonnegative,
                              doc="wire resistance per cell segment (row and column) of the "
                                  "arrays these cells sit in; both execution modes read "
                                  "through it (0: ideal wires)")

    def check(self) -> None:
        if self.stuck_on_rate + self.stuck_off_rate > 1.0:
            raise ConfigError("stuck_on_rate + stuck_off_rate must not exceed 1",
                              key="stuck_on_rate")

    # Every kind provides ``g_min_S`` and ``g_max_S`` (a field or a property): the conductance
    # window seen at the read voltage.

    @property
    def on_off_ratio(self) -> float:
        return self.g_max_S / self.g_min_S if self.g_min_S > 0 else float("inf")

    @property
    def n_levels(self) -> int | None:
        """Number of distinct programmable states, or None when not quantised by pulses."""
        return None

    def with_updates(self, **changes):
        """A copy with some fields changed, validated like a card."""
        from neuromem.schema import build
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        data.update(changes)
        data = {k: v for k, v in data.items() if v is not None}
        return build(type(self), data)

    def make_array(self, shape, rng: np.random.Generator) -> "DeviceArray":
        raise NotImplementedError


def sample_faults(n: int, stuck_on_rate: float, stuck_off_rate: float,
                  rng: np.random.Generator) -> np.ndarray:
    """Fault code per cell (length n), or a length-1 zero array when there are no faults."""
    if stuck_on_rate == 0 and stuck_off_rate == 0:
        return np.zeros(1, dtype=np.uint8)
    u = rng.random(n)
    fault = np.zeros(n, dtype=np.uint8)
    fault[u < stuck_off_rate] = FAULT_STUCK_OFF
    fault[(u >= stuck_off_rate) & (u < stuck_off_rate + stuck_on_rate)] = FAULT_STUCK_ON
    return fault


def relative_spread(value: float, sigma: float, n: int, rng: np.random.Generator,
                    floor: float = 0.05) -> np.ndarray:
    """D2D draw ``value * (1 + sigma z)`` per cell, floored at ``floor * value``.

    Returns a length-1 array when ``sigma`` is 0 so kernels share one value.
    """
    if sigma == 0:
        return np.array([value], dtype=np.float64)
    return value * np.maximum(1.0 + sigma * rng.standard_normal(n), floor)


class DeviceArray(ABC):
    """An array of devices of one model, one per crossbar cell.

    Attributes
    ----------
    params : DeviceParams
        The model's parameters.
    shape : tuple of int
        The array's shape (e.g. ``(n_in, n_out)``).
    g : ndarray of float64, flat
        Conductance of each cell at the read voltage, in S (noise-free).
    fault : ndarray of uint8
        Fault code per cell (length n) or a single shared 0.
    """

    params: DeviceParams
    shape: tuple
    g: np.ndarray
    fault: np.ndarray

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def conductance_S(self) -> np.ndarray:
        """Noise-free conductances, shaped like the array (a view)."""
        return self.g.reshape(self.shape)

    @property
    @abstractmethod
    def g_min_cell(self) -> np.ndarray:
        """Lowest conductance per cell (length n or 1)."""

    @property
    @abstractmethod
    def g_max_cell(self) -> np.ndarray:
        """Highest conductance per cell (length n or 1)."""

    @abstractmethod
    def _apply(self, cells: np.ndarray, n_pulses: np.ndarray, rng: np.random.Generator) -> None:
        """Apply signed pulse counts to flat cell indices, in order."""

    @abstractmethod
    def _set_state(self, g_target: np.ndarray) -> None:
        """Set every cell as close as the model allows to ``g_target`` (flat)."""

    def apply_pulses(self, n_pulses, cells=None, rng: np.random.Generator | None = None):
        """Apply pulses: ``n_pulses > 0`` potentiates (SET), ``< 0`` depresses (RESET).

        Parameters
        ----------
        n_pulses : array_like of int or float
            Signed pulse count per selected cell (broadcast to the array's shape when ``cells``
            is None).
        cells : array_like of int, optional
            Flat indices of the cells to pulse, in the order the pulses are applied.
        rng : numpy.random.Generator
            Source of cycle-to-cycle noise (required when the model has any).
        """
        if cells is None:
            counts = np.broadcast_to(np.asarray(n_pulses, dtype=np.float64), self.shape).ravel()
            cells = np.arange(self.size, dtype=np.int64)
        else:
            cells = np.ascontiguousarray(cells, dtype=np.int64).ravel()
            counts = np.broadcast_to(np.asarray(n_pulses, dtype=np.float64), cells.shape)
            if cells.size and (cells.min() < 0 or cells.max() >= self.size):
                raise ConfigError(f"cell index out of range for an array of {self.size} cells",
                                  key="cells")
        counts = np.ascontiguousarray(counts, dtype=np.float64)
        if not np.all(np.isfinite(counts)):
            raise ConfigError("pulse counts must be finite", key="n_pulses")
        if not self.continuous and np.any(counts != np.round(counts)):
            raise ConfigError(f"a {self.params.kind} device with discrete levels takes whole "
                              "pulse counts; round them or use a continuous card", key="n_pulses")
        if rng is None:
            rng = np.random.default_rng(0) if not self.stochastic else None
            if rng is None:
                raise ConfigError("this device has cycle-to-cycle noise: pass rng=np.random."
                                  "Generator", key="rng")
        self._apply(cells, counts, rng)

    @property
    def continuous(self) -> bool:
        """True when fractional pulse counts are meaningful (analog/ideal devices)."""
        return True

    @property
    def stochastic(self) -> bool:
        """True when a pulse draws random numbers (C2C noise)."""
        return False

    def read(self, rng: np.random.Generator | None = None, t_s: float | None = None) -> np.ndarray:
        """Conductances as one read sees them: retention drift at time ``t_s`` and read noise."""
        p = self.params
        g = self.g.copy()
        if t_s is not None and p.drift_nu > 0:
            _k.drift(g, np.ascontiguousarray(self.g_min_cell, dtype=np.float64), p.drift_nu,
                     float(t_s) / p.drift_t0_s, g)
        if p.read_noise_sigma > 0:
            if rng is None:
                raise ConfigError("this device has read noise: pass rng=np.random.Generator",
                                  key="rng")
            _k.read_noisy(g, p.read_noise_sigma, rng, g)
        return g.reshape(self.shape)

    def drift_to(self, t_s: float) -> None:
        """Let the stored conductances drift to time ``t_s`` after programming (retention:
        ``G = G0 (t/t0)^-nu`` for t > t0, floored at each cell's lowest conductance); no
        read noise. The cells keep the drifted state."""
        p = self.params
        if p.drift_nu > 0 and t_s > 0:
            _k.drift(self.g, np.ascontiguousarray(self.g_min_cell, dtype=np.float64),
                     p.drift_nu, float(t_s) / p.drift_t0_s, self.g)

    def read_current(self, v_V=None, rng=None, t_s=None) -> np.ndarray:
        """Cell currents I = V G (Ohm's law), at ``v_V`` (default: the card's read voltage)."""
        v = self.params.v_read_V if v_V is None else v_V
        return np.asarray(v, dtype=np.float64) * self.read(rng=rng, t_s=t_s)

    def program(self, g_target) -> None:
        """Set conductances directly (e.g. from an offline-trained weight map), bounded."""
        target = np.broadcast_to(np.asarray(g_target, dtype=np.float64), self.shape).ravel()
        self._set_state(np.ascontiguousarray(target))
        self._pin_faults()

    def _pin_faults(self) -> None:
        if self.fault.shape[0] == 1:
            return
        lo = np.broadcast_to(self.g_min_cell, self.g.shape)
        hi = np.broadcast_to(self.g_max_cell, self.g.shape)
        off = self.fault == FAULT_STUCK_OFF
        on = self.fault == FAULT_STUCK_ON
        self.g[off] = lo[off]
        self.g[on] = hi[on]
