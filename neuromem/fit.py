"""Fit the behavioural pulse model (:class:`~neuromem.devices.pulse.PulseDevice`) to measured
potentiation (LTP) and depression (LTD) curves.

:func:`read_curves_csv` reads conductances after each pulse of LTP and LTD sweeps;
:func:`fit_pulse_device` returns Gmin, Gmax, A_LTP/Pmax, A_LTD/Pmax, Pmax and the C2C sigma with
standard errors (:class:`FitResult`, which writes a card with :meth:`FitResult.to_card`);
:func:`synthesize_curves` makes curves from a card through ``make_array`` / ``apply_pulses``.

Notes
-----
With x = (G - Gmin) / (Gmax - Gmin) and k = Pmax / A, n pulses of the model are an *affine* map
of the state, followed by C2C noise s sqrt(n) N(0, 1) and clipping to [0, 1]::

    LTP:  x' = x e + S(n),        LTD:  x' = x e + (1 - e) - S(n)
    e = exp(-k n / Pmax),         S(n) = (1 - exp(-k n / Pmax)) / (1 - exp(-k))

S(P) is NeuroSim's closed-form sweep (LTP from Gmin: G = Gmin + (Gmax - Gmin) S(P)); k = 0 is
the linear device.

Stage 1 (*curves*) fits every read to the closed-form curve of its sweep (LTP starting at Gmin,
LTD at Gmax) with ``scipy.optimize.least_squares``; exact on noise-free data, where it stops.

Stage 2 (*innovations*), for noisy data: C2C noise enters the *update* and is carried forward,
so a sweep's reads are a clipped AR(1) process, not independent scatter about the curve, and
their mean leaves the curve wherever clipping is frequent. Each read is predicted from the one
before with the exact conditional mean of the clipped normal, E[clip(f(x_prev) + s e, 0, 1)];
the parameters are the weighted least-squares solution (weights 1/sd of each prediction, the sd
floored at s/10: a consistent quasi-likelihood estimator). Standard errors are the robust
(sandwich) covariance, valid because one-step innovations are uncorrelated.

Sigma comes from the same innovations, never from residuals about the curve (they accumulate
noise along the sweep: ~3x sigma for the TaOx/HfOx card). It solves the moment equation

    sum_k (x_k - E[Y_k | x_{k-1}; s])^2 = N / (N - 4) sum_k Var[Y_k | x_{k-1}; s]

(Y the clipped normal), so reads pinned at Gmin or Gmax, whose innovations clipping shrinks, do
not bias it low; it alternates with the parameter fit until both settle. Its relative error is
about 1 / sqrt(2 N) for N unclipped transitions (~5 % for one TaOx/HfOx cycle). Read noise in
real data adds to the innovations, so sigma then bounds C2C from above.

How well A is known from noisy curves is a matter of information, not of the estimator (a Tobit
maximum-likelihood fit with known bounds spreads as much). At the published C2C, the relative sd
of A/Pmax per cycle is ~9 % for PCMO and HZO FeFET (0.5 % from 300 cycles), ~11 % (LTD) and
~65 % (LTP) for Ag:a-Si, > 200 % for EpiRAM and TaOx/HfOx LTD; TaOx/HfOx LTP (A/Pmax 30) cannot
be told from linear. A/Pmax at or beyond ``a_cap`` (:data:`A_NORM_CAP`) is reported as linear.
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
from neuromem.schema import build, closest

__all__ = ["CurveData", "FitResult", "read_curves_csv", "write_curves_csv", "synthesize_curves",
           "fit_pulse_device", "fit_curves_csv", "A_NORM_CAP"]

#: Largest A/Pmax the fit reports; beyond it the response is reported as linear.
A_NORM_CAP = 1e3
_K_MAX = 1e3            # k = Pmax / A: A/Pmax >= 1e-3
_DIRECTIONS = ("ltp", "ltd")
_REQUIRED = ("pulse", "conductance_S", "direction")


@dataclasses.dataclass(frozen=True)
class CurveData:
    """Pulse-response curves, one row per read.

    Attributes
    ----------
    pulse : ndarray of int64
        Pulse number within its sweep (0 = the state before the sweep's first pulse).
    conductance_S : ndarray of float64, S
        Conductance read after that many pulses.
    direction : ndarray of str
        ``'ltp'`` or ``'ltd'`` per row.
    cycle : ndarray of int64 or None
        Cycle per row; without it a new sweep starts where the direction changes or the pulse
        number does not increase.
    source : str or None
        The file the rows came from.
    """

    pulse: np.ndarray
    conductance_S: np.ndarray
    direction: np.ndarray
    cycle: np.ndarray | None = None
    source: str | None = None

    def __len__(self) -> int:
        return int(self.pulse.shape[0])

    def __getitem__(self, column: str):
        """A column by its CSV name (``data["conductance_S"]``; ``"cycle"`` may be None)."""
        if column not in (*_REQUIRED, "cycle"):
            raise KeyError(column)
        return getattr(self, column)

    def get(self, column: str, default=None):
        value = self[column]
        return default if value is None else value

    def to_csv(self, path) -> Path:
        """Write the rows as CSV (see :func:`write_curves_csv`)."""
        return write_curves_csv(path, self)


def _bad(path, line, column, message) -> DataError:
    where = str(path) + (f", line {line}" if line else "") + (f", column '{column}'"
                                                              if column else "")
    return DataError(f"{where}: {message}")


def _number(text, path, line, column, *, integer=False, minimum=None):
    what = "an integer" if integer else "a number"
    try:
        value = float(text)
    except ValueError:
        raise _bad(path, line, column, f"expected {what}, got {text!r}") from None
    if not math.isfinite(value) or (integer and value != round(value)):
        raise _bad(path, line, column, f"expected {'an integer' if integer else 'a finite number'}"
                   f", got {text!r}")
    if minimum is not None and value < minimum:
        raise _bad(path, line, column, f"expected {what} >= {minimum}, got {text!r}")
    return int(value) if integer else value


def read_curves_csv(path) -> CurveData:
    """Read LTP/LTD curves from a CSV file.

    Parameters
    ----------
    path : str or path-like
        CSV whose header names ``pulse``, ``conductance_S`` (in S) and ``direction`` (``ltp`` or
        ``ltd``, any case), optionally ``cycle``. Other columns are ignored; blank lines and
        lines starting with ``#`` are skipped.

    Returns
    -------
    CurveData

    Raises
    ------
    DataError
        Naming the file, line and column of a missing column, a non-numeric, non-finite or
        negative value, an unknown direction, a repeated (cycle, direction, pulse), a short row,
        or a file without data.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            lines = [(i, text) for i, text in enumerate(fh, start=1)
                     if text.strip() and not text.lstrip().startswith("#")]
    except OSError as err:
        raise DataError(f"{path}: cannot read curves file: {err.strerror}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file") from None
    if not lines:
        raise _bad(path, None, None, f"empty file: expected a header ({', '.join(_REQUIRED)}"
                   "[, cycle]) and data rows")
    rows = csv.reader([text for _, text in lines])
    header = [h.strip() for h in next(rows)]
    for name in _REQUIRED:
        if name not in header:
            raise _bad(path, lines[0][0], name, f"missing column{closest(name, header)}; the "
                       f"header has: {', '.join(header)}")
    if len(lines) == 1:
        raise _bad(path, None, None, "no data rows after the header")
    col = {name: header.index(name) for name in (*_REQUIRED, "cycle") if name in header}
    out = {"pulse": [], "g": [], "direction": [], "cycle": []}
    seen: dict[tuple, int] = {}
    for (line, _), row in zip(lines[1:], rows):
        if len(row) < len(header):
            raise _bad(path, line, header[len(row)], f"expected {len(header)} fields, got "
                       f"{len(row)}")
        cell = {name: row[i].strip() for name, i in col.items()}
        p = _number(cell["pulse"], path, line, "pulse", integer=True, minimum=0)
        g = _number(cell["conductance_S"], path, line, "conductance_S")
        if g < 0:
            raise _bad(path, line, "conductance_S", f"conductance must be >= 0 S, got {g:g}")
        d = cell["direction"].lower()
        if d not in _DIRECTIONS:
            raise _bad(path, line, "direction", f"expected 'ltp' or 'ltd', got "
                       f"{cell['direction']!r}{closest(d, _DIRECTIONS)}")
        if "cycle" in cell:
            c = _number(cell["cycle"], path, line, "cycle", integer=True)
            if (c, d, p) in seen:
                raise _bad(path, line, "pulse", f"cycle {c} {d} pulse {p} repeats line "
                           f"{seen[(c, d, p)]}")
            seen[(c, d, p)] = line
            out["cycle"].append(c)
        out["pulse"].append(p)
        out["g"].append(g)
        out["direction"].append(d)
    return CurveData(np.asarray(out["pulse"], dtype=np.int64), np.asarray(out["g"]),
                     np.asarray(out["direction"], dtype="<U3"),
                     np.asarray(out["cycle"], dtype=np.int64) if "cycle" in col else None,
                     str(path))


def write_curves_csv(path, data: CurveData) -> Path:
    """Write ``data`` as CSV: ``cycle`` (when known), ``pulse``, ``conductance_S``,
    ``direction``, conductances at full precision. Returns the path."""
    path = Path(path)
    has_cycle = data.cycle is not None
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow((["cycle"] if has_cycle else []) + list(_REQUIRED))
        for i in range(len(data)):
            writer.writerow(([int(data.cycle[i])] if has_cycle else [])
                            + [int(data.pulse[i]), repr(float(data.conductance_S[i])),
                               str(data.direction[i])])
    return path


def synthesize_curves(device_params, rng: np.random.Generator, cycles: int = 1,
                      p_max: int | None = None) -> CurveData:
    """The LTP/LTD curves a measurement of one device of a card would give.

    One device is sampled with ``make_array`` (its D2D draw and fault, if the card has any);
    each cycle is a full LTP sweep from the fully RESET state (Gmin) and a full LTD sweep from
    where it ended, one ``apply_pulses`` call per pulse, so C2C noise and clipping are the
    model's own. The cycles run side by side on copies of that one device.

    Parameters
    ----------
    device_params : PulseDevice or DeviceCard
        The model (a card's ``params`` are used).
    rng : numpy.random.Generator
        Source of the D2D draw and the C2C noise.
    cycles : int
        LTP + LTD cycles.
    p_max : int, optional
        Pulses per sweep (default: the card's Pmax = levels - 1).

    Returns
    -------
    CurveData
        Rows by cycle, then LTP before LTD, then pulse 0..p_max.
    """
    params = getattr(device_params, "params", device_params)
    if not isinstance(params, PulseDevice):
        raise ConfigError(f"synthesize_curves needs a pulse device, got {type(params).__name__}",
                          key="device_params")
    cycles, n = int(cycles), params.p_max if p_max is None else int(p_max)
    if cycles < 1 or n < 1:
        raise ConfigError(f"cycles and p_max must be >= 1, got {cycles} and {n}", key="cycles")
    one = params.make_array((1,), rng)
    # length-1 parameter arrays are shared by every cell: `cycles` copies of one device
    cells = PulseArray(params, (cycles,), one.g_min, one.g_max, one.a_ltp, one.a_ltd, one.fault)
    reads = np.empty((cycles, 2, n + 1))
    for d, sign in enumerate((1, -1)):
        reads[:, d, 0] = cells.g
        for p in range(1, n + 1):
            cells.apply_pulses(sign, rng=rng)
            reads[:, d, p] = cells.g
    return CurveData(np.tile(np.arange(n + 1, dtype=np.int64), 2 * cycles), reads.ravel(),
                     np.tile(np.repeat(np.array(_DIRECTIONS, dtype="<U3"), n + 1), cycles),
                     np.repeat(np.arange(cycles, dtype=np.int64), 2 * (n + 1)))


_FIELDS = ("g_min_S", "g_max_S", "a_ltp", "a_ltd", "ctoc_sigma")


@dataclasses.dataclass(frozen=True)
class FitResult:
    """Pulse-model parameters fitted to curves.

    Attributes
    ----------
    g_min_S, g_max_S : float, S
        Conductance window.
    a_ltp, a_ltd : float
        Nonlinearity A/Pmax of potentiation and depression (``a_cap`` when linear).
    p_max : int
        Pulses in a full sweep (a card's ``levels`` is ``p_max + 1``).
    ctoc_sigma : float
        Cycle-to-cycle sigma per pulse, a fraction of Gmax - Gmin.
    uncertainties : dict of str to float
        One-sigma standard errors of the five fields above (NaN where undefined).
    residual_rms_S : float, S
        RMS of the reads about the fitted curves (includes the C2C noise carried forward).
    innovation_rms_S : float, S
        RMS of one-step innovations (read minus its prediction from the read before).
    n_points, n_sweeps : int
        Reads and sweeps used.
    method : str
        ``'curves'`` (noise-free data) or ``'innovations'``.
    a_cap : float
        A/Pmax at or beyond which a direction is reported as linear.
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
        """True when potentiation is reported as linear (A/Pmax reached ``a_cap``)."""
        return self.a_ltp >= self.a_cap

    @property
    def linear_ltd(self) -> bool:
        """True when depression is reported as linear (A/Pmax reached ``a_cap``)."""
        return self.a_ltd >= self.a_cap

    def params(self, **extra) -> PulseDevice:
        """The fitted :class:`PulseDevice` (a linear direction has A = inf); ``extra`` adds
        card parameters (pulse voltages and widths, read conditions, D2D spreads, ...)."""
        data = {"g_min_S": self.g_min_S, "g_max_S": self.g_max_S, "levels": self.p_max + 1,
                "a_ltp": math.inf if self.linear_ltp else self.a_ltp,
                "a_ltd": math.inf if self.linear_ltd else self.a_ltd,
                "ctoc_sigma": self.ctoc_sigma, **extra}
        return build(PulseDevice, data, section="parameters")

    def curve(self, direction: str = "ltp", n_points: int | None = None):
        """Fitted noise-free curve: pulse numbers and conductances in S."""
        return self.params().curve(direction, n_points)

    def _pm(self, key: str) -> str:
        err = self.uncertainties.get(key, math.nan)
        return f"+- {err:.2g}" if math.isfinite(err) else "(no error estimate)"

    def summary(self) -> str:
        """The fitted values with their standard errors, one per line."""
        out = [f"{k:<11} {getattr(self, k):.6g} {self._pm(k)}"
               + ("  (linear)" if k.startswith("a_") and getattr(self, "linear_" + k[2:])
                  else "") for k in _FIELDS]
        return "\n".join(out + [f"{'levels':<11} {self.p_max + 1}",
                                f"fit: {self.method}, {self.n_points} reads in {self.n_sweeps}"
                                f" sweeps; RMS about the curves {self.residual_rms_S:.3g} S, "
                                f"of innovations {self.innovation_rms_S:.3g} S"])

    def to_card(self, name: str, source_citation: str = "", *, summary: str | None = None,
                notes: str = "", doi: str = "", extra_parameters: dict | None = None) -> str:
        """A device card (TOML text) laid out like ``synapse_models/*.toml``.

        Parameters
        ----------
        name : str
            The card's name (save it as ``NAME.toml``).
        source_citation : str
            Where the measured curves come from.
        summary : str, optional
            One-line description (default: "Pulse model fitted to measured curves").
        notes, doi : str
            Written to the ``[source]`` table (``doi`` only when given).
        extra_parameters : dict, optional
            Further ``[parameters]`` keys (``v_ltp_V``, ``t_ltp_s``, ``v_read_V``, ...).

        Returns
        -------
        str
            TOML text that :func:`neuromem.cards.load_device` loads (checked here).
        """
        import tomllib

        from neuromem.cards import device_from_mapping

        extra = dict(extra_parameters or {})
        self.params(**extra)  # validates the extra keys and values
        summary = "Pulse model fitted to measured curves" if summary is None else summary
        figures = (f"neuromem fit ({self.method}) of {self.n_points} reads in {self.n_sweeps} "
                   "sweeps: " + ", ".join(f"{k} {getattr(self, k):.4g} {self._pm(k)}"
                                          for k in _FIELDS)
                   + f", Pmax {self.p_max}, RMS about the curves {self.residual_rms_S:.3g} S")

        def entry(key, value, comment=""):
            text = f"{key} = {_toml_value(value)}"
            return f"{text:<28}# {comment}" if comment else text

        lines = [f"# Device card: {summary}",
                 "# Pulse model (NeuroSim form) fitted with neuromem.fit to LTP/LTD "
                 "curves;",
                 "# the errors after +- are one standard error.",
                 f"name = {_toml_str(name)}", 'kind = "pulse"', f"summary = {_toml_str(summary)}",
                 "", "[source]", f"citation = {_toml_str(source_citation)}"]
        lines += [f"doi = {_toml_str(doi)}"] if doi else []
        lines += [f"figures = {_toml_str(figures)}", f"notes = {_toml_str(notes)}", "",
                  "[parameters]",
                  entry("g_max_S", self.g_max_S, "fitted " + self._pm("g_max_S")),
                  entry("g_min_S", self.g_min_S, "fitted " + self._pm("g_min_S")),
                  entry("levels", self.p_max + 1, "pulses in a full sweep + 1")]
        for which in ("ltp", "ltd"):
            if getattr(self, f"linear_{which}"):
                lines.append(entry(f"a_{which}", math.inf,
                                   f"linear: fitted A/Pmax >= {self.a_cap:g}"))
            else:
                lines.append(entry(f"a_{which}", getattr(self, f"a_{which}"),
                                   "A/Pmax, fitted " + self._pm(f"a_{which}")))
        lines.append(entry("ctoc_sigma", self.ctoc_sigma,
                           "per pulse, of Gmax - Gmin, fitted " + self._pm("ctoc_sigma")))
        lines += [entry(k, v) for k, v in extra.items()]
        text = "\n".join(lines) + "\n"
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


# ---------------------------------------------------------------------------------- the model


def _sweep_x(k, t):
    """S: the closed-form sweep (0 -> 1) at t = P / Pmax for k = Pmax / A >= 0 (t at k = 0)."""
    k = np.asarray(k, dtype=np.float64)
    small = k < 1e-8
    safe = np.where(small, 1.0, k)
    return np.where(small, t + 0.5 * k * t * (1.0 - t), np.expm1(-safe * t) / np.expm1(-safe))


def _step_x(x, n, ltd, k_ltp, k_ltd, p_max):
    """Noise-free normalised state after n pulses from x."""
    k = np.where(ltd, k_ltd, k_ltp)
    keep = 1.0 + np.expm1(-k * n / p_max)
    move = _sweep_x(k, n / p_max)
    return np.where(ltd, x * keep + (1.0 - keep) - move, x * keep + move)


def _clipped_moments(m, s):
    """Mean and variance of clip(N(m, s^2), 0, 1), elementwise (s > 0)."""
    a, z = -m / s, (1.0 - m) / s
    cdf_a, cdf_z = special.ndtr(a), special.ndtr(z)
    pdf_a = np.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)
    pdf_z = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    inside = cdf_z - cdf_a
    mean = (1.0 - cdf_z) + m * inside + s * (pdf_a - pdf_z)
    second = ((1.0 - cdf_z) + m * m * inside + 2 * m * s * (pdf_a - pdf_z)
              + s * s * (inside + a * pdf_a - z * pdf_z))
    return mean, np.maximum(second - mean * mean, 0.0)


@dataclasses.dataclass
class _Data:
    """Reads arranged for the fit: points and one-step transitions within sweeps."""

    pulse: np.ndarray      # per read
    g: np.ndarray
    ltd: np.ndarray
    prev: np.ndarray       # per transition: the earlier read, the later read, pulses between
    next: np.ndarray
    n: np.ndarray
    t_ltd: np.ndarray
    n_sweeps: int


def _arrange(pulse, conductance, direction, cycle) -> _Data:
    pulse, g = np.asarray(pulse), np.asarray(conductance, dtype=np.float64)
    direction = np.char.lower(np.asarray(direction).astype(str))
    n = pulse.shape[0] if pulse.ndim == 1 else -1
    if n < 0 or g.shape != (n,) or direction.shape != (n,):
        raise ConfigError("pulse, conductance and direction must be 1-D arrays of one length "
                          f"(got shapes {pulse.shape}, {g.shape}, {direction.shape})",
                          key="pulse")
    if not np.all(np.isfinite(g)) or np.any(g < 0):
        raise DataError("conductances must be finite and >= 0 S")
    if np.any(pulse < 0) or np.any(pulse != np.round(pulse)):
        raise DataError("pulse numbers must be integers >= 0")
    bad = ~np.isin(direction, _DIRECTIONS)
    if np.any(bad):
        raise DataError(f"direction must be 'ltp' or 'ltd', got {direction[bad][0]!r}")
    pulse, ltd = pulse.astype(np.int64), direction == "ltd"
    for flag, name in ((False, "ltp"), (True, "ltd")):
        if np.count_nonzero(ltd == flag) < 3:
            raise DataError(f"need at least 3 {name} reads to fit both curves, got "
                            f"{np.count_nonzero(ltd == flag)}")
    if cycle is not None:
        cycle = np.asarray(cycle, dtype=np.int64)
        if cycle.shape != (n,):
            raise ConfigError("cycle must have one entry per read", key="cycle")
        _, sweep = np.unique(np.stack([cycle, ltd], axis=1), axis=0, return_inverse=True)
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
    nxt = order[1:][same]
    return _Data(pulse, g, ltd, order[:-1][same], nxt, dp[same].astype(float), ltd[nxt],
                 int(sweep.max()) + 1)


def _curve_residuals(theta, d: _Data, p_max, scale):
    g_min, g_max = theta[0] * scale, theta[1] * scale
    x = _sweep_x(np.where(d.ltd, theta[3], theta[2]), d.pulse / p_max)
    model = np.where(d.ltd, g_max - (g_max - g_min) * x, g_min + (g_max - g_min) * x)
    return (d.g - model) / scale


def _innovations(theta, d: _Data, p_max, scale, sigma):
    """Normalised later reads, their conditional means and variances, and the window in S."""
    g_min, span = theta[0] * scale, (theta[1] - theta[0]) * scale
    x_prev, x_next = (d.g[d.prev] - g_min) / span, (d.g[d.next] - g_min) / span
    m = _step_x(x_prev, d.n, d.t_ltd, theta[2], theta[3], p_max)
    if sigma <= 0:
        return x_next, np.clip(m, 0.0, 1.0), np.zeros_like(m), span
    mean, var = _clipped_moments(m, sigma * np.sqrt(d.n))
    return x_next, mean, var, span


def _innovation_residuals(theta, d, p_max, scale, sigma, weight):
    x_next, mean, _, span = _innovations(theta, d, p_max, scale, sigma)
    return (x_next - mean) * weight * span / scale


def _weights(theta, d, p_max, scale, sigma):
    """s sqrt(n) / sd of each prediction, the sd floored at a tenth of s sqrt(n)."""
    _, _, var, _ = _innovations(theta, d, p_max, scale, sigma)
    sd = sigma * np.sqrt(d.n)
    return sd / np.sqrt(np.maximum(var, (0.1 * sd) ** 2))


def _solve_sigma(theta, d, p_max, scale, sigma0) -> float:
    """The moment estimate of sigma (module Notes), by bracketing and brentq."""
    dof = d.prev.shape[0] / max(d.prev.shape[0] - 4, 1)

    def gap(sig):
        x_next, mean, var, _ = _innovations(theta, d, p_max, scale, sig)
        return float(np.sum((x_next - mean) ** 2) - dof * np.sum(var))

    lo, hi = 1e-9, max(4 * sigma0, 1e-6)
    while gap(hi) > 0 and hi < 10:
        hi *= 2
    if gap(lo) <= 0 or gap(hi) > 0:
        return lo if gap(lo) <= 0 else hi
    return optimize.brentq(gap, lo, hi, xtol=1e-12, rtol=1e-10)


def _sandwich(jac, resid) -> np.ndarray:
    """Heteroscedasticity-robust covariance (J'J)^-1 J' diag(r^2) J (J'J)^-1."""
    jac = np.asarray(jac)
    bread = np.linalg.pinv(jac.T @ jac)
    return bread @ ((jac * resid[:, None] ** 2).T @ jac) @ bread


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
        Pulses in a full sweep (default: the largest pulse number in the data).
    a_cap : float
        A/Pmax at or beyond which a direction is reported as linear.
    max_iter : int
        Most alternations of the innovation fit and the sigma estimate.

    Returns
    -------
    FitResult

    Notes
    -----
    Stage 1 fits the closed-form curves (every sweep must start at its bound), stage 2 the
    one-step innovations and sigma; see the module Notes.

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
    d = _arrange(pulse, conductance, direction, cycle)
    p_max = int(d.pulse.max()) if p_max is None else int(p_max)
    if p_max < 2 or d.pulse.max() > p_max:
        raise DataError(f"p_max must be >= 2 and cover every pulse number (largest "
                        f"{d.pulse.max()}), got {p_max}")
    scale = float(np.max(d.g)) or 1.0
    bounds = (np.zeros(4), np.array([np.inf, np.inf, _K_MAX, _K_MAX]))  # Gmin, Gmax, k, k
    first = [d.g[(d.ltd == flag) & (d.pulse == d.pulse[d.ltd == flag].min())]
             for flag in (False, True)]
    g_lo, g_hi = np.median(first[0]) / scale, np.median(first[1]) / scale
    if g_hi <= g_lo:
        g_lo, g_hi = np.min(d.g) / scale, 1.0
    best = None
    for k0 in (0.05, 1.0, 4.0):  # a few starts: the curves are far from convex in k
        res = optimize.least_squares(_curve_residuals, [g_lo, g_hi, k0, k0], bounds=bounds,
                                     args=(d, p_max, scale), x_scale="jac", xtol=1e-14,
                                     ftol=1e-14, gtol=1e-14)
        best = res if best is None or res.cost < best.cost else best
    theta, jac, resid = best.x, best.jac, best.fun
    x_next, mean, _, _ = _innovations(theta, d, p_max, scale, 0.0)
    sigma = float(np.sqrt(np.mean((x_next - mean) ** 2 / d.n))) if d.n.size else 0.0
    method = "innovations" if d.n.size >= 8 and sigma > 1e-9 else "curves"
    if method == "innovations":
        for i in range(max_iter + 1):
            sigma = _solve_sigma(theta, d, p_max, scale, sigma)
            weight = _weights(theta, d, p_max, scale, sigma)
            res = optimize.least_squares(_innovation_residuals, theta, bounds=bounds,
                                         args=(d, p_max, scale, sigma, weight), x_scale="jac")
            step = np.max(np.abs(res.x - theta) / np.maximum(np.abs(theta), 1e-3))
            theta, jac, resid = res.x, res.jac, res.fun
            if step < 1e-4:  # far below any standard error
                break
        sigma = _solve_sigma(theta, d, p_max, scale, sigma)
    g_min, g_max = theta[0] * scale, theta[1] * scale
    if g_max <= g_min:
        raise DataError(f"the fit found no conductance window (Gmin {g_min:.3g} S, Gmax "
                        f"{g_max:.3g} S): are 'ltp' and 'ltd' swapped?")
    se = np.sqrt(np.maximum(np.diag(_sandwich(jac, resid)), 0.0))
    linear = theta[2:] * a_cap <= 1.0
    x_next, mean, _, span = _innovations(theta, d, p_max, scale, 0.0)
    unclipped = np.count_nonzero((x_next > 1e-12) & (x_next < 1 - 1e-12))
    errors = {"g_min_S": se[0] * scale, "g_max_S": se[1] * scale,
              "a_ltp": math.nan if linear[0] else se[2] / theta[2] ** 2,
              "a_ltd": math.nan if linear[1] else se[3] / theta[3] ** 2,
              "ctoc_sigma": sigma / math.sqrt(2 * unclipped)
              if method == "innovations" and unclipped else math.nan}
    return FitResult(
        g_min_S=float(g_min), g_max_S=float(g_max),
        a_ltp=float(a_cap if linear[0] else 1.0 / theta[2]),
        a_ltd=float(a_cap if linear[1] else 1.0 / theta[3]), p_max=p_max,
        ctoc_sigma=float(sigma) if method == "innovations" else 0.0,
        uncertainties={k: float(v) for k, v in errors.items()},
        residual_rms_S=float(np.sqrt(np.mean(_curve_residuals(theta, d, p_max, scale) ** 2))
                             * scale),
        innovation_rms_S=float(np.sqrt(np.mean((x_next - mean) ** 2)) * span) if d.n.size
        else 0.0,
        n_points=int(d.g.shape[0]), n_sweeps=d.n_sweeps, method=method, a_cap=float(a_cap))


def fit_curves_csv(path, **kwargs) -> FitResult:
    """Read a curves CSV (:func:`read_curves_csv`) and fit it (:func:`fit_pulse_device`)."""
    data = read_curves_csv(path)
    return fit_pulse_device(data.pulse, data.conductance_S, data.direction, cycle=data.cycle,
                            **kwargs)
