"""Per-time-step kernels of the Brian2 bridge (:mod:`neuromem.brian`).

Brian2 runs the time loop; once per step a ``NetworkOperation`` hands this module the step's
spikes (Brian2 ``_spikespace`` arrays: spiking indices, then their count in the last entry)
and the target variable. :func:`crossbar_step` does what the synapse phase of
:func:`neuromem.kernels.engine.simulate_sample` does, in the same order and with the same
arithmetic: each input spike reads its crossbar row into the target (``x[j] += (G - G_ref)
v_read gain[j]``) and, when learning, depresses the row by the post traces; then each output
spike potentiates its column by the pre traces (pair STDP) or applies the Querlioz rule.

Random numbers (cycle-to-cycle noise, stochastic rounding, read noise) are counter-based
(:mod:`neuromem.kernels.rand`): the whole generator state is ``rng_state = [key, counter]``,
which Brian2's ``store()``/``restore()`` can copy, and no ``numpy.random.Generator`` crosses
the Python/numba boundary (unboxing one costs ~20 us, more than the step itself). The
noise-free arithmetic is the engine's; with noise the draws differ from the engine's
Generator stream, so only the statistics agree.
"""

import math

from numba import njit

from neuromem.kernels.engine import (A_MINUS, A_PLUS, EV_CELLS_READ, EV_CELLS_WRITTEN,
                                     EV_INPUT_SPIKES, EV_LTD_PULSES, EV_LTP_PULSES,
                                     EV_OUTPUT_SPIKES, EV_ROW_ACTIVATIONS, NEAREST, NEVER, SOFT,
                                     TAU_MINUS, TAU_PLUS, WINDOW)
from neuromem.kernels.pulse import FAULT_NONE, pulse_step
from neuromem.kernels.rand import hash_normal, hash_uniform

# Packed float constants (``fpk``).
F_DT, F_G_REF, F_SPAN, F_V_READ, F_READ_SIGMA, F_P_MAX, F_SIGMA_CTOC, F_SCALE = range(8)
N_FPK = 8
# Packed integer flags (``ipk``).
I_DIFFERENTIAL, I_CONTINUOUS, I_LINEAR_FAST, I_RULE, I_IN_START, I_IN_STOP, I_OUT_START, \
    I_OUT_STOP, I_TARGET_START = range(9)
N_IPK = 9
# rng_state layout: key, draw counter, read-noise key.
R_KEY, R_COUNTER, R_READ_KEY = range(3)


@njit(cache=True, inline="always")
def _at(arr, i):
    return arr[i] if arr.shape[0] > 1 else arr[0]


@njit(cache=True)
def _uniform(rng_state):
    """Next uniform in [0, 1) of the counter-based stream; advances the counter."""
    u = hash_uniform(rng_state[R_KEY], rng_state[R_COUNTER], 0, 0)
    rng_state[R_COUNTER] += 1
    return u


@njit(cache=True)
def _normal(rng_state):
    """Next standard normal of the counter-based stream; advances the counter."""
    z = hash_normal(rng_state[R_KEY], rng_state[R_COUNTER], 1, 0)
    rng_state[R_COUNTER] += 1
    return z


@njit(cache=True)
def _update_cell(i, dp, g, g_min, g_max, a_ltp, a_ltd, p_max, sigma_ctoc, fault, rng_state):
    """``pulse_update_cell`` with the counter-based generator (same noise-free arithmetic)."""
    if dp == 0.0 or _at(fault, i) != FAULT_NONE:
        return
    lo = _at(g_min, i)
    hi = _at(g_max, i)
    new = pulse_step(g[i], dp, lo, hi, _at(a_ltp, i), _at(a_ltd, i), p_max)
    if sigma_ctoc > 0.0:
        new += sigma_ctoc * (hi - lo) * math.sqrt(abs(dp)) * _normal(rng_state)
    if new < lo:
        new = lo
    elif new > hi:
        new = hi
    g[i] = new


@njit(cache=True)
def apply_weight_change(c, dw, g_pos, g_neg, fpk, ipk, dmin_p, dmax_p, altp_p, altd_p, fault_p,
                        dmin_n, dmax_n, altp_n, altd_n, fault_n, events, rng_state):
    """Turn a normalised weight change of cell ``c`` into pulses and apply them.

    The engine's :func:`~neuromem.kernels.engine.apply_weight_change` (one pulse moves the
    weight by 1/Pmax; stochastic rounding for discrete devices; push-pull for a differential
    pair), drawing from the counter-based stream ``rng_state``.
    """
    p_max = fpk[F_P_MAX]
    sigma_ctoc = fpk[F_SIGMA_CTOC]
    differential = ipk[I_DIFFERENTIAL] != 0
    continuous = ipk[I_CONTINUOUS] != 0
    dp = dw * p_max
    if not continuous:
        n = math.floor(dp)
        if _uniform(rng_state) < dp - n:
            n += 1.0
        dp = n
    if dp == 0.0:
        return
    if ipk[I_LINEAR_FAST] != 0 and not differential:
        lo = dmin_p[0]
        hi = dmax_p[0]
        new = g_pos[c] + dp * (hi - lo) / p_max
        g_pos[c] = lo if new < lo else (hi if new > hi else new)
        events[EV_CELLS_WRITTEN] += 1
    elif differential:
        if continuous:
            half_p = 0.5 * dp
            half_n = 0.5 * dp
        else:
            half_p = math.floor(0.5 * dp)
            if dp - 2.0 * half_p > 0.0 and _uniform(rng_state) < 0.5:
                half_p += 1.0
            half_n = dp - half_p
        if half_p != 0.0:
            _update_cell(c, half_p, g_pos, dmin_p, dmax_p, altp_p, altd_p, p_max, sigma_ctoc,
                         fault_p, rng_state)
        if half_n != 0.0:
            _update_cell(c, -half_n, g_neg, dmin_n, dmax_n, altp_n, altd_n, p_max, sigma_ctoc,
                         fault_n, rng_state)
        events[EV_CELLS_WRITTEN] += (half_p != 0.0) + (half_n != 0.0)
    else:
        _update_cell(c, dp, g_pos, dmin_p, dmax_p, altp_p, altd_p, p_max, sigma_ctoc, fault_p,
                     rng_state)
        events[EV_CELLS_WRITTEN] += 1
    if dp > 0:
        events[EV_LTP_PULSES] += int(round(abs(dp))) if not continuous else int(math.ceil(dp))
    else:
        events[EV_LTD_PULSES] += int(round(abs(dp))) if not continuous else int(math.ceil(-dp))


@njit(cache=True)
def _collect(space, start, stop, out):
    """Indices in [start, stop) of a Brian2 spikespace, shifted to start at 0, into ``out``."""
    n = 0
    for k in range(space[space.shape[0] - 1]):
        idx = space[k]
        if start <= idx < stop:
            out[n] = idx - start
            n += 1
    return n


@njit(cache=True)
def crossbar_step(in_space, out_space, s, learn, target, g_pos, g_neg, gain, fpk, ipk,
                  dmin_p, dmax_p, altp_p, altd_p, fault_p, dmin_n, dmax_n, altp_n, altd_n,
                  fault_n, spk, x_pre, t_pre, x_post, t_post, in_buf, out_buf, xpre_now,
                  xpost_now, events, rng_state):
    """One time step of the crossbar synapses (Brian2 ``synapses`` slot).

    Parameters
    ----------
    in_space, out_space : int32 arrays
        Brian2 spikespaces of the source (rows) and target (columns) groups.
    s : int
        Time-step index (Brian2 clock ``timestep``); trace ages are step differences.
    learn : bool
        Apply STDP (and update its traces).
    target : float64 array
        The target group's variable, updated in place (``x[start + j]``).
    g_pos, g_neg, gain, dmin_* ... fault_* :
        The layer's arrays as :meth:`neuromem.layers.CrossbarLayer.kernel_args` gives them.
    fpk, ipk : float64, int64 arrays
        Packed constants (``F_*``) and flags and index ranges (``I_*``).
    spk : float64 array
        Packed STDP parameters (:meth:`neuromem.plasticity.STDPParams.pack`).
    x_pre, t_pre, x_post, t_post :
        Trace values and the step of their last update (``NEVER``: no spike yet).
    in_buf, out_buf, xpre_now, xpost_now :
        Scratch arrays of length n_in, n_out, n_in, n_out.
    events : int64 array
        Event counters (``neuromem.kernels.engine.EV_*``), incremented.
    rng_state : int64 array
        ``[key, counter, read_key]`` of the counter-based generator.

    Returns
    -------
    int
        Number of output (target) spikes seen this step.
    """
    n_in = x_pre.shape[0]
    n_out = x_post.shape[0]
    dt = fpk[F_DT]
    g_ref = fpk[F_G_REF]
    span = fpk[F_SPAN]
    v_read = fpk[F_V_READ]
    read_sigma = fpk[F_READ_SIGMA]
    scale = fpk[F_SCALE]
    differential = ipk[I_DIFFERENTIAL] != 0
    rule = ipk[I_RULE] if learn else 0
    t0 = ipk[I_TARGET_START]
    n_in_sp = _collect(in_space, ipk[I_IN_START], ipk[I_IN_STOP], in_buf)
    n_out_sp = _collect(out_space, ipk[I_OUT_START], ipk[I_OUT_STOP], out_buf)
    soft = spk[SOFT] > 0.5
    nearest = spk[NEAREST] > 0.5
    window_steps = int(round(spk[WINDOW] / dt))
    # input rows: read, then depression by the post traces
    if n_in_sp > 0:
        events[EV_INPUT_SPIKES] += n_in_sp
        events[EV_ROW_ACTIVATIONS] += n_in_sp
        events[EV_CELLS_READ] += n_in_sp * (2 * n_out if differential else n_out + 1)
        if rule == 1:
            for j in range(n_out):
                if t_post[j] == NEVER:
                    xpost_now[j] = 0.0
                else:
                    xpost_now[j] = x_post[j] * math.exp(-(s - t_post[j]) * dt / spk[TAU_MINUS])
        for k in range(n_in_sp):
            i = in_buf[k]
            base = i * n_out
            for j in range(n_out):
                c = base + j
                gp = g_pos[c]
                gn = g_neg[c] if differential else g_ref
                if read_sigma > 0.0:
                    gp *= 1.0 + read_sigma * hash_normal(rng_state[R_READ_KEY], 0, s, 2 * c)
                    if differential:
                        gn *= 1.0 + read_sigma * hash_normal(rng_state[R_READ_KEY], 0, s,
                                                             2 * c + 1)
                target[t0 + j] += (gp - gn) * v_read * gain[j] * scale
            if rule == 1:
                if t_pre[i] == NEVER or nearest:
                    x_pre[i] = 1.0
                else:
                    x_pre[i] = x_pre[i] * math.exp(-(s - t_pre[i]) * dt / spk[TAU_PLUS]) + 1.0
                t_pre[i] = s
                for j in range(n_out):
                    if xpost_now[j] == 0.0:
                        continue
                    c = base + j
                    dw = -spk[A_MINUS] * xpost_now[j]
                    if soft:
                        gn = g_neg[c] if differential else g_ref
                        w = (g_pos[c] - gn) / span
                        dw *= (w + 1.0) if differential else w
                    apply_weight_change(c, dw, g_pos, g_neg, fpk, ipk, dmin_p, dmax_p, altp_p,
                                        altd_p, fault_p, dmin_n, dmax_n, altp_n, altd_n,
                                        fault_n, events, rng_state)
            elif rule == 2:
                t_pre[i] = s
    # output spikes: potentiation by the pre traces (pair) or the Querlioz rule
    if n_out_sp > 0:
        events[EV_OUTPUT_SPIKES] += n_out_sp
        if rule != 0:
            if rule == 1:
                for i in range(n_in):
                    if t_pre[i] == NEVER:
                        xpre_now[i] = 0.0
                    else:
                        xpre_now[i] = x_pre[i] * math.exp(-(s - t_pre[i]) * dt / spk[TAU_PLUS])
            for k in range(n_out_sp):
                j = out_buf[k]
                if rule == 1:
                    if t_post[j] == NEVER or nearest:
                        x_post[j] = 1.0
                    else:
                        x_post[j] = x_post[j] * math.exp(-(s - t_post[j]) * dt
                                                         / spk[TAU_MINUS]) + 1.0
                    t_post[j] = s
                for i in range(n_in):
                    c = i * n_out + j
                    if rule == 1:
                        if xpre_now[i] == 0.0:
                            continue
                        dw = spk[A_PLUS] * xpre_now[i]
                    else:
                        recent = t_pre[i] != NEVER and s - t_pre[i] <= window_steps
                        dw = spk[A_PLUS] if recent else -spk[A_MINUS]
                    if soft:
                        gn = g_neg[c] if differential else g_ref
                        w = (g_pos[c] - gn) / span
                        if dw > 0:
                            dw *= (1.0 - w)
                        else:
                            dw *= (w + 1.0) if differential else w
                    apply_weight_change(c, dw, g_pos, g_neg, fpk, ipk, dmin_p, dmax_p, altp_p,
                                        altd_p, fault_p, dmin_n, dmax_n, altp_n, altd_n,
                                        fault_n, events, rng_state)
    return n_out_sp

