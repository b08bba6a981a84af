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
                                     TAU_MINUS, TAU_PLUS, WINDOW, _bumped_trace,
                                     _decayed_traces, _soft_bound)
from neuromem.kernels.pulse import FAULT_NONE, pulse_step
from neuromem.kernels.rand import hash_normal, hash_uniform

# Packed float constants (``fpk``).
F_DT, F_G_REF, F_SPAN, F_V_READ, F_READ_NOISE_SIGMA, F_P_MAX, F_CTOC_SIGMA, F_SCALE = range(8)
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
def _pulse_cell(g, dp, lo, hi, a_ltp, a_ltd, p_max, ctoc_sigma, rng_state):
    """A cell's conductance after ``dp`` pulses, as ``pulse_update_cell`` computes it
    (closed-form noise-free step, C2C noise from the counter-based stream, clip)."""
    new = pulse_step(g, dp, lo, hi, a_ltp, a_ltd, p_max)
    if ctoc_sigma > 0.0:
        new += ctoc_sigma * (hi - lo) * math.sqrt(abs(dp)) * _normal(rng_state)
    if new < lo:
        return lo
    if new > hi:
        return hi
    return new


@njit(cache=True)
def apply_weight_changes(n, cells, dws, g_pos, g_neg, fpk, ipk, dmin_p, dmax_p, altp_p,
                         altd_p, fault_p, dmin_n, dmax_n, altp_n, altd_n, fault_n, events,
                         rng_state):
    """Turn the normalised weight changes ``dws[k]`` of cells ``cells[k]`` (k < n) into
    pulses and apply them, in order.

    The engine's :func:`~neuromem.kernels.engine.apply_weight_change` per cell (one pulse
    moves the weight by 1/Pmax; stochastic rounding for discrete devices; push-pull for a
    differential pair; the same arithmetic, its linear fast path included), drawing from the
    counter-based stream ``rng_state``. One call per crossbar row or column: a numba call
    with this many array arguments costs more than the update of one cell.
    """
    p_max = fpk[F_P_MAX]
    ctoc_sigma = fpk[F_CTOC_SIGMA]
    differential = ipk[I_DIFFERENTIAL] != 0
    continuous = ipk[I_CONTINUOUS] != 0
    fast = ipk[I_LINEAR_FAST] != 0 and not differential
    lo0 = dmin_p[0]
    hi0 = dmax_p[0]
    written = 0
    n_ltp = 0
    n_ltd = 0
    for k in range(n):
        c = cells[k]
        dp = dws[k] * p_max
        if not continuous:
            m = math.floor(dp)
            if _uniform(rng_state) < dp - m:
                m += 1.0
            dp = m
        if dp == 0.0:
            continue
        if fast:  # linear, noise-free, continuous, shared window, no faults
            new = g_pos[c] + dp * (hi0 - lo0) / p_max
            g_pos[c] = lo0 if new < lo0 else (hi0 if new > hi0 else new)
            written += 1
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
                if _at(fault_p, c) == FAULT_NONE:
                    g_pos[c] = _pulse_cell(g_pos[c], half_p, _at(dmin_p, c), _at(dmax_p, c),
                                           _at(altp_p, c), _at(altd_p, c), p_max, ctoc_sigma,
                                           rng_state)
                written += 1
            if half_n != 0.0:
                if _at(fault_n, c) == FAULT_NONE:
                    g_neg[c] = _pulse_cell(g_neg[c], -half_n, _at(dmin_n, c), _at(dmax_n, c),
                                           _at(altp_n, c), _at(altd_n, c), p_max, ctoc_sigma,
                                           rng_state)
                written += 1
        else:
            if _at(fault_p, c) == FAULT_NONE:
                g_pos[c] = _pulse_cell(g_pos[c], dp, _at(dmin_p, c), _at(dmax_p, c),
                                       _at(altp_p, c), _at(altd_p, c), p_max, ctoc_sigma,
                                       rng_state)
            written += 1
        if dp > 0:
            n_ltp += int(round(abs(dp))) if not continuous else int(math.ceil(dp))
        else:
            n_ltd += int(round(abs(dp))) if not continuous else int(math.ceil(-dp))
    events[EV_CELLS_WRITTEN] += written
    events[EV_LTP_PULSES] += n_ltp
    events[EV_LTD_PULSES] += n_ltd


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
def _read_row(target, t0, g_pos, g_neg, base, n_out, differential, g_ref, v_read, gain, scale,
              read_noise_sigma, read_key, s):
    """Add one crossbar row's read currents to the target: ``x[t0 + j] += (G+ - G-) v_read
    gain[j] scale`` (G- = G_ref for one device per synapse), with optional read noise."""
    if read_noise_sigma > 0.0:
        for j in range(n_out):
            c = base + j
            gp = g_pos[c] * (1.0 + read_noise_sigma * hash_normal(read_key, 0, s, 2 * c))
            if differential:
                gn = g_neg[c] * (1.0 + read_noise_sigma * hash_normal(read_key, 0, s, 2 * c + 1))
            else:
                gn = g_ref
            target[t0 + j] += (gp - gn) * v_read * gain[j] * scale
    elif differential:
        for j in range(n_out):
            target[t0 + j] += (g_pos[base + j] - g_neg[base + j]) * v_read * gain[j] * scale
    else:
        for j in range(n_out):
            target[t0 + j] += (g_pos[base + j] - g_ref) * v_read * gain[j] * scale


@njit(cache=True)
def crossbar_step(in_space, out_space, s, learn, target, g_pos, g_neg, gain, fpk, ipk,
                  dmin_p, dmax_p, altp_p, altd_p, fault_p, dmin_n, dmax_n, altp_n, altd_n,
                  fault_n, spk, x_pre, t_pre, x_post, t_post, in_buf, out_buf, xpre_now,
                  xpost_now, cell_buf, dw_buf, events, rng_state):
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
    cell_buf, dw_buf : int64, float64 arrays
        Scratch for pending weight changes (any length >= max(n_in, n_out)).
    events : int64 array
        Event counters (``neuromem.kernels.engine.EV_*``), incremented.
    rng_state : int64 array
        ``[key, counter, read_key]`` of the counter-based generator.

    Returns
    -------
    int
        Number of output (target) spikes seen this step.

    Notes
    -----
    Weight changes are computed in the engine's order and applied in that order, a row (or
    column) at a time, in batches: every input spike of a step touches its own row and every
    output spike its own column, so the result is the engine's.
    """
    n_in = x_pre.shape[0]
    n_out = x_post.shape[0]
    cap = cell_buf.shape[0]
    dt = fpk[F_DT]
    g_ref = fpk[F_G_REF]
    span = fpk[F_SPAN]
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
        n_active = 0
        if rule == 1:
            n_active = _decayed_traces(x_post, t_post, n_out, s, dt, spk[TAU_MINUS], xpost_now)
        m = 0
        for k in range(n_in_sp):
            i = in_buf[k]
            base = i * n_out
            _read_row(target, t0, g_pos, g_neg, base, n_out, differential, g_ref,
                      fpk[F_V_READ], gain, fpk[F_SCALE], fpk[F_READ_NOISE_SIGMA],
                      rng_state[R_READ_KEY], s)
            if rule == 1:
                x_pre[i] = _bumped_trace(x_pre[i], t_pre[i], s, dt, spk[TAU_PLUS], nearest)
                t_pre[i] = s
                if n_active == 0:
                    continue
                if m + n_out > cap:
                    apply_weight_changes(m, cell_buf, dw_buf, g_pos, g_neg, fpk, ipk, dmin_p,
                                         dmax_p, altp_p, altd_p, fault_p, dmin_n, dmax_n,
                                         altp_n, altd_n, fault_n, events, rng_state)
                    m = 0
                for j in range(n_out):
                    if xpost_now[j] == 0.0:
                        continue
                    c = base + j
                    dw = _soft_bound(-spk[A_MINUS] * xpost_now[j], soft, differential, g_pos,
                                     g_neg, c, g_ref, span)
                    cell_buf[m] = c
                    dw_buf[m] = dw
                    m += 1
            elif rule == 2:
                t_pre[i] = s
        if m > 0:
            apply_weight_changes(m, cell_buf, dw_buf, g_pos, g_neg, fpk, ipk, dmin_p, dmax_p,
                                 altp_p, altd_p, fault_p, dmin_n, dmax_n, altp_n, altd_n,
                                 fault_n, events, rng_state)
    # output spikes: potentiation by the pre traces (pair) or the Querlioz rule
    if n_out_sp > 0:
        events[EV_OUTPUT_SPIKES] += n_out_sp
        if rule != 0:
            if rule == 1:
                _decayed_traces(x_pre, t_pre, n_in, s, dt, spk[TAU_PLUS], xpre_now)
            m = 0
            for k in range(n_out_sp):
                j = out_buf[k]
                if rule == 1:
                    x_post[j] = _bumped_trace(x_post[j], t_post[j], s, dt, spk[TAU_MINUS],
                                              nearest)
                    t_post[j] = s
                if m + n_in > cap:
                    apply_weight_changes(m, cell_buf, dw_buf, g_pos, g_neg, fpk, ipk, dmin_p,
                                         dmax_p, altp_p, altd_p, fault_p, dmin_n, dmax_n,
                                         altp_n, altd_n, fault_n, events, rng_state)
                    m = 0
                for i in range(n_in):
                    c = i * n_out + j
                    if rule == 1:
                        if xpre_now[i] == 0.0:
                            continue
                        dw = spk[A_PLUS] * xpre_now[i]
                    else:
                        recent = t_pre[i] != NEVER and s - t_pre[i] <= window_steps
                        dw = spk[A_PLUS] if recent else -spk[A_MINUS]
                    dw = _soft_bound(dw, soft, differential, g_pos, g_neg, c, g_ref, span)
                    cell_buf[m] = c
                    dw_buf[m] = dw
                    m += 1
            if m > 0:
                apply_weight_changes(m, cell_buf, dw_buf, g_pos, g_neg, fpk, ipk, dmin_p,
                                     dmax_p, altp_p, altd_p, fault_p, dmin_n, dmax_n, altp_n,
                                     altd_n, fault_n, events, rng_state)
    return n_out_sp
