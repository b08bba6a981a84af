"""Kernels of the physics memristor models: linear ion drift (Strukov 2008) and VTEAM.

Both models integrate a normalised internal state ``x`` in [0, 1] under a voltage; the stored
state is ``offset + x scale`` (ion drift: x itself; VTEAM: the width w in metres, offset w_on and
scale w_off - w_on). One set of kernels serves both models, selected by ``model``; a cell's
constants reach the shared integrator through a small scratch vector ``par``:

- ion drift: ``par = [r_on, r_off, k]`` with ``k = mu_v r_on / D^2`` (1/C); x = 1 is ON.
- VTEAM: ``par = [r_on, r_off, k_on / span, k_off / span, alpha_on, alpha_off, v_on, v_off, iv]``
  with ``span = w_off - w_on``; x = 0 is ON (w = w_on), ``iv`` 0 linear / 1 exponential I-V.

Per-cell parameter arrays have length n or 1 (``_at``). Fault codes are those of
:mod:`neuromem.kernels.pulse`: stuck cells never move.
"""

import math

import numpy as np
from numba import njit

from neuromem.kernels.pulse import FAULT_NONE, _at

MODEL_ION_DRIFT = 0
MODEL_VTEAM = 1

WINDOW_NONE = 0
WINDOW_JOGLEKAR = 1
WINDOW_BIOLEK = 2
WINDOW_PRODROMAKIS = 3

#: Largest change of the normalised state in one RK4 step (adaptive step-size cap).
MAX_DX = 1e-3
#: Safety cap on RK4 steps per integrated segment (never reached in normal use).
MAX_STEPS = 1_000_000
N_PAR = 9


@njit(cache=True)
def window_value(code, x, direction, p, j):
    """Window function f(x) of the normalised state; ``direction`` is the sign of dx/dt.

    Joglekar ``1 - (2x - 1)^(2p)``; Biolek ``1 - (x - stp(-direction))^(2p)`` (stp(z) = 1 for
    z >= 0); Prodromakis ``j (1 - ((x - 0.5)^2 + 0.75)^p)``; ``none`` 1.
    """
    if code == WINDOW_JOGLEKAR:
        return 1.0 - (2.0 * x - 1.0) ** (2 * p)
    if code == WINDOW_BIOLEK:
        s = 1.0 if direction <= 0.0 else 0.0
        return 1.0 - (x - s) ** (2 * p)
    if code == WINDOW_PRODROMAKIS:
        return j * (1.0 - ((x - 0.5) ** 2 + 0.75) ** p)
    return 1.0


@njit(cache=True)
def _rate(model, x, v, par, window, p, j):
    """dx/dt of the normalised state at voltage v (x is clamped to [0, 1] for evaluation)."""
    xc = 0.0 if x < 0.0 else (1.0 if x > 1.0 else x)
    if model == MODEL_ION_DRIFT:
        i = v / (par[0] * xc + par[1] * (1.0 - xc))
        if i == 0.0:
            return 0.0
        return par[2] * i * window_value(window, xc, i, p, j)
    # VTEAM: positive voltage above v_off moves w towards w_off (x up, OFF).
    if v > par[7]:
        return par[3] * (v / par[7] - 1.0) ** par[5] * window_value(window, xc, 1.0, p, j)
    if v < par[6]:
        return par[2] * (v / par[6] - 1.0) ** par[4] * window_value(window, xc, -1.0, p, j)
    return 0.0


@njit(cache=True)
def _conductance(model, x, par):
    """Read conductance 1/R(x), clipped to [1/r_off, 1/r_on] against round-off."""
    r_on = par[0]
    r_off = par[1]
    if model == MODEL_ION_DRIFT:
        r = r_on * x + r_off * (1.0 - x)
    elif par[8] > 0.5:
        r = r_on * math.exp(math.log(r_off / r_on) * x)
    else:
        r = r_on + (r_off - r_on) * x
    g = 1.0 / r
    lo = 1.0 / r_off
    hi = 1.0 / r_on
    return lo if g < lo else (hi if g > hi else g)


@njit(cache=True)
def integrate(model, x, v0, v1, duration, par, window, p, j, lo, hi, substeps):
    """State after ``duration`` seconds under a voltage ramping linearly from v0 to v1.

    Classical RK4 with step ``h <= duration / substeps`` and ``|dx| <= MAX_DX`` per step
    (step-size control from the current rate); the state is clamped to [lo, hi] after each
    step. With a constant voltage the loop stops early once the rate is zero or pushes
    against a bound (the rate cannot change sign while the voltage is fixed).
    """
    if duration <= 0.0:
        return x
    h_nom = duration / substeps
    slope = (v1 - v0) / duration
    constant = v0 == v1
    t = 0.0
    for _ in range(MAX_STEPS):
        left = duration - t
        if left <= 1e-12 * duration:
            break
        v = v0 + slope * t
        k1 = _rate(model, x, v, par, window, p, j)
        if constant and (k1 == 0.0 or (k1 > 0.0 and x >= hi) or (k1 < 0.0 and x <= lo)):
            break
        h = h_nom if h_nom < left else left
        if abs(k1) * h > MAX_DX:
            h = MAX_DX / abs(k1)
        vm = v0 + slope * (t + 0.5 * h)
        k2 = _rate(model, x + 0.5 * h * k1, vm, par, window, p, j)
        k3 = _rate(model, x + 0.5 * h * k2, vm, par, window, p, j)
        k4 = _rate(model, x + h * k3, v0 + slope * (t + h), par, window, p, j)
        x += h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        if x < lo:
            x = lo
        elif x > hi:
            x = hi
        t += h
    return x


@njit(cache=True)
def _pulses(model, x, n, v_ltp, t_ltp, v_ltd, t_ltd, par, window, p, j, lo, hi, substeps,
            ctoc_sigma, rng):
    """Apply |n| rectangular pulses (LTP for n > 0) one after the other, fraction last.

    C2C noise: each pulse's state change is scaled by (1 + ctoc_sigma z), z ~ N(0, 1).
    """
    v = v_ltp if n > 0.0 else v_ltd
    width = t_ltp if n > 0.0 else t_ltd
    m = abs(n)
    whole = int(math.floor(m))
    frac = m - whole
    for q in range(whole + 1):
        t = width if q < whole else width * frac
        if t <= 0.0:
            continue
        new = integrate(model, x, v, v, t, par, window, p, j, lo, hi, substeps)
        if ctoc_sigma > 0.0:
            new = x + (new - x) * (1.0 + ctoc_sigma * rng.standard_normal())
            new = lo if new < lo else (hi if new > hi else new)
        x = new
    return x


@njit(cache=True)
def _cell_par(i, par, r_on, r_off, rate_a, rate_b, consts):
    """Fill the scratch vector ``par`` for cell i (layout in the module docstring)."""
    par[0] = _at(r_on, i)
    par[1] = _at(r_off, i)
    par[2] = _at(rate_a, i)
    par[3] = _at(rate_b, i)
    for q in range(consts.shape[0]):
        par[4 + q] = consts[q]


@njit(cache=True)
def physics_apply(model, state, g, cells, n_pulses, r_on, r_off, rate_a, rate_b, consts,
                  offset, scale, v_ltp, t_ltp, v_ltd, t_ltd, window, p, j, lo, hi, substeps,
                  ctoc_sigma, fault, rng):
    """Apply ``n_pulses[k]`` pulses to cell ``cells[k]``, in order, updating state and g.

    The stored state is ``offset + x scale`` (ion drift: 0 and 1; VTEAM: w_on and span).
    Per-cell ``rate_a``: ion drift k = mu_v R_on / D^2 (1/C), VTEAM k_on / span (1/s);
    ``rate_b``: VTEAM k_off / span (unused by ion drift); ``consts`` = [alpha_on, alpha_off,
    v_on, v_off, iv] for VTEAM (empty for ion drift).
    """
    par = np.zeros(N_PAR)
    for k in range(cells.shape[0]):
        i = cells[k]
        n = n_pulses[k]
        if n == 0.0 or _at(fault, i) != FAULT_NONE:
            continue
        _cell_par(i, par, r_on, r_off, rate_a, rate_b, consts)
        x0 = (state[i] - offset) / scale
        x = _pulses(model, x0, n, v_ltp, t_ltp, v_ltd, t_ltd, par, window, p, j, lo, hi,
                    substeps, ctoc_sigma, rng)
        if x != x0:
            state[i] = offset + x * scale
        g[i] = _conductance(model, x, par)


@njit(cache=True)
def physics_drive(model, state, g, cells, v, dt, r_on, r_off, rate_a, rate_b, consts, offset,
                  scale, window, p, j, lo, hi, substeps, fault, current, trace):
    """Drive cells with the sampled waveform ``v`` (step ``dt``, linear between samples).

    Fills ``current[k, c]`` (A) and ``trace[k, c]`` (stored state) at sample k for
    ``cells[c]``; the cells are left in their state at the last sample. Stuck cells keep their
    state and conductance.
    """
    par = np.zeros(N_PAR)
    for c in range(cells.shape[0]):
        i = cells[c]
        _cell_par(i, par, r_on, r_off, rate_a, rate_b, consts)
        stuck = _at(fault, i) != FAULT_NONE
        x0 = (state[i] - offset) / scale
        x = x0
        for k in range(v.shape[0]):
            current[k, c] = v[k] * (g[i] if stuck else _conductance(model, x, par))
            trace[k, c] = state[i] if x == x0 else offset + x * scale
            if k + 1 < v.shape[0] and not stuck:
                x = integrate(model, x, v[k], v[k + 1], dt, par, window, p, j, lo, hi,
                              substeps)
        if x != x0:
            state[i] = offset + x * scale
            g[i] = _conductance(model, x, par)


@njit(cache=True)
def physics_conductance(model, state, r_on, r_off, consts, offset, scale, out):
    """Read conductance of every cell from its stored state."""
    par = np.zeros(N_PAR)
    for q in range(consts.shape[0]):
        par[4 + q] = consts[q]
    for i in range(state.shape[0]):
        par[0] = _at(r_on, i)
        par[1] = _at(r_off, i)
        out[i] = _conductance(model, (state[i] - offset) / scale, par)
    return out
