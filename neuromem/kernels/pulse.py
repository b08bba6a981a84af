"""Kernels of the behavioural pulse model (NeuroSim form) and of the shared non-idealities.

Per-cell parameter arrays have length n (one value per cell, device-to-device variation) or
length 1 (shared by all cells); ``_at`` picks the right entry.

Fault codes: 0 healthy, 1 stuck at OFF (g_min), 2 stuck at ON (g_max).
"""

import math

import numpy as np
from numba import njit

FAULT_NONE = 0
FAULT_STUCK_OFF = 1
FAULT_STUCK_ON = 2


@njit(cache=True, inline="always")
def _at(arr, i):
    return arr[i] if arr.shape[0] > 1 else arr[0]


@njit(cache=True, inline="always")
def pulse_step(g, dp, g_min, g_max, a_ltp, a_ltd, p_max):
    """Noise-free conductance after ``dp`` pulses (dp > 0 potentiates, dp < 0 depresses).

    ``a_ltp``/``a_ltd`` are the nonlinearity constants A in pulses; A <= 0 or A = inf means a
    linear response. The result is not clipped.
    """
    span = g_max - g_min
    if dp > 0.0:
        if a_ltp <= 0.0 or not math.isfinite(a_ltp):
            return g + dp * span / p_max
        b = span / (1.0 - math.exp(-p_max / a_ltp))
        frac = (g - g_min) / b
        if frac >= 1.0:
            return g_max
        p = -a_ltp * math.log(1.0 - frac)
        return b * (1.0 - math.exp(-(p + dp) / a_ltp)) + g_min
    elif dp < 0.0:
        if a_ltd <= 0.0 or not math.isfinite(a_ltd):
            return g + dp * span / p_max
        b = span / (1.0 - math.exp(-p_max / a_ltd))
        frac = (g_max - g) / b
        if frac >= 1.0:
            return g_min
        p = p_max + a_ltd * math.log(1.0 - frac)
        return g_max - b * (1.0 - math.exp((p + dp - p_max) / a_ltd))
    return g


@njit(cache=True, inline="always")
def pulse_update_cell(i, dp, g, g_min, g_max, a_ltp, a_ltd, p_max, ctoc_sigma, fault, rng):
    """Apply ``dp`` pulses to cell ``i`` of ``g`` in place (C2C noise, bounds, stuck cells).

    Returns the conductance change.
    """
    if dp == 0.0 or _at(fault, i) != FAULT_NONE:
        return 0.0
    lo = _at(g_min, i)
    hi = _at(g_max, i)
    old = g[i]
    new = pulse_step(old, dp, lo, hi, _at(a_ltp, i), _at(a_ltd, i), p_max)
    if ctoc_sigma > 0.0:
        new += ctoc_sigma * (hi - lo) * math.sqrt(abs(dp)) * rng.standard_normal()
    if new < lo:
        new = lo
    elif new > hi:
        new = hi
    g[i] = new
    return new - old


@njit(cache=True)
def pulse_apply(g, cells, n_pulses, g_min, g_max, a_ltp, a_ltd, p_max, ctoc_sigma, fault, rng):
    """Apply ``n_pulses[k]`` pulses to cell ``cells[k]`` of the flat array ``g``, in order."""
    for k in range(cells.shape[0]):
        pulse_update_cell(cells[k], n_pulses[k], g, g_min, g_max, a_ltp, a_ltd, p_max,
                          ctoc_sigma, fault, rng)


@njit(cache=True)
def read_noisy(g, read_noise_sigma, rng, out):
    """Conductance seen by one read: g (1 + sigma z), never below zero."""
    for i in range(g.shape[0]):
        v = g[i] * (1.0 + read_noise_sigma * rng.standard_normal())
        out[i] = v if v > 0.0 else 0.0
    return out


@njit(cache=True)
def drift(g, g_floor, nu, t_over_t0, out):
    """Retention drift G(t) = G0 (t/t0)^-nu for t > t0, floored at ``g_floor`` (per cell)."""
    factor = 1.0 if t_over_t0 <= 1.0 else t_over_t0 ** (-nu)
    for i in range(g.shape[0]):
        v = g[i] * factor
        lo = _at(g_floor, i)
        out[i] = v if v > lo else lo
    return out


@njit(cache=True, inline="always")
def pulses_between(g, target, g_min, g_max, a_ltp, a_ltd, p_max):
    """Signed pulses that move a noise-free cell from ``g`` to ``target`` on its own curve.

    Both are clipped to ``[g_min, g_max]``; LTP inverts ``G = B (1 - exp(-P/A)) + g_min``,
    LTD inverts ``G = g_max - B (1 - exp((P - Pmax)/A))`` (linear for A <= 0 or inf).
    """
    span = g_max - g_min
    if span <= 0.0:
        return 0.0
    g = min(max(g, g_min), g_max)
    t = min(max(target, g_min), g_max)
    if t == g:
        return 0.0
    if t > g:
        a = a_ltp
        if a <= 0.0 or not math.isfinite(a):
            return (t - g) * p_max / span
        b = span / (1.0 - math.exp(-p_max / a))
        return -a * (math.log(max(1.0 - (t - g_min) / b, 1e-300))
                     - math.log(max(1.0 - (g - g_min) / b, 1e-300)))
    a = a_ltd
    if a <= 0.0 or not math.isfinite(a):
        return (t - g) * p_max / span
    b = span / (1.0 - math.exp(-p_max / a))
    return a * (math.log(max(1.0 - (g_max - t) / b, 1e-300))
                - math.log(max(1.0 - (g_max - g) / b, 1e-300)))


@njit(cache=True)
def write_verify(g, target, tol, max_pulses, continuous, g_min, g_max, a_ltp, a_ltd, p_max,
                 ctoc_sigma, fault, read_noise_sigma, v_ltp, t_ltp, v_ltd, t_ltd, rng,
                 pulses_out, counts):
    """Program every cell of ``g`` towards ``target`` by write-verify; returns the write energy.

    Per cell: read (read noise ``read_noise_sigma``, relative), stop when ``|target - read| <= tol``
    or ``max_pulses`` pulses were spent, else apply the pulses the cell's noise-free curve
    says are missing (rounded, at least one; a continuous device's last pulse may be a
    fraction of one, with that fraction of the pulse width), one by one through the device
    model (C2C noise, bounds, stuck cells), and read again. Each pulse costs
    ``V^2 t (G_before + G_after) / 2``.

    ``pulses_out[i]`` gets the pulses of cell ``i``; ``counts`` (int64, 4) is incremented by
    [LTP pulses, LTD pulses, verify reads, cells that ended within ``tol``].
    """
    energy = 0.0
    for i in range(g.shape[0]):
        lo = _at(g_min, i)
        hi = _at(g_max, i)
        a_p = _at(a_ltp, i)
        a_d = _at(a_ltd, i)
        n_used = 0
        while True:
            seen = g[i]
            if read_noise_sigma > 0.0:
                seen = seen * (1.0 + read_noise_sigma * rng.standard_normal())
                if seen < 0.0:
                    seen = 0.0
            counts[2] += 1
            if abs(target[i] - seen) <= tol:
                counts[3] += 1
                break
            if n_used >= max_pulses:
                break
            dp = pulses_between(seen, target[i], lo, hi, a_p, a_d, p_max)
            sign = 1.0 if target[i] > seen else -1.0
            if n_used > 0:  # corrections: half the estimate, so C2C noise cannot overshoot far
                dp = 0.5 * dp
            mag = abs(dp) if continuous else math.floor(abs(dp) + 0.5)
            if mag < 1.0 and not continuous:
                mag = 1.0
            if mag <= 0.0:
                mag = 1.0
            while mag > 0.0 and n_used < max_pulses:
                step = 1.0 if mag >= 1.0 else mag
                before = g[i]
                pulse_update_cell(i, sign * step, g, g_min, g_max, a_ltp, a_ltd, p_max,
                                  ctoc_sigma, fault, rng)
                v, t = (v_ltp, t_ltp) if sign > 0.0 else (v_ltd, t_ltd)
                energy += v * v * t * step * 0.5 * (before + g[i])
                if sign > 0.0:
                    counts[0] += 1
                else:
                    counts[1] += 1
                n_used += 1
                mag -= step
        pulses_out[i] = n_used
    return energy
