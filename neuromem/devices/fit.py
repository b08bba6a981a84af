"""Fit the behavioural pulse model (:class:`~neuromem.devices.pulse.PulseDevice`) to measured
potentiation (LTP) and depression (LTD) curves.

Input is a table of conductances read after each pulse of one or more LTP and LTD sweeps
(:func:`read_curves_csv`); the fit returns Gmin, Gmax, A_LTP/Pmax, A_LTD/Pmax, Pmax and the
cycle-to-cycle sigma with uncertainties (:class:`FitResult`), and writes a device card
(:meth:`FitResult.to_card`). :func:`synthesize_curves` produces such tables from a card through
the model's own ``make_array`` / ``apply_pulses`` path, for tests and notebooks.

Notes
-----
In units of the window, x = (G - Gmin) / (Gmax - Gmin) and k = Pmax / A, one pulse of the model
(see :mod:`neuromem.devices.pulse`) is an *affine* map of the current state::

    LTP:  x' = x + (b - x) (1 - exp(-k n / Pmax)),            b = 1 / (1 - exp(-k))
    LTD:  x' = x + (1 - b - x) (1 - exp(-k n / Pmax))

for n pulses, followed by C2C noise sigma sqrt(n) N(0, 1) and clipping to [0, 1]. Started at
x = 0 (LTP) or x = 1 (LTD) it gives the closed-form curves of NeuroSim.

The fit has two stages.

1. *Curves*: ``scipy.optimize.least_squares`` of every point against the closed-form curve of
   its sweep (pulse 0 of an LTP sweep at Gmin, of an LTD sweep at Gmax). This is exact for
   noise-free data, and it is the starting point of stage 2.
2. *Innovations* (when the data are noisy): the noise enters the *update* and is carried
   forward, so points of one sweep are a clipped AR(1) process, not independent scatter around
   the curve; their mean also departs from the curve wherever clipping is frequent. Stage 2 fits
   each read from the read before it, using the exact conditional mean of the clipped normal,
   E[clip(f(x_prev) + s e, 0, 1)], by least squares (a consistent conditional-moment
   estimator), alternating with the sigma estimate below until both settle. Uncertainties are
   the heteroscedasticity-robust (sandwich) covariance of these least squares, valid because
   one-step innovations are uncorrelated.

Sigma is estimated from the same step-wise innovations, never from residuals about the curve
(which accumulate noise over the sweep): s solves

    sum_k (x_k - E[Y_k | x_{k-1}; s])^2 = N / (N - 4) * sum_k Var[Y_k | x_{k-1}; s]

with Y the clipped normal, so reads pinned at Gmin or Gmax (whose innovations are shrunk by the
clipping) are accounted for rather than biasing sigma low. Read noise of real measurements adds
to these innovations (and correlates consecutive ones); the estimate then bounds C2C from above.

Very linear responses are not identifiable from noisy data (the curvature 1/A vanishes), so
A/Pmax is capped at :data:`A_NORM_CAP`; a fit at the cap is reported as linear (``a = inf`` in
the card).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path

import numpy as np
from scipy import optimize, special

from neuromem.devices.pulse import PulseArray, PulseDevice
from neuromem.exceptions import ConfigError, DataError
from neuromem.schema import closest

__all__ = ["CurveData", "FitResult", "read_curves_csv", "write_curves_csv", "synthesize_curves",
           "fit_pulse_device", "fit_curves_csv", "A_NORM_CAP"]

#: Largest A/Pmax the fit reports; a fit that reaches it is a linear device.
A_NORM_CAP = 1e3
_K_MAX = 1e3
_DIRECTIONS = ("ltp", "ltd")
_REQUIRED = ("pulse", "conductance_S", "direction")


@dataclasses.dataclass(frozen=True)
class CurveData:
    """Measured (or synthetic) pulse-response curves, one row per read.

    Attributes
    ----------
    pulse : ndarray of int64
        Pulse number within its sweep (0 = the state before the sweep's first pulse).
    conductance_S : ndarray of float64, S
        Conductance read after that many pulses.
    direction : ndarray of str
        ``'ltp'`` (potentiation) or ``'ltd'`` (depression) per row.
    cycle : ndarray of int64 or None
        Cycle number per row; without it, sweeps are told apart by row order (a new sweep
        starts where the direction changes or the pulse number does not increase).
    source : str or None
        The file the data came from.
    """

    pulse: np.ndarray
    conductance_S: np.ndarray
    direction: np.ndarray
    cycle: np.ndarray | None = None
    source: str | None = None

    def __len__(self) -> int:
        return int(self.pulse.shape[0])

    def to_csv(self, path) -> Path:
        """Write the rows as CSV (see :func:`write_curves_csv`)."""
        return write_curves_csv(path, self)


def _data_error(path, line, column, message) -> DataError:
    where = str(path)
    if line is not None:
        where += f", line {line}"
    if column is not None:
        where += f", column '{column}'"
    return DataError(f"{where}: {message}")


def read_curves_csv(path) -> CurveData:
    """Read LTP/LTD curves from a CSV file.

    Parameters
    ----------
    path : str or path-like
        CSV with a header row naming at least ``pulse``, ``conductance_S`` and ``direction``
        (``ltp`` or ``ltd``, any case) and optionally ``cycle``. Other columns are ignored;
        blank lines and lines starting with ``#`` are skipped.

    Returns
    -------
    CurveData

    Raises
    ------
    DataError
        Naming the file, line and column of a missing column, a non-numeric, negative or
        non-finite value, an unknown direction, a repeated (cycle, direction, pulse) or a file
        without data rows.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            lines = [(i, line) for i, line in enumerate(fh, start=1)
                     if line.strip() and not line.lstrip().startswith("#")]
    except OSError as err:
        raise DataError(f"{path}: cannot read curves file: {err.strerror}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file") from None
    if not lines:
        raise _data_error(path, None, None, "empty file: expected a header row "
                          f"({', '.join(_REQUIRED)}[, cycle]) and data rows")
    rows = csv.reader([text for _, text in lines])
    header = [h.strip() for h in next(rows)]
    for name in _REQUIRED:
        if name not in header:
            raise _data_error(path, lines[0][0], name, "missing column"
                              f"{closest(name, header)}; the header has: {', '.join(header)}")
    col = {name: header.index(name) for name in (*_REQUIRED, "cycle") if name in header}
    if len(lines) == 1:
        raise _data_error(path, None, None, "no data rows after the header")
    pulse, g, direction, cycle = [], [], [], []
    seen: dict[tuple, int] = {}
    for (lineno, _), row in zip(lines[1:], rows):
        if len(row) < len(header):
            raise _data_error(path, lineno, header[len(row)] if len(row) < len(header) else None,
                              f"expected {len(header)} fields, got {len(row)}")
        cells = {name: row[i].strip() for name, i in col.items()}
        p = _parse_int(cells["pulse"], path, lineno, "pulse", minimum=0)
        try:
            value = float(cells["conductance_S"])
        except ValueError:
            raise _data_error(path, lineno, "conductance_S",
                              f"expected a number in S, got {cells['conductance_S']!r}") from None
        if not math.isfinite(value):
            raise _data_error(path, lineno, "conductance_S",
                              f"expected a finite number, got {cells['conductance_S']!r}")
        if value < 0:
            raise _data_error(path, lineno, "conductance_S",
                              f"conductance must be >= 0 S, got {value:g}")
        d = cells["direction"].lower()
        if d not in _DIRECTIONS:
            raise _data_error(path, lineno, "direction", f"expected 'ltp' or 'ltd', got "
                              f"{cells['direction']!r}{closest(d, _DIRECTIONS)}")
        c = _parse_int(cells["cycle"], path, lineno, "cycle") if "cycle" in cells else None
        if c is not None:
            key = (c, d, p)
            if key in seen:
                raise _data_error(path, lineno, "pulse", f"cycle {c} {d} pulse {p} repeats "
                                  f"line {seen[key]}")
            seen[key] = lineno
        pulse.append(p)
        g.append(value)
        direction.append(d)
        cycle.append(c)
    return CurveData(np.asarray(pulse, dtype=np.int64), np.asarray(g, dtype=np.float64),
                     np.asarray(direction, dtype="<U3"),
                     np.asarray(cycle, dtype=np.int64) if "cycle" in col else None, str(path))


def _parse_int(text, path, lineno, column, minimum=None) -> int:
    try:
        value = float(text)
    except ValueError:
        raise _data_error(path, lineno, column, f"expected an integer, got {text!r}") from None
    if not math.isfinite(value) or value != round(value):
        raise _data_error(path, lineno, column, f"expected an integer, got {text!r}")
    if minimum is not None and value < minimum:
        raise _data_error(path, lineno, column, f"expected an integer >= {minimum}, got {text!r}")
    return int(value)


def write_curves_csv(path, data: CurveData) -> Path:
    """Write ``data`` as CSV with columns ``cycle`` (when known), ``pulse``, ``conductance_S``,
    ``direction``; conductances keep full precision. Returns the path."""
    path = Path(path)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        has_cycle = data.cycle is not None
        writer.writerow((["cycle"] if has_cycle else []) + list(_REQUIRED))
        for i in range(len(data)):
            row = [int(data.pulse[i]), repr(float(data.conductance_S[i])), str(data.direction[i])]
            writer.writerow(([int(data.cycle[i])] if has_cycle else []) + row)
    return path


def synthesize_curves(device_params, rng: np.random.Generator, cycles: int = 1,
                      p_max: int | None = None) -> CurveData:
    """Simulate the LTP/LTD curves a measurement of one device of a card would give.

    One device is sampled with ``make_array`` (its D2D draw, if the card has spread); each cycle
    is a full LTP sweep from the fully RESET state (Gmin) followed by a full LTD sweep from where
    the LTP sweep ended, one ``apply_pulses`` call per pulse, so the C2C noise, clipping and
    faults are the model's own. Cycles run side by side on copies of that one device.

    Parameters
    ----------
    device_params : PulseDevice or DeviceCard
        The model to sample (a card's ``params`` are used).
    rng : numpy.random.Generator
        Source of the D2D draw and of the C2C noise.
    cycles : int
        Number of LTP + LTD cycles.
    p_max : int, optional
        Pulses per sweep (default: the card's Pmax = levels - 1).

    Returns
    -------
    CurveData
        Rows ordered by cycle, then LTP before LTD, then pulse; reads at pulse 0..p_max.
    """
    params = getattr(device_params, "params", device_params)
    if not isinstance(params, PulseDevice):
        raise ConfigError(f"synthesize_curves needs a pulse device, got {type(params).__name__}",
                          key="device_params")
    cycles = int(cycles)
    if cycles < 1:
        raise ConfigError(f"cycles must be >= 1, got {cycles}", key="cycles")
    n_pulses = params.p_max if p_max is None else int(p_max)
    one = params.make_array((1,), rng)
    # length-1 parameter arrays are shared by every cell: `cycles` copies of the same device
    cells = PulseArray(params, (cycles,), one.g_min, one.g_max, one.a_ltp, one.a_ltd,
                       one.fault[:1] if one.fault.shape[0] == 1 else np.repeat(one.fault, cycles))
    reads = np.empty((2, n_pulses + 1, cycles))
    for d, sign in enumerate((1, -1)):
        reads[d, 0] = cells.g
        for p in range(1, n_pulses + 1):
            cells.apply_pulses(sign, rng=rng)
            reads[d, p] = cells.g
    # rows: cycle-major, then direction, then pulse
    g = reads.transpose(2, 0, 1).ravel()
    pulse = np.tile(np.arange(n_pulses + 1, dtype=np.int64), 2 * cycles)
    direction = np.tile(np.repeat(np.array(_DIRECTIONS, dtype="<U3"), n_pulses + 1), cycles)
    cycle = np.repeat(np.arange(cycles, dtype=np.int64), 2 * (n_pulses + 1))
    return CurveData(pulse, g.copy(), direction, cycle, None)


@dataclasses.dataclass(frozen=True)
class FitResult:
    """Pulse-model parameters fitted to measured curves.

    Attributes
    ----------
    g_min_S, g_max_S : float, S
        Conductance window.
    a_ltp, a_ltd : float
        Nonlinearity A/Pmax of potentiation and depression (at most ``a_cap``).
    p_max : int
        Pulses in a full sweep (the card's ``levels`` is ``p_max + 1``).
    ctoc_sigma : float
        Cycle-to-cycle sigma per pulse as a fraction of Gmax - Gmin.
    uncertainties : dict of str to float
        One-sigma standard errors of the fields above (NaN where not identifiable).
    residual_rms_S : float, S
        RMS of the data about the fitted closed-form curves (C2C noise accumulates here).
    innovation_rms_S : float, S
        RMS of one-step innovations (read minus its prediction from the read before).
    n_points, n_sweeps : int
        Reads and sweeps used.
    method : str
        ``'curves'`` (noise-free data, stage 1 only) or ``'innovations'``.
    a_cap : float
        The cap on A/Pmax; a value at the cap is reported as linear.
    """

    g_min_S: float
    g_max_S: float
    a_ltp: float
    a_ltd: float
    p_max: int
    ctoc_sigma: float
    uncertainties: dict
    residual_rms_S: float
    innovation_rms_S: float
    n_points: int
    n_sweeps: int
    method: str
    a_cap: float = A_NORM_CAP

    @property
    def linear_ltp(self) -> bool:
        """True when A_LTP/Pmax reached the cap: report potentiation as linear."""
        return self.a_ltp >= self.a_cap * (1 - 1e-6)

    @property
    def linear_ltd(self) -> bool:
        return self.a_ltd >= self.a_cap * (1 - 1e-6)

    def params(self, **extra) -> PulseDevice:
        """The fitted :class:`PulseDevice` (linear directions as A = inf); ``extra`` adds
        other card parameters (pulse voltages, read conditions, D2D spreads, ...)."""
        data = {"g_min_S": self.g_min_S, "g_max_S": self.g_max_S, "levels": self.p_max + 1,
                "a_ltp": math.inf if self.linear_ltp else self.a_ltp,
                "a_ltd": math.inf if self.linear_ltd else self.a_ltd,
                "ctoc_sigma": self.ctoc_sigma}
        data.update(extra)
        from neuromem.schema import build
        return build(PulseDevice, data, section="parameters")

    def curve(self, direction: str = "ltp", n_points: int | None = None):
        """Fitted closed-form curve: pulse numbers and conductances in S."""
        return self.params().curve(direction, n_points)

    def summary(self) -> str:
        """One line per parameter with its standard error."""
        u = self.uncertainties
        rows = [("g_min_S", self.g_min_S, "S"), ("g_max_S", self.g_max_S, "S"),
                ("a_ltp", self.a_ltp, ""), ("a_ltd", self.a_ltd, ""),
                ("ctoc_sigma", self.ctoc_sigma, "")]
        out = [f"{k:<11} {v:.6g} +- {u.get(k, math.nan):.2g} {unit}".rstrip()
               + ("  (linear)" if (k == "a_ltp" and self.linear_ltp)
                  or (k == "a_ltd" and self.linear_ltd) else "") for k, v, unit in rows]
        out.append(f"{'levels':<11} {self.p_max + 1}")
        out.append(f"fit: {self.method}, {self.n_points} reads in {self.n_sweeps} sweeps, "
                   f"RMS about curves {self.residual_rms_S:.3g} S, "
                   f"innovations {self.innovation_rms_S:.3g} S")
        return "\n".join(out)

    def to_card(self, name: str, source_citation: str = "", *, summary: str | None = None,
                notes: str = "", doi: str = "", extra_parameters: dict | None = None) -> str:
        """A device card (TOML text) in the layout of ``synapse_models/*.toml``.

        Parameters
        ----------
        name : str
            The card's name (use it as the file stem).
        source_citation : str
            Where the measured curves come from.
        summary : str, optional
            One-line description (default: "Pulse model fitted to measured curves").
        notes, doi : str
            Go to the ``[source]`` table when given.
        extra_parameters : dict, optional
            Further ``[parameters]`` keys (``v_ltp_V``, ``t_ltp_s``, ``v_read_V``, ...).

        Returns
        -------
        str
            TOML text that :func:`neuromem.cards.load_device` loads (checked before returning).
        """
        extra = dict(extra_parameters or {})
        self.params(**extra)  # validates the extra keys
        summary = summary if summary is not None else "Pulse model fitted to measured curves"
        u = self.uncertainties
        figures = (f"fit of {self.n_points} reads in {self.n_sweeps} sweeps ({self.method}): "
                   + ", ".join(f"{k} {getattr(self, k):.4g} +- {u.get(k, math.nan):.2g}"
                               for k in ("g_min_S", "g_max_S", "a_ltp", "a_ltd", "ctoc_sigma"))
                   + f", Pmax {self.p_max}, RMS about curves {self.residual_rms_S:.3g} S")
        lines = [f"# Device card: {summary}",
                 "# Fitted with neuromem.devices.fit (pulse model, NeuroSim form) to measured "
                 "LTP/LTD curves.",
                 f"name = {_toml_str(name)}", 'kind = "pulse"', f"summary = {_toml_str(summary)}",
                 "", "[source]", f"citation = {_toml_str(source_citation)}"]
        if doi:
            lines.append(f"doi = {_toml_str(doi)}")
        lines += [f"figures = {_toml_str(figures)}", f"notes = {_toml_str(notes)}", "",
                  "[parameters]"]

        def entry(key, value, comment=""):
            text = f"{key} = {_toml_value(value)}"
            return f"{text:<28}# {comment}" if comment else text

        def pm(key):
            err = u.get(key, math.nan)
            return f"fitted, +- {err:.2g}" if math.isfinite(err) else "fitted"

        lines += [entry("g_max_S", self.g_max_S, pm("g_max_S")),
                  entry("g_min_S", self.g_min_S, pm("g_min_S")),
                  entry("levels", self.p_max + 1, "Pmax + 1 (pulses in a full sweep + 1)")]
        for which in ("ltp", "ltd"):
            key = f"a_{which}"
            if getattr(self, f"linear_{which}"):
                lines.append(entry(key, math.inf, f"A/Pmax reached the fit's cap "
                                                  f"{self.a_cap:g}: linear"))
            else:
                lines.append(entry(key, getattr(self, key), "A/Pmax, " + pm(key)))
        lines.append(entry("ctoc_sigma", self.ctoc_sigma, "per pulse, fraction of Gmax - Gmin, "
                           + pm("ctoc_sigma")))
        lines += [entry(k, v) for k, v in extra.items()]
        text = "\n".join(lines) + "\n"
        import tomllib

        from neuromem.cards import device_from_mapping
        device_from_mapping(tomllib.loads(text), name=name)  # the card must load
        return text


def _toml_str(text: str) -> str:
    return json.dumps(str(text), ensure_ascii=False)  # JSON escapes are valid TOML escapes


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _toml_str(value)
    value = float(value)
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = f"{value:.6g}"
    return text if any(c in text for c in ".en") else text + ".0"


# ----------------------------------------------------------------------------- the model


def _sweep_x(k, t):
    """Normalised closed-form sweep (0 -> 1) at t = P / Pmax for k = Pmax / A >= 0.

    expm1(-k t) / expm1(-k), continued to the linear response t at k = 0.
    """
    k = np.asarray(k, dtype=np.float64)
    small = k < 1e-8
    safe = np.where(small, 1.0, k)
    return np.where(small, t + 0.5 * k * t * (1.0 - t), np.expm1(-safe * t) / np.expm1(-safe))


def _step_x(x, n, ltd, k_ltp, k_ltd, p_max):
    """Noise-free normalised state after n pulses from x (affine in x; linear at k = 0)."""
    k = np.where(ltd, k_ltd, k_ltp)
    t = n / p_max
    keep = 1.0 + np.expm1(-k * t)       # exp(-n / A): the part of x that remains
    move = _sweep_x(k, t)               # the sweep's progress from its start after n pulses
    return np.where(ltd, x * keep - (keep - 1.0) - move, x * keep + move)


def _clipped_moments(m, s):
    """Mean and variance of clip(N(m, s^2), 0, 1), elementwise (s > 0)."""
    a = -m / s
    z = (1.0 - m) / s
    cdf_a, cdf_z = special.ndtr(a), special.ndtr(z)
    pdf_a = np.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)
    pdf_z = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    inside = cdf_z - cdf_a
    mean = (1.0 - cdf_z) + m * inside + s * (pdf_a - pdf_z)
    second = ((1.0 - cdf_z) + m * m * inside + 2 * m * s * (pdf_a - pdf_z)
              + s * s * (inside + a * pdf_a - z * pdf_z))
    return mean, np.maximum(second - mean * mean, 0.0)


@dataclasses.dataclass
class _Sweeps:
    """Data arranged for the fit: curve points and one-step transitions."""

    pulse: np.ndarray      # per point
    g: np.ndarray
    ltd: np.ndarray        # bool per point
    prev: np.ndarray       # per transition: index of the earlier read
    next: np.ndarray       # index of the later read
    n: np.ndarray          # pulses between them
    t_ltd: np.ndarray      # bool per transition
    n_sweeps: int


def _arrange(pulse, conductance, direction, cycle) -> _Sweeps:
    pulse = np.asarray(pulse)
    g = np.asarray(conductance, dtype=np.float64)
    direction = np.char.lower(np.asarray(direction).astype(str))
    n = pulse.shape[0]
    if g.shape != (n,) or direction.shape != (n,) or pulse.ndim != 1:
        raise ConfigError("pulse, conductance and direction must be 1-D arrays of one length "
                          f"(got {pulse.shape}, {g.shape}, {direction.shape})", key="pulse")
    if n == 0:
        raise DataError("no curve data to fit")
    if not np.all(np.isfinite(g)) or np.any(g < 0):
        raise DataError("conductances must be finite and >= 0 S")
    if np.any(pulse < 0) or np.any(pulse != np.round(pulse)):
        raise DataError("pulse numbers must be integers >= 0")
    bad = ~np.isin(direction, _DIRECTIONS)
    if np.any(bad):
        raise DataError(f"direction must be 'ltp' or 'ltd', got {direction[bad][0]!r}")
    pulse = pulse.astype(np.int64)
    ltd = direction == "ltd"
    if cycle is not None:
        cycle = np.asarray(cycle, dtype=np.int64)
        if cycle.shape != (n,):
            raise ConfigError("cycle must have one entry per read", key="cycle")
        keys = np.stack([cycle, ltd.astype(np.int64)], axis=1)
        _, sweep = np.unique(keys, axis=0, return_inverse=True)
    else:  # a new sweep where the direction changes or the pulse number does not increase
        new = np.ones(n, dtype=bool)
        new[1:] = (ltd[1:] != ltd[:-1]) | (pulse[1:] <= pulse[:-1])
        sweep = np.cumsum(new) - 1
    sweep = np.asarray(sweep).ravel()
    order = np.lexsort((pulse, sweep))
    same = sweep[order][1:] == sweep[order][:-1]
    dp = np.diff(pulse[order])
    if np.any(same & (dp == 0)):
        i = order[1:][same & (dp == 0)][0]
        raise DataError(f"pulse {pulse[i]} of a {direction[i]} sweep appears twice")
    for flag, name in ((False, "ltp"), (True, "ltd")):
        if np.count_nonzero(ltd == flag) < 3:
            raise DataError(f"need at least 3 {name} reads to fit both curves, got "
                            f"{np.count_nonzero(ltd == flag)}")
    return _Sweeps(pulse, g, ltd, order[:-1][same], order[1:][same], dp[same].astype(float),
                   ltd[order[1:][same]], int(sweep.max()) + 1)


def _unpack(theta, scale):
    return theta[0] * scale, theta[1] * scale, theta[2], theta[3]


def _curve_residuals(theta, s: _Sweeps, p_max, scale):
    g_min, g_max, k_ltp, k_ltd = _unpack(theta, scale)
    span = g_max - g_min
    x = _sweep_x(np.where(s.ltd, k_ltd, k_ltp), s.pulse / p_max)
    model = np.where(s.ltd, g_max - span * x, g_min + span * x)
    return (s.g - model) / scale


def _innovation_terms(theta, s: _Sweeps, p_max, scale, sigma):
    """Normalised reads, their conditional means and variances under the clipped model."""
    g_min, g_max, k_ltp, k_ltd = _unpack(theta, scale)
    span = g_max - g_min
    x_prev = (s.g[s.prev] - g_min) / span
    x_next = (s.g[s.next] - g_min) / span
    m = _step_x(x_prev, s.n, s.t_ltd, k_ltp, k_ltd, p_max)
    if sigma <= 0:
        return x_next, np.clip(m, 0.0, 1.0), np.zeros_like(m), span
    mean, var = _clipped_moments(m, sigma * np.sqrt(s.n))
    return x_next, mean, var, span


def _innovation_residuals(theta, s, p_max, scale, sigma, weight=1.0):
    x_next, mean, _, span = _innovation_terms(theta, s, p_max, scale, sigma)
    return (x_next - mean) * weight * span / scale


def _weights(theta, s, p_max, scale, sigma):
    """Quasi-likelihood weights sigma sqrt(n) / sd of each read (the sd floored at a tenth)."""
    _, _, var, _ = _innovation_terms(theta, s, p_max, scale, sigma)
    sd = sigma * np.sqrt(s.n)
    return sd / np.sqrt(np.maximum(var, (0.1 * sd) ** 2))


def _solve_sigma(theta, s, p_max, scale, sigma0) -> float:
    n_obs = s.prev.shape[0]
    dof = n_obs / max(n_obs - 4, 1)

    def gap(sig):
        x_next, mean, var, _ = _innovation_terms(theta, s, p_max, scale, sig)
        return float(np.sum((x_next - mean) ** 2) - dof * np.sum(var))

    lo, hi = 1e-9, max(4 * sigma0, 1e-6)
    while gap(hi) > 0 and hi < 10:
        hi *= 2
    if gap(lo) <= 0:
        return lo
    if gap(hi) > 0:
        return hi
    return optimize.brentq(gap, lo, hi, xtol=1e-10, rtol=1e-10)


def fit_pulse_device(pulse, conductance, direction, *, cycle=None, p_max: int | None = None,
                     a_cap: float = A_NORM_CAP, max_iter: int = 10) -> FitResult:
    """Fit Gmin, Gmax, A_LTP, A_LTD, Pmax and C2C sigma of the pulse model to LTP/LTD curves.

    Parameters
    ----------
    pulse : array_like of int
        Pulse number of each read within its sweep (0 = before the first pulse).
    conductance : array_like of float, S
        Conductance read after that many pulses.
    direction : array_like of str
        ``'ltp'`` or ``'ltd'`` per read.
    cycle : array_like of int, optional
        Cycle of each read; without it sweeps are split by row order (see :class:`CurveData`).
    p_max : int, optional
        Pulses in a full sweep; default: the largest pulse number in the data.
    a_cap : float
        Largest A/Pmax reported; a fit at the cap means a linear response.
    max_iter : int
        Most alternations of the innovation fit and the sigma estimate.

    Returns
    -------
    FitResult

    Notes
    -----
    Stage 1 fits the closed-form curves, stage 2 the one-step innovations with sigma; see the
    module docstring for the estimators and why sigma comes from innovations.

    Examples
    --------
    >>> import numpy as np
    >>> from neuromem.cards import load_device
    >>> device = load_device("epiram_choi2018").params.with_updates(ctoc_sigma=0.0)
    >>> data = synthesize_curves(device, np.random.default_rng(1))
    >>> fit = fit_pulse_device(data.pulse, data.conductance_S, data.direction, cycle=data.cycle)
    >>> fit.method, fit.p_max, round(fit.a_ltp, 3), round(fit.g_max_S / device.g_max_S, 6)
    ('curves', 63, 2.396, 1.0)
    """
    s = _arrange(pulse, conductance, direction, cycle)
    p_max = int(s.pulse.max()) if p_max is None else int(p_max)
    if p_max < 2 or s.pulse.max() > p_max:
        raise DataError(f"p_max must be >= 2 and cover every pulse number (largest "
                        f"{s.pulse.max()}), got {p_max}")
    scale = float(np.max(s.g)) or 1.0
    lo = np.zeros(4)  # theta = Gmin, Gmax (in units of scale), k = Pmax / A = 1 / (A/Pmax)
    hi = np.array([np.inf, np.inf, _K_MAX, _K_MAX])
    g0_ltp = s.g[~s.ltd & (s.pulse == s.pulse[~s.ltd].min())]
    g0_ltd = s.g[s.ltd & (s.pulse == s.pulse[s.ltd].min())]
    best = None
    for k0 in (0.05, 1.0, 4.0):  # a few starts: the curves' shape is far from convex in k
        start = np.array([np.median(g0_ltp) / scale, np.median(g0_ltd) / scale, k0, k0])
        if start[1] <= start[0]:
            start[:2] = np.min(s.g) / scale, 1.0
        res = optimize.least_squares(_curve_residuals, start, bounds=(lo, hi),
                                     args=(s, p_max, scale), x_scale="jac", xtol=1e-14,
                                     ftol=1e-14, gtol=1e-14)
        if best is None or res.cost < best.cost:
            best = res
    theta = best.x
    span = (theta[1] - theta[0]) * scale
    x_next, mean, _, _ = _innovation_terms(theta, s, p_max, scale, 0.0)
    sigma = float(np.sqrt(np.mean((x_next - mean) ** 2 / s.n)))
    method, jac, resid = "curves", best.jac, best.fun
    if s.prev.shape[0] >= 8 and sigma > 1e-9:
        method = "innovations"
        for _ in range(max_iter):
            sigma = _solve_sigma(theta, s, p_max, scale, sigma)
            weight = _weights(theta, s, p_max, scale, sigma)
            res = optimize.least_squares(_innovation_residuals, theta, bounds=(lo, hi),
                                         args=(s, p_max, scale, sigma, weight), x_scale="jac")
            step = np.max(np.abs(res.x - theta) / np.maximum(np.abs(theta), 1e-3))
            theta = res.x
            if step < 1e-4:  # far below any standard error
                break
        sigma = _solve_sigma(theta, s, p_max, scale, sigma)
        weight = _weights(theta, s, p_max, scale, sigma)
        res = optimize.least_squares(_innovation_residuals, theta, bounds=(lo, hi),
                                     args=(s, p_max, scale, sigma, weight), x_scale="jac")
        theta, jac, resid = res.x, res.jac, res.fun
    g_min, g_max, k_ltp, k_ltd = _unpack(theta, scale)
    span = g_max - g_min
    if g_min < 0 or span <= 0:
        raise DataError(f"the fit found no valid conductance window (Gmin {g_min:.3g} S, "
                        f"Gmax {g_max:.3g} S): are 'ltp' and 'ltd' swapped?")
    cov = _sandwich(jac, resid)
    se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    x_next, mean, _, _ = _innovation_terms(theta, s, p_max, scale, 0.0)
    n_trans = s.prev.shape[0]
    interior = np.count_nonzero((x_next > 1e-12) & (x_next < 1 - 1e-12))
    at_cap = theta[2:] * a_cap <= 1.0  # A at the cap: linear, its error undefined
    uncertainties = {
        "g_min_S": float(se[0] * scale), "g_max_S": float(se[1] * scale),
        "a_ltp": math.nan if at_cap[0] else float(se[2] / k_ltp ** 2),
        "a_ltd": math.nan if at_cap[1] else float(se[3] / k_ltd ** 2),
        "ctoc_sigma": (float(sigma / math.sqrt(2 * interior)) if method == "innovations"
                       and interior else math.nan)}
    curve_res = _curve_residuals(theta, s, p_max, scale) * scale
    innov = (s.g[s.next] - (g_min + span * mean))
    return FitResult(g_min_S=float(g_min), g_max_S=float(g_max),
                     a_ltp=float(a_cap if at_cap[0] else 1.0 / k_ltp),
                     a_ltd=float(a_cap if at_cap[1] else 1.0 / k_ltd),
                     p_max=p_max, ctoc_sigma=float(sigma) if method == "innovations" else 0.0,
                     uncertainties=uncertainties,
                     residual_rms_S=float(np.sqrt(np.mean(curve_res ** 2))),
                     innovation_rms_S=float(np.sqrt(np.mean(innov ** 2))) if n_trans else 0.0,
                     n_points=int(s.g.shape[0]), n_sweeps=s.n_sweeps, method=method,
                     a_cap=float(a_cap))


def _sandwich(jac, resid) -> np.ndarray:
    """Heteroscedasticity-robust covariance (J'J)^-1 J' diag(r^2) J (J'J)^-1."""
    jac = np.asarray(jac.todense() if hasattr(jac, "todense") else jac)
    bread = np.linalg.pinv(jac.T @ jac)
    meat = (jac * resid[:, None] ** 2).T @ jac
    return bread @ meat @ bread


def fit_curves_csv(path, **kwargs) -> FitResult:
    """Read a curves CSV (:func:`read_curves_csv`) and fit it (:func:`fit_pulse_device`)."""
    data = read_curves_csv(path)
    return fit_pulse_device(data.pulse, data.conductance_S, data.direction, cycle=data.cycle,
                            **kwargs)
