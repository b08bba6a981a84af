"""A network (inputs -> crossbar layer -> LIF population) and the engine that runs it.

Python loops over samples; each sample's time loop runs in :mod:`neuromem.kernels.engine`.
Learning runs samples in order (weights change); inference runs them in parallel on all
cores. Same seed, same result: input spikes come from counter-based random numbers keyed by
the run's seed and a per-sample counter; device noise from the run's Generator.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from tqdm.auto import tqdm

from neuromem.events import EVENT_NAMES, SpikeInput
from neuromem.exceptions import ConfigError
from neuromem.kernels import engine as _k
from neuromem.layers import CrossbarLayer, Population
from neuromem.plasticity import DeltaRuleParams, STDPParams

__all__ = ["Network", "RunResult", "SpikeInput", "EVENT_NAMES", "train_delta", "input_counts"]


@dataclasses.dataclass
class RunResult:
    """What :meth:`Network.run` returns.

    Attributes
    ----------
    counts : ndarray (n_samples, n_out) of int64
        Spikes per neuron per sample.
    events : dict of str to int
        Event counts summed over the samples (see ``EVENT_NAMES``).
    events_per_sample : ndarray (n_samples, n_events)
    raster : list of ndarray (k, 2) or None
        Per sample (step, neuron) spike pairs, when asked for.
    """

    counts: np.ndarray
    events: dict
    events_per_sample: np.ndarray
    raster: list | None = None


class Network:
    """Inputs (Poisson rates) -> :class:`CrossbarLayer` -> :class:`Population`.

    Parameters
    ----------
    layer : CrossbarLayer
    population : Population
    stdp : STDPParams
    dt_s, t_present_s, t_rest_s : float
        Time step, input presentation and rest (no input) per sample.
    seed : int or numpy.random.SeedSequence
        The run's seed: spawns the input-spike key and the device-noise Generator.
    normalize_target : float or None
        Mean effective weight per column kept by :meth:`CrossbarLayer.normalize_columns`
        after every learning sample (None: off).
    regular_inputs : bool
        Rates drive regular spike trains (integrate-and-fire encoders with a random phase)
        instead of Poisson ones.
    """

    def __init__(self, layer: CrossbarLayer, population: Population, stdp: STDPParams, *,
                 dt_s: float = 0.0005, t_present_s: float = 0.35, t_rest_s: float = 0.15,
                 seed=0, normalize_target: float | None = None,
                 regular_inputs: bool = False):
        if layer.n_out != population.n:
            raise ConfigError(f"layer has {layer.n_out} columns but the population "
                              f"{population.n} neurons", key="n_out")
        if dt_s <= 0 or t_present_s <= 0 or t_rest_s < 0:
            raise ConfigError("dt_s and t_present_s must be > 0, t_rest_s >= 0", key="dt_s")
        self.layer = layer
        self.population = population
        self.stdp = stdp
        self.dt_s = float(dt_s)
        self.n_present = int(round(t_present_s / dt_s))
        self.n_steps = self.n_present + int(round(t_rest_s / dt_s))
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        key_seq, noise_seq = ss.spawn(2)
        self.key = int(key_seq.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
        self.rng = np.random.default_rng(noise_seq)
        self.samples_seen = 0
        self.normalize_target = normalize_target
        self.regular_inputs = bool(regular_inputs)
        self._npk = population.params.pack(self.dt_s)
        self._spk = stdp.pack()
        if normalize_target is not None:
            layer.normalize_columns(normalize_target)

    def _rates(self, rates) -> np.ndarray:
        rates = np.ascontiguousarray(rates, dtype=np.float64)
        if rates.ndim != 2 or rates.shape[1] != self.layer.n_in:
            raise ConfigError(f"expected rates of shape (n_samples, {self.layer.n_in}), got "
                              f"{rates.shape}", key="rates")
        if np.any(~np.isfinite(rates)) or np.any(rates < 0):
            raise ConfigError("rates must be finite and >= 0 (Hz)", key="rates")
        if np.any(rates * self.dt_s > 1):
            raise ConfigError(f"rate x dt exceeds 1 (max {rates.max():g} Hz at dt "
                              f"{self.dt_s:g} s): lower the rates or dt", key="rates")
        return rates

    def _events(self, inputs: SpikeInput) -> SpikeInput:
        if inputs.steps.size:
            if inputs.channels.min() < 0 or inputs.channels.max() >= self.layer.n_in:
                raise ConfigError(f"input channel outside 0..{self.layer.n_in - 1}",
                                  key="inputs")
            if inputs.steps.min() < 0:
                raise ConfigError("input spike steps must be >= 0", key="inputs")
        return inputs

    def run(self, inputs, *, learn: bool = False, progress: bool | str = False,
            raster: bool = False, batch: int = 256,
            t_present_s: float | None = None) -> RunResult:
        """Present each sample: a row of Poisson rates (Hz per input) or a :class:`SpikeInput`.

        learn=True runs the samples in order with plasticity and homeostasis on; otherwise
        samples run in parallel from rest with frozen weights and thresholds. Events after
        the sample's last step are ignored. ``t_present_s`` overrides the presentation time
        for this call (e.g. longer at test time: more spikes to vote with).
        """
        n_present, n_steps = self.n_present, self.n_steps
        if t_present_s is not None:
            if t_present_s <= 0:
                raise ConfigError("t_present_s must be > 0", key="t_present_s")
            n_present = int(round(t_present_s / self.dt_s))
            n_steps = n_present + (self.n_steps - self.n_present)
        if isinstance(inputs, SpikeInput):
            events_in = self._events(inputs)
            n = events_in.n_samples
            rates = np.zeros((n, self.layer.n_in))
            input_mode = 1
        else:
            rates = self._rates(inputs)
            n = rates.shape[0]
            events_in = SpikeInput(np.zeros(0, np.int64), np.zeros(0, np.int64),
                                   np.zeros(n + 1, np.int64))
            input_mode = 2 if self.regular_inputs else 0
        ev_step, ev_chan, ev_off = events_in.steps, events_in.channels, events_in.offsets
        counts = np.zeros((n, self.layer.n_out), dtype=np.int64)
        events = np.zeros((n, _k.N_EVENTS), dtype=np.int64)
        rasters = [] if raster else None
        desc = progress if isinstance(progress, str) else ("learning" if learn else "inference")
        bar = tqdm(total=n, desc=desc, unit="sample", disable=not progress, leave=False)
        if learn and self.layer.r_wire_Ohm > 0:
            raise ConfigError(f"the spiking engine reads through wire resistance "
                              f"({self.layer.r_wire_Ohm:g} Ohm) in inference only; learn "
                              "with r_wire_Ohm = 0 and evaluate with it", key="r_wire_Ohm")
        args = self.layer.kernel_args(read_model=True)
        st = self.population.state
        if learn or raster:
            n_in = self.layer.n_in
            n_out = self.layer.n_out
            x_pre = np.zeros(n_in)
            t_pre = np.full(n_in, _k.NEVER, dtype=np.int64)
            x_post = np.zeros(n_out)
            t_post = np.full(n_out, _k.NEVER, dtype=np.int64)
            cap = 4 * n_steps if raster else 0
            buf = np.zeros((cap, 2), dtype=np.int64)
            buf_n = np.zeros(1, dtype=np.int64)
            for b in range(n):
                st.reset_dynamics(self.population.params)
                x_pre[:] = 0.0
                t_pre[:] = _k.NEVER
                x_post[:] = 0.0
                t_post[:] = _k.NEVER
                buf_n[0] = 0
                lo, hi = ev_off[b], ev_off[b + 1]
                _k.simulate_sample(rates[b], ev_step[lo:hi], ev_chan[lo:hi], input_mode,
                                   n_present, n_steps, self.dt_s, self.key,
                                   self.samples_seen, *args, self._npk, st.v, st.ge, st.gi,
                                   st.theta, st.refractory_until, learn, self.stdp.code
                                   if learn else 0, self._spk, x_pre, t_pre, x_post, t_post,
                                   counts[b], events[b], buf, buf_n, self.rng)
                self.samples_seen += 1
                if learn and self.normalize_target is not None:
                    self.layer.normalize_columns(self.normalize_target)
                if raster:
                    rasters.append(buf[:buf_n[0]].copy())
                bar.update(1)
        else:
            for start in range(0, n, batch):
                stop = min(n, start + batch)
                ids = np.arange(self.samples_seen + start, self.samples_seen + stop,
                                dtype=np.int64)
                _k.infer_batch(rates[start:stop], ev_step, ev_chan, ev_off[start:stop + 1],
                               input_mode, ids, n_present, n_steps, self.dt_s,
                               self.key, *args, self._npk, st.theta, counts[start:stop],
                               events[start:stop], self.rng)
                bar.update(stop - start)
            self.samples_seen += n
        bar.close()
        return RunResult(counts, dict(zip(EVENT_NAMES, (int(x) for x in events.sum(axis=0)))),
                         events, rasters)


def input_counts(inputs, n_in: int, dt_s: float, n_present: int) -> np.ndarray:
    """Input spikes per sample and input (events) or their expectation (Poisson rates)."""
    if isinstance(inputs, SpikeInput):
        out = np.zeros((inputs.n_samples, n_in))
        for b in range(inputs.n_samples):
            lo, hi = inputs.offsets[b], inputs.offsets[b + 1]
            out[b] = np.bincount(inputs.channels[lo:hi], minlength=n_in)
        return out
    return np.asarray(inputs, dtype=np.float64) * dt_s * n_present


def _subset(inputs, idx):
    if isinstance(inputs, SpikeInput):
        return SpikeInput.from_lists(
            [(inputs.steps[inputs.offsets[b]:inputs.offsets[b + 1]],
              inputs.channels[inputs.offsets[b]:inputs.offsets[b + 1]]) for b in idx])
    return np.asarray(inputs)[idx]


def _delta_error(rule: DeltaRuleParams, counts: np.ndarray, labels: np.ndarray,
                 cls: np.ndarray) -> np.ndarray:
    """Error per sample and output neuron of the delta rule (see DeltaRuleParams)."""
    is_label = cls[None, :] == labels[:, None]
    if rule.loss == "softmax":
        n_classes = int(cls.max()) + 1
        class_counts = np.zeros((len(counts), n_classes))
        np.add.at(class_counts.T, cls, counts.T.astype(np.float64))
        z = class_counts / rule.temperature
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        floor = np.maximum(rule.target_count - counts, 0.0) / rule.target_count
        return is_label * (1.0 + floor) - p[:, cls]
    target = np.where(is_label, rule.target_count, rule.off_count)
    return (target - counts) / rule.target_count


def train_delta(net: Network, inputs, labels, rule: DeltaRuleParams, *, input_scale: float,
                order_rng: np.random.Generator, progress: bool | str = False,
                neuron_class=None) -> dict:
    """Train ``net``'s crossbar with the supervised delta rule (see DeltaRuleParams).

    Each batch runs as parallel inference (frozen weights), then its accumulated update is
    programmed as pulses. ``neuron_class`` gives each output neuron's class (default: neuron
    j is class j); every neuron of the labelled class is taught ``target_count`` spikes.
    Returns the summed event counts (reads while training + writes).
    """
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    n_out = net.layer.n_out
    cls = np.arange(n_out) if neuron_class is None else np.asarray(neuron_class, np.int64)
    if cls.shape != (n_out,):
        raise ConfigError(f"neuron_class needs one class per output neuron ({n_out})",
                          key="neuron_class")
    if labels.min() < 0 or labels.max() > cls.max():
        raise ConfigError(f"labels must lie in 0..{cls.max()}", key="labels")
    x_all = input_counts(inputs, net.layer.n_in, net.dt_s, net.n_present) / input_scale
    totals: dict[str, int] = {}
    lr = rule.lr
    p_max = float(net.layer.device.p_max)
    chi = (np.zeros((net.layer.n_in, n_out))
           if rule.accumulate and not net.layer.device.continuous else None)
    bar = tqdm(total=n * rule.epochs, desc=progress if isinstance(progress, str)
               else "training", unit="sample", disable=not progress, leave=False)
    for _epoch in range(rule.epochs):
        perm = order_rng.permutation(n)
        for start in range(0, n, rule.batch):
            idx = perm[start:start + rule.batch]
            res = net.run(_subset(inputs, idx))
            err = _delta_error(rule, res.counts, labels[idx], cls)
            dw = lr * (x_all[idx].T @ err) / len(idx)
            if chi is not None:  # whole pulses only; the remainder stays in the accumulator
                chi += dw * p_max
                pulses = np.trunc(chi)
                chi -= pulses
                dw = pulses / p_max
            writes = net.layer.apply_weight_changes(dw, net.rng)
            for k, v in res.events.items():
                totals[k] = totals.get(k, 0) + v
            for k, v in writes.items():
                totals[k] = totals.get(k, 0) + v
            bar.update(len(idx))
        lr *= rule.lr_decay
    bar.close()
    return totals
