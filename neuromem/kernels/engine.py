"""The event-driven engine: one sample's whole time loop in compiled code.

Per time step, in Brian2's schedule order (groups, thresholds, synapses, resets):

1. neuron state update (exponential Euler; refractory neurons hold v);
2. thresholds: Poisson input spikes (counter-based random numbers) and neuron spikes;
3. synapses: each input spike activates its crossbar row and adds that row's read currents
   (Ohm's law per cell, Kirchhoff's law per column) to the neurons' excitatory input; neuron
   spikes inhibit every other neuron (winner-take-all); while learning, pre and post spikes
   turn STDP weight changes into device pulses;
4. resets (v, refractory period, adaptive threshold).

Cost is proportional to spikes x fan-out: a silent input costs one random number per step.
Conductances are row-major flat arrays (row = input, column = neuron).
"""

import math

import numpy as np
from numba import njit, prange

from neuromem.kernels.pulse import pulse_step, pulse_update_cell
from neuromem.kernels.rand import hash_normal, hash_uniform

# Event counters (indices into the int64 ``events`` array).
EV_INPUT_SPIKES = 0
EV_ROW_ACTIVATIONS = 1
EV_CELLS_READ = 2
EV_LTP_PULSES = 3
EV_LTD_PULSES = 4
EV_CELLS_WRITTEN = 5
EV_NEURON_UPDATES = 6
EV_OUTPUT_SPIKES = 7
EV_INHIBITION_EVENTS = 8
EV_STEPS = 9
N_EVENTS = 10

# Packed neuron parameters (neuromem.neurons.LIFParams.pack).
TAU_MEM, V_REST, V_RESET, V_THRESH, T_REF, E_EXC, E_INH, TAU_EXC, TAU_INH, THETA_PLUS, \
    TAU_THETA, W_INH, COND, THETA_INIT = range(14)
# Packed STDP parameters (neuromem.plasticity.STDPParams.pack).
A_PLUS, A_MINUS, TAU_PLUS, TAU_MINUS, SOFT, NEAREST, WINDOW = range(7)

NEVER = -(2**62)


@njit(cache=True)
def poisson_events(p, n_present, key, sample_id, regular=False):
    """Poisson input spikes of one sample, generated event by event.

    Input i spikes in each step with probability p[i] (a Bernoulli process), drawn as
    geometric gaps between its spikes from counter-based random numbers (key, sample, input,
    spike index): cost proportional to the number of spikes, not to inputs x steps.
    With ``regular`` the spikes are those of an integrate-and-fire encoder instead (one every
    1/p steps, the phase drawn from the same counter-based random numbers): the same rate
    without the Poisson count noise.
    Returns (start, chans): the inputs spiking in step s are ``chans[start[s]:start[s + 1]]``.
    """
    n_in = p.shape[0]
    expected = 0.0
    for i in range(n_in):
        expected += min(p[i], 1.0)
    cap = int(expected * n_present + 6.0 * math.sqrt(expected * n_present + 1.0)) + 16
    ev_s = np.empty(cap, dtype=np.int64)
    ev_c = np.empty(cap, dtype=np.int64)
    n = 0
    for i in range(n_in):
        pi = p[i]
        if pi <= 0.0:
            continue
        log_q = math.log1p(-pi) if pi < 1.0 else -math.inf
        t = -1
        k = 0
        phase = hash_uniform(key, sample_id, i, -1) if regular else 0.0
        while True:
            if regular:
                # accumulator phase + p (s + 1) crosses its k-th integer at step s
                nxt = math.ceil((k + 1.0 - phase) / pi) - 1.0
                gap = int(nxt) - t if nxt < n_present + 1.0 else n_present + 1
            elif pi >= 1.0:
                gap = 1
            else:
                u = hash_uniform(key, sample_id, i, k)
                g = math.floor(math.log1p(-u) / log_q) + 1.0
                gap = int(g) if g < n_present + 1.0 else n_present + 1
            t += gap
            k += 1
            if t >= n_present:
                break
            if n == ev_s.shape[0]:
                grown_s = np.empty(2 * n, dtype=np.int64)
                grown_c = np.empty(2 * n, dtype=np.int64)
                grown_s[:n] = ev_s[:n]
                grown_c[:n] = ev_c[:n]
                ev_s = grown_s
                ev_c = grown_c
            ev_s[n] = t
            ev_c[n] = i
            n += 1
    start = np.zeros(n_present + 1, dtype=np.int64)
    for e in range(n):
        start[ev_s[e] + 1] += 1
    for s in range(n_present):
        start[s + 1] += start[s]
    fill = start[:n_present].copy()
    chans = np.empty(n, dtype=np.int64)
    for e in range(n):  # inputs in increasing order within a step
        chans[fill[ev_s[e]]] = ev_c[e]
        fill[ev_s[e]] += 1
    return start, chans


@njit(cache=True, inline="always")
def _bumped_trace(x, t_last, s, dt, tau, nearest):
    """An STDP trace at a spike in step s: decayed from its last spike, plus one (or reset
    to one for nearest-spike traces and at the first spike)."""
    if t_last == NEVER or nearest:
        return 1.0
    return x * math.exp(-(s - t_last) * dt / tau) + 1.0


@njit(cache=True, inline="always")
def _decayed_traces(x, t_last, n, s, dt, tau, out):
    """The first ``n`` STDP traces decayed to step s, into ``out`` (0 for a trace that has
    never spiked); returns how many have spiked."""
    n_active = 0
    for i in range(n):
        if t_last[i] == NEVER:
            out[i] = 0.0
        else:
            out[i] = x[i] * math.exp(-(s - t_last[i]) * dt / tau)
            n_active += 1
    return n_active


@njit(cache=True, inline="always")
def _row_add(ge, row, g_ref, v_read, gain):
    """One crossbar row's read currents into the columns, ``ge[j] += (G_ij - G_ref) v_read
    gain[j]``. The row is a slice: with a flat ``base + j`` index numba cannot prove the
    index non-negative and the loop does not vectorise (measured 6.6x slower at N = 400)."""
    for j in range(row.shape[0]):
        ge[j] += (row[j] - g_ref) * v_read * gain[j]


@njit(cache=True, inline="always")
def _row_add_pair(ge, row_p, row_n, v_read, gain):
    """The differential-pair form of :func:`_row_add`: ``(G+ - G-) v_read gain[j]``."""
    for j in range(row_p.shape[0]):
        ge[j] += (row_p[j] - row_n[j]) * v_read * gain[j]


@njit(cache=True, inline="always")
def _soft_bound(dw, soft, differential, g_pos, g_neg, c, g_ref, span):
    """STDP soft bounds on cell c: potentiation scaled by the room above the weight
    (1 - w), depression by the room below it (w + 1 differential, w single)."""
    if soft:
        gn = g_neg[c] if differential else g_ref
        w = (g_pos[c] - gn) / span
        if dw > 0:
            dw *= (1.0 - w)
        else:
            dw *= (w + 1.0) if differential else w
    return dw


@njit(cache=True, inline="always")
def _pulse_tally(dp, continuous):
    """(cells written, LTP pulses, LTD pulses) of one fast-path write of ``dp`` pulses
    (a fractional write of a continuous device counts as one pulse)."""
    if dp == 0.0:
        return 0, 0, 0
    if dp > 0:
        return 1, math.ceil(dp) if continuous else round(dp), 0
    return 1, 0, math.ceil(-dp) if continuous else round(-dp)


@njit(cache=True, inline="always")
def _stochastic_round(x, rng):
    n = math.floor(x)
    if rng.random() < x - n:
        n += 1.0
    return n


@njit(cache=True, inline="always")
def _single_update(g, c, dw, p_max, continuous, lo, hi, a_ltp, a_ltd, ctoc_sigma, rng,
                   key, sample_id, step):
    """Pulses for one device with shared parameters and no faults; returns the pulses applied.

    The same arithmetic as apply_weight_change + pulse_update_cell, with the per-cell
    parameter lookups hoisted out of the loop (the engine's hot path). The stochastic
    rounding draws a counter-based uniform keyed by (sample, step, cell): cheaper than a
    Generator call, and most small updates round to zero pulses.
    """
    dp = dw * p_max
    if not continuous:
        n = math.floor(dp)
        if hash_uniform(key, sample_id, step, c) < dp - n:
            n += 1.0
        dp = n
    if dp == 0.0:
        return 0.0
    nv = pulse_step(g[c], dp, lo, hi, a_ltp, a_ltd, p_max)
    if ctoc_sigma > 0.0:
        nv += ctoc_sigma * (hi - lo) * math.sqrt(abs(dp)) * rng.standard_normal()
    g[c] = lo if nv < lo else (hi if nv > hi else nv)
    return dp


@njit(cache=True, inline="always")
def apply_weight_change(c, dw, g_pos, g_neg, differential, p_max, continuous, ctoc_sigma,
                        dmin_p, dmax_p, altp_p, altd_p, fault_p,
                        dmin_n, dmax_n, altp_n, altd_n, fault_n, linear_fast, events, rng):
    """Turn a normalised weight change of cell ``c`` into pulses and apply them.

    One pulse nominally moves the weight by 1/Pmax. A differential pair splits the pulses
    push-pull: a positive change SETs G+ and RESETs G-, a negative one the reverse.
    """
    dp = dw * p_max
    if not continuous:
        dp = _stochastic_round(dp, rng)
    if dp == 0.0:
        return
    if linear_fast and not differential:
        # ideal-like device: linear, noise-free, shared window, no faults (same arithmetic as
        # pulse_step's linear branch, without the per-cell lookups)
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
            if dp - 2.0 * half_p > 0.0 and rng.random() < 0.5:
                half_p += 1.0
            half_n = dp - half_p
        if half_p != 0.0:
            pulse_update_cell(c, half_p, g_pos, dmin_p, dmax_p, altp_p, altd_p, p_max,
                              ctoc_sigma, fault_p, rng)
        if half_n != 0.0:
            pulse_update_cell(c, -half_n, g_neg, dmin_n, dmax_n, altp_n, altd_n, p_max,
                              ctoc_sigma, fault_n, rng)
        events[EV_CELLS_WRITTEN] += (half_p != 0.0) + (half_n != 0.0)
    else:
        pulse_update_cell(c, dp, g_pos, dmin_p, dmax_p, altp_p, altd_p, p_max, ctoc_sigma,
                          fault_p, rng)
        events[EV_CELLS_WRITTEN] += 1
    if dp > 0:
        events[EV_LTP_PULSES] += int(round(abs(dp))) if not continuous else int(math.ceil(dp))
    else:
        events[EV_LTD_PULSES] += int(round(abs(dp))) if not continuous else int(math.ceil(-dp))


@njit(cache=True)
def simulate_sample(rates, ev_step, ev_chan, input_mode, n_present, n_steps, dt, key, sample_id,
                    g_pos, g_neg, differential, g_ref, span, gain, v_read, read_noise_sigma,
                    dmin_p, dmax_p, altp_p, altd_p, fault_p,
                    dmin_n, dmax_n, altp_n, altd_n, fault_n,
                    p_max, continuous, ctoc_sigma,
                    npk, v, ge, gi, theta, last_spike,
                    learn, rule, spk, x_pre, t_pre, x_post, t_post,
                    counts, events, raster, raster_n, rng):
    """Simulate one sample (``n_steps`` steps, input on for the first ``n_present``).

    Input (``input_mode``): 0 Poisson at ``rates`` (Hz per input), 1 the event list
    (``ev_step`` sorted step indices, ``ev_chan`` input channels), 2 regular spike trains at
    ``rates`` (integrate-and-fire encoder with random phase).

    State arrays (v, ge, gi, theta, last_spike, traces) are updated in place; spike counts per
    neuron are added to ``counts``, event counts to ``events``; when ``raster`` has rows,
    (step, neuron) pairs are written there up to its capacity (``raster_n[0]`` = count).
    """
    n_in = rates.shape[0]
    n_out = v.shape[0]
    cond = npk[COND] > 0.5
    tau_m = npk[TAU_MEM]
    v_rest = npk[V_REST]
    e_exc = npk[E_EXC]
    e_inh = npk[E_INH]
    ref_steps = int(npk[T_REF])
    dec_e = math.exp(-dt / npk[TAU_EXC])
    dec_i = math.exp(-dt / npk[TAU_INH])
    dec_theta = math.exp(-dt / npk[TAU_THETA]) if math.isfinite(npk[TAU_THETA]) else 1.0
    dec_m = math.exp(-dt / tau_m)
    w_inh = npk[W_INH]
    theta_plus = npk[THETA_PLUS]
    adapt = learn and theta_plus > 0.0
    use_events = input_mode == 1
    if not use_events:
        p_spike = np.empty(n_in)
        for i in range(n_in):
            p_spike[i] = rates[i] * dt
        poisson_start, poisson_chans = poisson_events(p_spike, n_present, key, sample_id,
                                                      input_mode == 2)
    else:
        poisson_start = np.zeros(1, dtype=np.int64)
        poisson_chans = np.zeros(0, dtype=np.int64)
    in_spikes = np.empty(n_in, dtype=np.int64)
    out_spikes = np.empty(n_out, dtype=np.int64)
    xpost_now = np.empty(n_out)
    xpre_now = np.empty(n_in)
    linear_fast = (continuous and ctoc_sigma == 0.0 and dmin_p.shape[0] == 1
                   and dmax_p.shape[0] == 1 and fault_p.shape[0] == 1 and fault_p[0] == 0
                   and altp_p.shape[0] == 1 and altd_p.shape[0] == 1
                   and not (altp_p[0] > 0.0 and math.isfinite(altp_p[0]))
                   and not (altd_p[0] > 0.0 and math.isfinite(altd_p[0])))
    # one device per synapse with shared parameters and no faults: the update is inlined at
    # the call sites with its parameters read once (same arithmetic as the general path)
    fast_single = (not differential and dmin_p.shape[0] == 1 and dmax_p.shape[0] == 1
                   and altp_p.shape[0] == 1 and altd_p.shape[0] == 1
                   and fault_p.shape[0] == 1 and fault_p[0] == 0)
    fast_lo = dmin_p[0]
    fast_hi = dmax_p[0]
    fast_altp = altp_p[0]
    fast_altd = altd_p[0]
    fast_written = 0
    fast_ltp = 0
    fast_ltd = 0
    fired = np.empty(n_out, dtype=np.int64)  # neurons with a post trace, in firing order
    n_fired = 0
    for j in range(n_out):
        if t_post[j] != NEVER:
            fired[n_fired] = j
            n_fired += 1
    soft = spk[SOFT] > 0.5
    nearest = spk[NEAREST] > 0.5
    window_steps = int(round(spk[WINDOW] / dt))
    keyr = key ^ 0x5DEECE66D
    key_pre = key ^ 0x2545F4914F6CDD1D    # stochastic rounding of pre-triggered updates
    key_post = key ^ 0x1B873593           # and of post-triggered ones
    ev_ptr = 0
    for s in range(n_steps):
        # 1. state update
        for j in range(n_out):
            if s - last_spike[j] >= ref_steps:
                if cond:
                    b = (1.0 + ge[j] + gi[j]) / tau_m
                    v_inf = (v_rest + ge[j] * e_exc + gi[j] * e_inh) / (tau_m * b)
                    v[j] = v_inf + (v[j] - v_inf) * math.exp(-b * dt)
                else:
                    v_inf = v_rest + ge[j] - gi[j]
                    v[j] = v_inf + (v[j] - v_inf) * dec_m
            ge[j] *= dec_e
            gi[j] *= dec_i
            if adapt:
                theta[j] *= dec_theta
        events[EV_NEURON_UPDATES] += n_out
        # 2. thresholds
        n_in_sp = 0
        if use_events:
            while ev_ptr < ev_step.shape[0] and ev_step[ev_ptr] <= s:
                if ev_step[ev_ptr] == s and n_in_sp < n_in:
                    in_spikes[n_in_sp] = ev_chan[ev_ptr]
                    n_in_sp += 1
                ev_ptr += 1
        elif s < n_present:
            for e in range(poisson_start[s], poisson_start[s + 1]):
                in_spikes[n_in_sp] = poisson_chans[e]
                n_in_sp += 1
        n_out_sp = 0
        for j in range(n_out):
            if s - last_spike[j] >= ref_steps and v[j] > npk[V_THRESH] + theta[j]:
                out_spikes[n_out_sp] = j
                n_out_sp += 1
        # 3. synapses: input rows
        if n_in_sp > 0:
            events[EV_INPUT_SPIKES] += n_in_sp
            events[EV_ROW_ACTIVATIONS] += n_in_sp
            events[EV_CELLS_READ] += n_in_sp * (2 * n_out if differential else n_out + 1)
            if learn and rule == 1:
                for f in range(n_fired):  # only neurons that fired have a post trace
                    j = fired[f]
                    xpost_now[j] = x_post[j] * math.exp(-(s - t_post[j]) * dt
                                                        / spk[TAU_MINUS])
            for k in range(n_in_sp):
                i = in_spikes[k]
                base = i * n_out
                if read_noise_sigma > 0.0:
                    for j in range(n_out):
                        c = base + j
                        gp = g_pos[c]
                        gn = g_neg[c] if differential else g_ref
                        gp *= 1.0 + read_noise_sigma * hash_normal(keyr, sample_id, s, 2 * c)
                        if differential:
                            gn *= 1.0 + read_noise_sigma * hash_normal(keyr, sample_id, s,
                                                                       2 * c + 1)
                        ge[j] += (gp - gn) * v_read * gain[j]
                elif differential:
                    _row_add_pair(ge, g_pos[base:base + n_out], g_neg[base:base + n_out],
                                  v_read, gain)
                else:
                    _row_add(ge, g_pos[base:base + n_out], g_ref, v_read, gain)
                if learn:
                    if rule == 1:
                        x_pre[i] = _bumped_trace(x_pre[i], t_pre[i], s, dt, spk[TAU_PLUS],
                                                 nearest)
                        t_pre[i] = s
                        for f in range(n_fired):
                            j = fired[f]
                            if xpost_now[j] == 0.0:
                                continue
                            c = base + j
                            dw = _soft_bound(-spk[A_MINUS] * xpost_now[j], soft, differential,
                                             g_pos, g_neg, c, g_ref, span)
                            if fast_single:
                                dp = _single_update(g_pos, c, dw, p_max, continuous, fast_lo,
                                                    fast_hi, fast_altp, fast_altd, ctoc_sigma,
                                                    rng, key_pre, sample_id, s)
                                n_w, n_ltp, n_ltd = _pulse_tally(dp, continuous)
                                fast_written += n_w
                                fast_ltp += n_ltp
                                fast_ltd += n_ltd
                            else:
                                apply_weight_change(c, dw, g_pos, g_neg, differential, p_max,
                                                    continuous, ctoc_sigma, dmin_p, dmax_p,
                                                    altp_p, altd_p, fault_p, dmin_n, dmax_n,
                                                    altp_n, altd_n, fault_n, linear_fast,
                                                    events, rng)
                    elif rule == 2:
                        t_pre[i] = s
        # 3. synapses: neuron spikes (inhibition, post-synaptic learning)
        if n_out_sp > 0:
            events[EV_OUTPUT_SPIKES] += n_out_sp
            if w_inh > 0.0:
                events[EV_INHIBITION_EVENTS] += n_out_sp
                for k in range(n_out_sp):
                    jj = out_spikes[k]
                    for j in range(n_out):
                        if j != jj:
                            gi[j] += w_inh
            if learn and rule != 0:
                if rule == 1:
                    _decayed_traces(x_pre, t_pre, n_in, s, dt, spk[TAU_PLUS], xpre_now)
                for k in range(n_out_sp):
                    j = out_spikes[k]
                    if t_post[j] == NEVER:
                        fired[n_fired] = j
                        n_fired += 1
                    if rule == 1:
                        x_post[j] = _bumped_trace(x_post[j], t_post[j], s, dt,
                                                  spk[TAU_MINUS], nearest)
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
                        dw = _soft_bound(dw, soft, differential, g_pos, g_neg, c, g_ref, span)
                        if fast_single:
                            dp = _single_update(g_pos, c, dw, p_max, continuous, fast_lo,
                                                fast_hi, fast_altp, fast_altd, ctoc_sigma, rng,
                                                key_post, sample_id, s)
                            n_w, n_ltp, n_ltd = _pulse_tally(dp, continuous)
                            fast_written += n_w
                            fast_ltp += n_ltp
                            fast_ltd += n_ltd
                        else:
                            apply_weight_change(c, dw, g_pos, g_neg, differential, p_max,
                                                continuous, ctoc_sigma, dmin_p, dmax_p, altp_p,
                                                altd_p, fault_p, dmin_n, dmax_n, altp_n,
                                                altd_n, fault_n, linear_fast, events, rng)
        # 4. resets
        for k in range(n_out_sp):
            j = out_spikes[k]
            v[j] = npk[V_RESET]
            last_spike[j] = s
            counts[j] += 1
            if adapt:
                theta[j] += theta_plus
            if raster.shape[0] > 0 and raster_n[0] < raster.shape[0]:
                raster[raster_n[0], 0] = s
                raster[raster_n[0], 1] = j
                raster_n[0] += 1
    events[EV_STEPS] += n_steps
    events[EV_CELLS_WRITTEN] += fast_written
    events[EV_LTP_PULSES] += fast_ltp
    events[EV_LTD_PULSES] += fast_ltd
    for j in range(n_out):  # step indices restart at 0 in the next sample
        if last_spike[j] != NEVER:
            last_spike[j] -= n_steps


@njit(cache=True, parallel=True)
def infer_batch(rates, ev_step, ev_chan, ev_offsets, input_mode, sample_ids, n_present,
                n_steps, dt, key,
                g_pos, g_neg, differential, g_ref, span, gain, v_read, read_noise_sigma,
                dmin_p, dmax_p, altp_p, altd_p, fault_p,
                dmin_n, dmax_n, altp_n, altd_n, fault_n, p_max, continuous, ctoc_sigma,
                npk, theta, counts, events, rng):
    """Inference over many samples in parallel (no learning): each sample starts at rest.

    ``rates`` is (n_samples, n_in), or the events of sample b are
    ``ev_step/ev_chan[ev_offsets[b]:ev_offsets[b + 1]]``; ``counts`` (n_samples, n_out) and
    ``events`` (n_samples, N_EVENTS) receive the results. Bit-identical to running the samples
    one by one, in any thread order, because input spikes and read noise are counter-based.
    """
    n_samples = rates.shape[0]
    n_out = theta.shape[0]
    spk = np.zeros(7)
    for b in prange(n_samples):
        v = np.full(n_out, npk[V_REST])
        ge = np.zeros(n_out)
        gi = np.zeros(n_out)
        th = theta.copy()
        last = np.full(n_out, NEVER, dtype=np.int64)
        x0 = np.zeros(1)
        t0 = np.zeros(1, dtype=np.int64)
        raster = np.zeros((0, 2), dtype=np.int64)
        raster_n = np.zeros(1, dtype=np.int64)
        lo = ev_offsets[b] if input_mode == 1 else 0
        hi = ev_offsets[b + 1] if input_mode == 1 else 0
        simulate_sample(rates[b], ev_step[lo:hi], ev_chan[lo:hi], input_mode, n_present,
                        n_steps, dt, key, sample_ids[b],
                        g_pos, g_neg, differential, g_ref, span, gain, v_read, read_noise_sigma,
                        dmin_p, dmax_p, altp_p, altd_p, fault_p,
                        dmin_n, dmax_n, altp_n, altd_n, fault_n, p_max, continuous, ctoc_sigma,
                        npk, v, ge, gi, th, last, False, 0, spk, x0, t0, x0, t0,
                        counts[b], events[b], raster, raster_n, rng)


@njit(cache=True)
def apply_weight_matrix(dw, g_pos, g_neg, differential, p_max, continuous, ctoc_sigma,
                        dmin_p, dmax_p, altp_p, altd_p, fault_p,
                        dmin_n, dmax_n, altp_n, altd_n, fault_n, events, rng):
    """Apply a whole matrix of normalised weight changes (flat, row-major) as pulses.

    Cells are visited in order; zero changes write nothing. Used by supervised rules that
    accumulate an update over a sample or a batch (a digital accumulator in the periphery)
    and then program the crossbar once.
    """
    linear_fast = (continuous and ctoc_sigma == 0.0 and dmin_p.shape[0] == 1
                   and dmax_p.shape[0] == 1 and fault_p.shape[0] == 1 and fault_p[0] == 0
                   and altp_p.shape[0] == 1 and altd_p.shape[0] == 1
                   and not (altp_p[0] > 0.0 and math.isfinite(altp_p[0]))
                   and not (altd_p[0] > 0.0 and math.isfinite(altd_p[0])))
    for c in range(dw.shape[0]):
        if dw[c] != 0.0:
            apply_weight_change(c, dw[c], g_pos, g_neg, differential, p_max, continuous,
                                ctoc_sigma, dmin_p, dmax_p, altp_p, altd_p, fault_p,
                                dmin_n, dmax_n, altp_n, altd_n, fault_n, linear_fast, events,
                                rng)
