"""Physics memristor models: linear ion drift (Strukov 2008) and VTEAM (Kvatinsky 2015).

Both integrate an internal state under rectangular voltage pulses (amplitude, width) and share
the :class:`~neuromem.devices.base.DeviceArray` interface with the behavioural pulse model: a
signed pulse count selects LTP (n > 0) or LTD (n < 0) pulses; a fractional count is a
proportionally shorter last pulse. :func:`drive_waveform` drives cells with an arbitrary
sampled voltage v(t) and returns i(t) and the state (e.g. the pinched hysteresis loop).

Notes
-----
Linear ion drift (Strukov et al., Nature 453, 80 (2008)), with x = w/D in [0, 1]::

    R(x)  = R_on x + R_off (1 - x),        i = v / R(x)
    dx/dt = k i(t) f(x, i),                k = mu_v R_on / D^2

A positive voltage drives a positive current, which grows x (LTP: higher conductance).

VTEAM (Kvatinsky et al., IEEE TCAS-II 62, 786 (2015)), w in [w_on, w_off]::

    dw/dt = k_off (v/v_off - 1)^alpha_off f(w)    for 0 < v_off < v
          = 0                                     for v_on < v < v_off
          = k_on (v/v_on - 1)^alpha_on f(w)       for v < v_on < 0      (k_on < 0)
    R(w)  = R_on + (R_off - R_on) (w - w_on) / (w_off - w_on)          (linear I-V), or
    R(w)  = R_on exp(lambda (w - w_on) / (w_off - w_on)), lambda = ln(R_off / R_on)

w = w_on is the ON (lowest resistance) state, so in VTEAM a *negative* pulse below v_on SETs
(LTP) and a positive pulse above v_off RESETs (LTD); a card's v_ltp_V must lie below v_on_V
and v_ltd_V above v_off_V. Reads must lie inside the dead zone (v_on, v_off) so they never
disturb the state; the card check enforces both.

Window functions of the normalised state x (for VTEAM x = (w - w_on)/(w_off - w_on), so the
direction of motion, not the current, picks Biolek's branch)::

    none         f = 1
    joglekar     f = 1 - (2x - 1)^(2p)                 (Joglekar & Wolf 2009)
    biolek       f = 1 - (x - stp(-s))^(2p)            (Biolek et al. 2009), s = sign of dx/dt
    prodromakis  f = j (1 - ((x - 0.5)^2 + 0.75)^p)    (Prodromakis et al. 2011)

Joglekar and Prodromakis vanish at both bounds: a state exactly at a bound would never move
again (the known boundary lock). States are therefore kept within [EDGE, 1 - EDGE] for them:
a cell parked at the edge needs ~ln(1/EDGE) = 21 e-folding times of the window to leave it,
close to the continuous model's lock but not a numerical dead end.

Integration: classical RK4 with at least ``substeps`` steps per pulse and at most MAX_DX change
of x per step (step-size control from the current rate), clamped to the bounds after each step.
Cycle-to-cycle noise scales each pulse's state change by (1 + ctoc_sigma z), z ~ N(0, 1).
"""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from typing import ClassVar

import numpy as np

from neuromem.devices.base import (FAULT_STUCK_OFF, FAULT_STUCK_ON, DeviceArray, DeviceParams,
                                   relative_spread, sample_faults)
from neuromem.exceptions import ConfigError
from neuromem.kernels import physics as _k
from neuromem.schema import at_least, fraction, nonnegative, param, positive

__all__ = ["IonDriftDevice", "IonDriftArray", "VTEAMDevice", "VTEAMArray", "drive_waveform",
           "WINDOWS", "EDGE"]

#: Window names and their kernel codes.
WINDOWS = {"none": _k.WINDOW_NONE, "joglekar": _k.WINDOW_JOGLEKAR,
           "biolek": _k.WINDOW_BIOLEK, "prodromakis": _k.WINDOW_PRODROMAKIS}
#: Distance from the bounds kept for windows that vanish there (Joglekar, Prodromakis).
EDGE = 1e-9
_VANISHING = ("joglekar", "prodromakis")
_IV = {"linear": 0, "exponential": 1}


def _negative(value) -> str | None:
    return None if value < 0 else "a value < 0"


def _state_bounds(window: str) -> tuple[float, float]:
    """Bounds of the normalised state for a window (open for vanishing windows)."""
    return (EDGE, 1.0 - EDGE) if window in _VANISHING else (0.0, 1.0)


def _resistances(r_on, r_on_dtod, r_off, r_off_dtod, n, rng):
    """D2D draws of R_on and R_off per cell, keeping every cell's R_on <= R_off / 2."""
    r_on = relative_spread(r_on, r_on_dtod, n, rng)
    r_off = relative_spread(r_off, r_off_dtod, n, rng)
    if r_on.shape[0] > 1 or r_off.shape[0] > 1:
        r_on = np.broadcast_to(r_on, (n,)).copy()
        r_off = np.broadcast_to(r_off, (n,)).copy()
        r_on = np.minimum(r_on, 0.5 * r_off)
    return r_on, r_off


@dataclasses.dataclass(frozen=True, kw_only=True)
class _PhysicsParams(DeviceParams):
    """Fields shared by the physics models: window, integration, pulses, variability."""

    r_on_Ohm: float = param(unit="Ohm", doc="ON (lowest) resistance", check=positive)
    r_off_Ohm: float = param(unit="Ohm", doc="OFF (highest) resistance", check=positive)
    window: str = param("none", kind=str, doc="window function of the state",
                        choices=tuple(WINDOWS))
    window_p: int = param(1, kind=int, doc="window exponent p", check=at_least(1))
    window_j: float = param(1.0, doc="Prodromakis window scale j", check=positive)
    substeps: int = param(20, kind=int, doc="minimum RK4 steps per pulse", check=at_least(1))
    v_ltp_V: float = param(unit="V", doc="potentiation (SET) pulse amplitude")
    t_ltp_s: float = param(unit="s", doc="potentiation pulse width", check=positive)
    v_ltd_V: float = param(unit="V", doc="depression (RESET) pulse amplitude")
    t_ltd_s: float = param(unit="s", doc="depression pulse width", check=positive)
    ctoc_sigma: float = param(0.0, doc="cycle-to-cycle relative sigma of each pulse's state "
                              "change", check=nonnegative)
    r_on_dtod: float = param(0.0, doc="device-to-device relative sigma of R_on",
                             check=nonnegative)
    r_off_dtod: float = param(0.0, doc="device-to-device relative sigma of R_off",
                              check=nonnegative)

    def check(self) -> None:
        super().check()
        if self.r_on_Ohm >= self.r_off_Ohm:
            raise ConfigError(f"r_on_Ohm ({self.r_on_Ohm:g}) must be below r_off_Ohm "
                              f"({self.r_off_Ohm:g})", key="r_on_Ohm")

    @property
    def g_min_S(self) -> float:
        """Lowest conductance, 1 / R_off."""
        return 1.0 / self.r_off_Ohm

    @property
    def g_max_S(self) -> float:
        """Highest conductance, 1 / R_on."""
        return 1.0 / self.r_on_Ohm

    @property
    def state_bounds(self) -> tuple[float, float]:
        """Bounds of the normalised state x under this window."""
        return _state_bounds(self.window)


@dataclasses.dataclass(frozen=True, kw_only=True)
class IonDriftDevice(_PhysicsParams):
    """Linear ion drift memristor (Strukov et al., Nature 2008) with optional window.

    The state is x = w/D in [0, 1] (0: OFF, R_off; 1: ON, R_on). A positive voltage grows x,
    so LTP pulses are positive and LTD pulses negative. Equations under the module Notes.
    """

    kind: ClassVar[str] = "ion_drift"

    d_m: float = param(unit="m", doc="film thickness D", check=positive)
    mu_v_m2_per_Vs: float = param(unit="m^2/(V s)", doc="dopant mobility mu_v", check=positive)
    x_init: float = param(0.0, doc="initial state x = w/D (0 = OFF)", check=fraction)
    mu_v_dtod: float = param(0.0, doc="device-to-device relative sigma of mu_v",
                             check=nonnegative)

    def check(self) -> None:
        super().check()
        if self.v_ltp_V <= 0:
            raise ConfigError("an ion drift LTP pulse must be positive (it grows x, the ON "
                              "fraction)", key="v_ltp_V")
        if self.v_ltd_V >= 0:
            raise ConfigError("an ion drift LTD pulse must be negative", key="v_ltd_V")
        if self.window in _VANISHING and not 0.0 < self.x_init < 1.0:
            raise ConfigError(f"the {self.window} window is zero at x = 0 and 1, so the state "
                              "could never move from there; start inside (0, 1) or use the "
                              "'biolek' window", key="x_init")

    @property
    def k_per_C(self) -> float:
        """State rate per unit charge, k = mu_v R_on / D^2 (1/C)."""
        return self.mu_v_m2_per_Vs * self.r_on_Ohm / self.d_m ** 2

    def make_array(self, shape, rng: np.random.Generator) -> "IonDriftArray":
        """Sample one device per cell: D2D draws of R_on, R_off, mu_v and stuck-at faults.

        Cells start at ``x_init``; stuck cells sit at their bound.
        """
        shape = tuple(int(s) for s in np.atleast_1d(shape))
        n = int(np.prod(shape))
        r_on, r_off = _resistances(self.r_on_Ohm, self.r_on_dtod, self.r_off_Ohm,
                                   self.r_off_dtod, n, rng)
        mu_v = relative_spread(self.mu_v_m2_per_Vs, self.mu_v_dtod, n, rng)
        fault = sample_faults(n, self.stuck_on_rate, self.stuck_off_rate, rng)
        return IonDriftArray(self, shape, r_on, r_off, mu_v, fault)


@dataclasses.dataclass(frozen=True, kw_only=True)
class VTEAMDevice(_PhysicsParams):
    """Voltage-threshold adaptive memristor (VTEAM, Kvatinsky et al., TCAS-II 2015).

    The state is the width w in [w_on, w_off] (w_on: ON, R_on). Negative pulses below
    ``v_on_V`` SET (LTP), positive pulses above ``v_off_V`` RESET (LTD); reads lie between the
    thresholds. Equations under the module Notes.
    """

    kind: ClassVar[str] = "vteam"

    w_on_m: float = param(0.0, unit="m", doc="state bound of the ON state", check=nonnegative)
    w_off_m: float = param(unit="m", doc="state bound of the OFF state", check=positive)
    k_on_m_per_s: float = param(unit="m/s", doc="SET rate constant k_on (negative)",
                                check=_negative)
    k_off_m_per_s: float = param(unit="m/s", doc="RESET rate constant k_off", check=positive)
    alpha_on: float = param(doc="SET voltage exponent alpha_on", check=positive)
    alpha_off: float = param(doc="RESET voltage exponent alpha_off", check=positive)
    v_on_V: float = param(unit="V", doc="SET threshold (negative)", check=_negative)
    v_off_V: float = param(unit="V", doc="RESET threshold (positive)", check=positive)
    iv_relation: str = param("linear", kind=str, doc="R(w): 'linear' or 'exponential'",
                             choices=tuple(_IV))
    w_init_m: float = param(optional=True, unit="m", doc="initial state (default w_off: OFF)",
                            check=nonnegative)
    k_dtod: float = param(0.0, doc="device-to-device relative sigma of k_on and k_off",
                          check=nonnegative)

    def check(self) -> None:
        super().check()
        if self.w_on_m >= self.w_off_m:
            raise ConfigError(f"w_on_m ({self.w_on_m:g}) must be below w_off_m "
                              f"({self.w_off_m:g})", key="w_on_m")
        if self.w_init_m is not None and not self.w_on_m <= self.w_init_m <= self.w_off_m:
            raise ConfigError("w_init_m must lie in [w_on_m, w_off_m]", key="w_init_m")
        if not self.v_read_V < self.v_off_V:
            raise ConfigError(f"the read voltage must stay below the RESET threshold v_off_V "
                              f"({self.v_off_V:g} V) so a read never disturbs the state",
                              key="v_read_V")
        if not self.v_ltp_V < self.v_on_V:
            raise ConfigError(f"a VTEAM LTP (SET) pulse must lie below v_on_V "
                              f"({self.v_on_V:g} V): negative voltage moves w towards w_on "
                              "(ON)", key="v_ltp_V")
        if not self.v_ltd_V > self.v_off_V:
            raise ConfigError(f"a VTEAM LTD (RESET) pulse must lie above v_off_V "
                              f"({self.v_off_V:g} V)", key="v_ltd_V")
        if self.window in _VANISHING and self.w_init_m is not None and not (
                self.w_on_m < self.w_init_m < self.w_off_m):
            raise ConfigError(f"the {self.window} window is zero at both bounds; start inside "
                              "(w_on_m, w_off_m) or use the 'biolek' window", key="w_init_m")

    def rate_m_per_s(self, v_V: float, w_m: float | None = None) -> float:
        """dw/dt from the state equation at ``v_V`` and ``w_m`` (default: mid-range), m/s."""
        w = 0.5 * (self.w_on_m + self.w_off_m) if w_m is None else w_m
        x = (w - self.w_on_m) / (self.w_off_m - self.w_on_m)
        code = WINDOWS[self.window]
        if v_V > self.v_off_V:
            f = _k.window_value(code, x, 1.0, self.window_p, self.window_j)
            return self.k_off_m_per_s * (v_V / self.v_off_V - 1.0) ** self.alpha_off * f
        if v_V < self.v_on_V:
            f = _k.window_value(code, x, -1.0, self.window_p, self.window_j)
            return self.k_on_m_per_s * (v_V / self.v_on_V - 1.0) ** self.alpha_on * f
        return 0.0

    def make_array(self, shape, rng: np.random.Generator) -> "VTEAMArray":
        """Sample one device per cell: D2D draws of R_on, R_off, k_on/k_off and faults.

        Cells start at ``w_init_m`` (default w_off: OFF); stuck cells sit at their bound.
        """
        shape = tuple(int(s) for s in np.atleast_1d(shape))
        n = int(np.prod(shape))
        r_on, r_off = _resistances(self.r_on_Ohm, self.r_on_dtod, self.r_off_Ohm,
                                   self.r_off_dtod, n, rng)
        scale = relative_spread(1.0, self.k_dtod, n, rng)
        fault = sample_faults(n, self.stuck_on_rate, self.stuck_off_rate, rng)
        return VTEAMArray(self, shape, r_on, r_off, self.k_on_m_per_s * scale,
                          self.k_off_m_per_s * scale, fault)


def _f64(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64)


class _PhysicsArray(DeviceArray):
    """Cells of a physics model: the internal ``state`` and the read conductance ``g``.

    Attributes
    ----------
    state : ndarray of float64, flat
        Internal state per cell (x for ion drift, w in m for VTEAM).
    g : ndarray of float64, flat
        Conductance at the read voltage, in S, kept in step with ``state``.
    r_on, r_off : ndarray of float64
        ON and OFF resistance per cell (length n or 1), in Ohm.
    """

    params: _PhysicsParams

    def _setup(self, params, shape, r_on, r_off, fault, state0: float) -> None:
        self.params = params
        self.shape = shape
        self.r_on = _f64(r_on)
        self.r_off = _f64(r_off)
        self.fault = np.ascontiguousarray(fault, dtype=np.uint8)
        self.state = np.full(int(np.prod(shape)), float(state0))
        self.g = np.empty_like(self.state)
        self._refresh()
        self._pin_faults()

    @property
    def g_min_cell(self):
        return 1.0 / self.r_off

    @property
    def g_max_cell(self):
        return 1.0 / self.r_on

    @property
    def continuous(self) -> bool:
        return True

    @property
    def stochastic(self) -> bool:
        return self.params.ctoc_sigma > 0

    # Set by the subclasses: kernel model code, stored state = offset + x scale, the stored
    # state of the OFF and ON bounds, the per-cell rate constants the kernels take as rate_a
    # and rate_b, and the VTEAM constants (empty for ion drift).
    _model: int
    _offset: float
    _scale: float
    _off_state: float
    _on_state: float
    _rate_a: np.ndarray
    _rate_b: np.ndarray
    _consts: np.ndarray

    @abstractmethod
    def _x_for_resistance(self, r: np.ndarray) -> np.ndarray:
        """Normalised state x at which a cell has resistance ``r`` (inverse of R(x))."""

    def _refresh(self) -> None:
        """Recompute ``g`` from ``state``."""
        _k.physics_conductance(self._model, self.state, self.r_on, self.r_off, self._consts,
                               self._offset, self._scale, self.g)

    def _set_state(self, g_target):
        lo, hi = self.params.state_bounds
        g = np.clip(g_target, np.broadcast_to(self.g_min_cell, g_target.shape),
                    np.broadcast_to(self.g_max_cell, g_target.shape))
        x = np.clip(self._x_for_resistance(1.0 / g), lo, hi)
        self.state[:] = self._offset + x * self._scale
        self._refresh()

    def _pin_faults(self) -> None:
        super()._pin_faults()
        if self.fault.shape[0] == 1:
            return
        self.state[self.fault == FAULT_STUCK_OFF] = self._off_state
        self.state[self.fault == FAULT_STUCK_ON] = self._on_state

    def _apply(self, cells, n_pulses, rng):
        p = self.params
        lo, hi = p.state_bounds
        _k.physics_apply(self._model, self.state, self.g, cells, n_pulses, self.r_on,
                         self.r_off, self._rate_a, self._rate_b, self._consts, self._offset,
                         self._scale, p.v_ltp_V, p.t_ltp_s, p.v_ltd_V, p.t_ltd_s,
                         WINDOWS[p.window], int(p.window_p), float(p.window_j), lo, hi,
                         p.substeps, p.ctoc_sigma, self.fault, rng)

    def _drive(self, cells, v, dt, substeps, current, trace) -> None:
        """Run the waveform kernel (see :func:`drive_waveform`)."""
        p = self.params
        lo, hi = p.state_bounds
        _k.physics_drive(self._model, self.state, self.g, cells, v, dt, self.r_on, self.r_off,
                         self._rate_a, self._rate_b, self._consts, self._offset, self._scale,
                         WINDOWS[p.window], int(p.window_p), float(p.window_j), lo, hi,
                         substeps, self.fault, current, trace)


class IonDriftArray(_PhysicsArray):
    """Cells of an :class:`IonDriftDevice`; ``state`` is x = w/D.

    ``k`` holds k = mu_v R_on / D^2 per cell (length n or 1), in 1/C.
    """

    _model = _k.MODEL_ION_DRIFT
    _off_state = 0.0
    _on_state = 1.0

    def __init__(self, params: IonDriftDevice, shape, r_on, r_off, mu_v, fault):
        self.mu_v = _f64(mu_v)
        self.k = _f64(self.mu_v * _f64(r_on) / params.d_m ** 2)
        self._offset, self._scale = 0.0, 1.0
        self._rate_a = self._rate_b = self.k
        self._consts = np.zeros(0)
        lo, hi = params.state_bounds
        self._setup(params, shape, r_on, r_off, fault, min(max(params.x_init, lo), hi))

    def _x_for_resistance(self, r):
        r_on = np.broadcast_to(self.r_on, r.shape)
        r_off = np.broadcast_to(self.r_off, r.shape)
        return (r_off - r) / (r_off - r_on)


class VTEAMArray(_PhysicsArray):
    """Cells of a :class:`VTEAMDevice`; ``state`` is the width w in m.

    ``k_on`` and ``k_off`` hold the rate constants per cell (length n or 1), in m/s.
    """

    _model = _k.MODEL_VTEAM

    def __init__(self, params: VTEAMDevice, shape, r_on, r_off, k_on, k_off, fault):
        self.k_on = _f64(k_on)
        self.k_off = _f64(k_off)
        self._off_state = params.w_off_m
        self._on_state = params.w_on_m
        self._offset = params.w_on_m
        self._scale = params.w_off_m - params.w_on_m
        self._rate_a = _f64(self.k_on / self._scale)
        self._rate_b = _f64(self.k_off / self._scale)
        self._consts = np.array([params.alpha_on, params.alpha_off, params.v_on_V,
                                 params.v_off_V, _IV[params.iv_relation]], dtype=np.float64)
        lo, hi = params.state_bounds
        w0 = params.w_off_m if params.w_init_m is None else params.w_init_m
        x0 = (w0 - self._offset) / self._scale
        if not lo <= x0 <= hi:
            w0 = self._offset + min(max(x0, lo), hi) * self._scale
        self._setup(params, shape, r_on, r_off, fault, w0)

    def _x_for_resistance(self, r):
        r_on = np.broadcast_to(self.r_on, r.shape)
        r_off = np.broadcast_to(self.r_off, r.shape)
        if self.params.iv_relation == "exponential":
            return np.log(r / r_on) / np.log(r_off / r_on)
        return (r - r_on) / (r_off - r_on)


def drive_waveform(array: _PhysicsArray, v_V, dt_s: float, cells=None,
                   substeps: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Drive cells of a physics array with a sampled voltage waveform v(t).

    The voltage is linear between samples; the state is integrated with RK4 (at least
    ``substeps`` steps per sample interval, at most MAX_DX change of the normalised state per
    step). No cycle-to-cycle noise is drawn; stuck cells keep their state and conductance.
    The cells are left in their state at the last sample (``g`` updated).

    Parameters
    ----------
    array : IonDriftArray or VTEAMArray
        The cells to drive (modified in place).
    v_V : array_like of float, V
        Voltage samples v(k dt), k = 0..n-1, applied to every selected cell.
    dt_s : float, s
        Sample interval.
    cells : array_like of int, optional
        Flat indices of the cells to drive (default: all).
    substeps : int
        Minimum RK4 steps per sample interval.

    Returns
    -------
    current_A : ndarray, shape (n, n_cells), A
        i(k dt) = v(k dt) / R(state(k dt)).
    state : ndarray, shape (n, n_cells)
        The state at each sample (x for ion drift, w in m for VTEAM).

    Examples
    --------
    >>> import numpy as np
    >>> from neuromem.cards import load_device
    >>> arr = load_device("hp_tio2_strukov2008").params.make_array((1,), np.random.default_rng(0))
    >>> t = np.linspace(0.0, 2.0, 2001)
    >>> i, x = drive_waveform(arr, np.sin(2 * np.pi * t), t[1] - t[0])
    >>> i.shape, bool(abs(i[1000, 0]) < 1e-12)   # v = sin(pi) ~ 1e-16 V: pinched at the origin
    ((2001, 1), True)
    """
    if not isinstance(array, _PhysicsArray):
        raise ConfigError(f"drive_waveform needs a physics device array (ion_drift or vteam), "
                          f"got {type(array).__name__}", key="array")
    v = _f64(np.asarray(v_V, dtype=np.float64).ravel())
    if v.size == 0 or not np.all(np.isfinite(v)):
        raise ConfigError("the waveform must have at least one finite sample", key="v_V")
    dt = float(dt_s)
    if not dt > 0 or not np.isfinite(dt):
        raise ConfigError(f"expected a sample interval > 0, got {dt_s!r}", key="dt_s")
    if isinstance(substeps, bool) or int(substeps) != substeps or substeps < 1:
        raise ConfigError(f"expected an integer >= 1, got {substeps!r}", key="substeps")
    if cells is None:
        cells = np.arange(array.size, dtype=np.int64)
    else:
        cells = np.ascontiguousarray(cells, dtype=np.int64).ravel()
        if cells.size and (cells.min() < 0 or cells.max() >= array.size):
            raise ConfigError(f"cell index out of range for an array of {array.size} cells",
                              key="cells")
    current = np.empty((v.size, cells.size))
    trace = np.empty((v.size, cells.size))
    array._drive(cells, v, dt, int(substeps), current, trace)
    return current, trace
