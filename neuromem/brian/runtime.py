"""Runtime bridge: a neuromem crossbar between Brian2 groups, run by a NetworkOperation.

See :mod:`neuromem.brian` for the overview, the time-step order and the limits.
"""

from __future__ import annotations

import numpy as np
from brian2 import NetworkOperation, second, siemens
from brian2.units.fundamentalunits import get_dimensions

from neuromem.brian._common import (check_clocks, check_layer, check_size, default_stdp,
                                    group_range, quantity_to_si, refuse_standalone,
                                    target_variable, w_max_scale)
from neuromem.exceptions import ConfigError
from neuromem.kernels import bridge as _k
from neuromem.kernels.engine import N_EVENTS, NEVER
from neuromem.network import EVENT_NAMES

__all__ = ["CrossbarSynapses", "CrossbarStateMonitor"]

# Events the synapse kernel counts (neuron updates and steps belong to Brian2).
SYNAPSE_EVENTS = ("input_spikes", "row_activations", "cells_read", "ltp_pulses", "ltd_pulses",
                  "cells_written", "output_spikes")


def _seed_state(seed) -> np.ndarray:
    """``[key, counter, read_key]`` of the counter-based generator from a seed."""
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    keys = ss.generate_state(2, dtype=np.uint64) >> np.uint64(1)
    return np.array([keys[0], 0, keys[1]], dtype=np.int64)


class CrossbarSynapses(NetworkOperation):
    """A neuromem :class:`~neuromem.layers.CrossbarLayer` coupling two Brian2 groups.

    Every input spike of ``source`` (row i) adds the read current of its crossbar row to
    ``target_var`` of each ``target`` neuron j: ``x_j += (G_ij - G_ref) v_read gain_j`` (a
    synapse at full conductance adds ``w_max``); while ``learn`` is on, pre and post spikes
    turn STDP weight changes into device pulses, exactly as neuromem's engine does. A Brian2
    object: add it to a ``Network`` (or let the magic network collect it) with its groups.

    Parameters
    ----------
    source : brian2 group with spikes
        Presynaptic rows (``NeuronGroup``, ``PoissonGroup``, ``SpikeGeneratorGroup`` or a
        subgroup); ``len(source) == layer.n_in``.
    target : brian2.NeuronGroup
        Postsynaptic columns; ``len(target) == layer.n_out``. Its spikes drive potentiation
        (it needs a threshold when learning).
    layer : neuromem.layers.CrossbarLayer
        The devices. Shared, not copied: the bridge updates ``layer.pos.g`` (and
        ``layer.neg.g``) in place and reads ``layer.gain`` every step, so
        ``layer.weights()`` and ``layer.normalize_columns`` work during and between runs.
    target_var : str
        State variable of ``target`` that receives the read (``'ge'``); float64, writable.
    learn : bool
        Plasticity on or off; settable between runs (``syn.learn = False``).
    stdp : neuromem.plasticity.STDPParams, optional
        The rule (pair STDP or Querlioz) and its constants, on the normalised weight; default
        ``STDPParams()``.
    w_max : brian2.Quantity, optional
        What one spike through a synapse at full conductance adds to ``target_var``, in that
        variable's unit (``3 * nS`` for a conductance, a number for a dimensionless ``ge``).
        Default: the layer's ``w_max`` read as an SI value in that unit.
    seed : int or numpy.random.SeedSequence
        Seeds the counter-based generator of cycle-to-cycle noise, stochastic rounding and
        read noise (unused by noise-free continuous devices).
    order : int
        Brian2 scheduling order within the ``'synapses'`` slot (default 0: after every
        Synapses' ``on_pre`` pathway (order -1), before every ``on_post`` pathway (order 1)).
    name : str
        Brian2 object name.

    Attributes
    ----------
    restore_random_state : bool
        Whether ``Network.restore()`` also rewinds the crossbar's generator (default True:
        a restored run replays the same device noise; set False to draw fresh noise, as
        Brian2 does for its own generator by default, or call :meth:`seed`).

    Raises
    ------
    StandaloneDeviceError
        On a Brian2 standalone device (at construction and before a run): use
        :func:`neuromem.brian.to_brian2_synapses` there.
    brian2.DimensionMismatchError
        When ``w_max`` does not have the target variable's unit.

    Notes
    -----
    Runs at ``when='synapses'`` on the target's clock, so it sees the spikes of the current
    step (thresholds come before synapses in Brian2's schedule) and its reads take effect
    from the next state update, like ``on_pre`` code. Within the step the order is the
    engine's: all input rows are read (each then depressed by the post traces), then output
    spikes potentiate. Trace ages are counted in time steps of the clock. Brian2 has no
    samples: where neuromem's engine clears the STDP traces at each sample start, call
    :meth:`reset_traces` (e.g. from a ``NetworkOperation(syn.reset_traces, dt=...)``).

    Examples
    --------
    >>> import numpy as np
    >>> from brian2 import NeuronGroup, PoissonGroup, Hz, ms, run
    >>> from neuromem.cards import load_device
    >>> from neuromem.layers import CrossbarLayer
    >>> layer = CrossbarLayer(20, 3, load_device("ideal").params, np.random.default_rng(0))
    >>> inp = PoissonGroup(20, rates=50 * Hz)
    >>> out = NeuronGroup(3, "dv/dt = -v / (10 * ms) : 1\\nge : 1", threshold="v > 1",
    ...                   reset="v = 0")
    >>> syn = CrossbarSynapses(inp, out, layer, "ge")
    >>> run(10 * ms)
    >>> syn.events["input_spikes"] > 0
    True
    """

    def __init__(self, source, target, layer, target_var: str = "ge", *, learn: bool = True,
                 stdp=None, w_max=None, seed=0, order: int = 0,
                 name: str = "crossbarsynapses*"):
        owner = f"CrossbarSynapses({name!r})"
        refuse_standalone(owner)
        self.layer = check_layer(layer, owner)
        check_size(source, layer.n_in, "rows", owner)
        check_size(target, layer.n_out, "columns", owner)
        if "_spikespace" not in source.variables:
            raise ConfigError(f"{owner}: source group '{source.name}' does not spike (no "
                              "threshold)", key="source")
        var = target_variable(target, target_var, owner)
        clock = check_clocks(source, target, owner)
        NetworkOperation.__init__(self, self.run, clock=clock, when="synapses", order=order,
                                  name=name)
        self.source = source
        self.target = target
        self.target_var = target_var
        self.stdp = default_stdp(stdp)
        self.learn = bool(learn)
        self.target_dim = var.dim
        self.scale = w_max_scale(layer, w_max, var.dim, owner)
        self.restore_random_state = True
        self.add_dependency(source)
        self.add_dependency(target)
        n_in, n_out = layer.n_in, layer.n_out
        self.x_pre = np.zeros(n_in)
        self.t_pre = np.full(n_in, NEVER, dtype=np.int64)
        self.x_post = np.zeros(n_out)
        self.t_post = np.full(n_out, NEVER, dtype=np.int64)
        self._events = np.zeros(N_EVENTS, dtype=np.int64)
        self._rng_state = _seed_state(seed)
        n_buf = max(n_in, n_out, 8192)   # pending weight changes, applied in batches
        self._scratch = (np.zeros(n_in, np.int64), np.zeros(n_out, np.int64), np.zeros(n_in),
                         np.zeros(n_out), np.zeros(n_buf, np.int64), np.zeros(n_buf))
        self._step_args = None

    # -- state ----------------------------------------------------------------------------
    @property
    def learn(self) -> bool:
        """Plasticity on (True) or off."""
        return self._learn

    @learn.setter
    def learn(self, value: bool) -> None:
        self._learn = bool(value)

    @property
    def g(self):
        """Conductances G+ (n_in, n_out), a copy with units (siemens)."""
        return self.layer.pos.conductance_S.copy() * siemens

    @property
    def g_neg(self):
        """Conductances G- of a differential pair (n_in, n_out, siemens), or None."""
        neg = self.layer.neg
        return None if neg is None else neg.conductance_S.copy() * siemens

    @property
    def w(self) -> np.ndarray:
        """Normalised weights (n_in, n_out): (G+ - G_ref) / (g_max - g_min)."""
        return self.layer.weights()

    @property
    def events(self) -> dict:
        """Synaptic event counts since construction (input spikes, cells read, pulses...)."""
        return {k: int(self._events[EVENT_NAMES.index(k)]) for k in SYNAPSE_EVENTS}

    def reset_traces(self) -> None:
        """Forget all STDP traces (as at the start of each sample in neuromem's engine)."""
        self.x_pre[:] = 0.0
        self.t_pre[:] = NEVER
        self.x_post[:] = 0.0
        self.t_post[:] = NEVER

    def seed(self, seed=None) -> None:
        """Reseed the crossbar's generator (None: fresh entropy), like ``brian2.seed``."""
        self._rng_state[:] = _seed_state(seed)

    def _full_state(self) -> dict:
        layer = self.layer
        return {"g_pos": layer.pos.g.copy(),
                "g_neg": None if layer.neg is None else layer.neg.g.copy(),
                "gain": layer.gain.copy(), "x_pre": self.x_pre.copy(),
                "t_pre": self.t_pre.copy(), "x_post": self.x_post.copy(),
                "t_post": self.t_post.copy(), "rng_state": self._rng_state.copy(),
                "events": self._events.copy()}

    def _restore_from_full_state(self, state: dict) -> None:
        layer = self.layer
        if state["g_pos"].shape != layer.pos.g.shape or \
                (state["g_neg"] is None) != (layer.neg is None):
            raise ConfigError(f"CrossbarSynapses '{self.name}': the stored state belongs to a "
                              "crossbar of another shape or mapping", key="restore")
        layer.pos.g[:] = state["g_pos"]
        if layer.neg is not None:
            layer.neg.g[:] = state["g_neg"]
        layer.gain[:] = state["gain"]
        for key in ("x_pre", "t_pre", "x_post", "t_post"):
            getattr(self, key)[:] = state[key]
        self._events[:] = state["events"]
        if self.restore_random_state:
            self._rng_state[:] = state["rng_state"]

    # -- Brian2 hooks ---------------------------------------------------------------------
    def before_run(self, run_namespace):
        owner = f"CrossbarSynapses '{self.name}'"
        refuse_standalone(owner)
        check_size(self.source, self.layer.n_in, "rows", owner)
        check_size(self.target, self.layer.n_out, "columns", owner)
        check_clocks(self.source, self.target, owner)
        rule = self.stdp.code
        out_space = self.target.variables.get("_spikespace")
        if out_space is None:
            if self._learn and rule != 0:
                raise ConfigError(f"{owner}: learning needs postsynaptic spikes but target "
                                  f"'{self.target.name}' has no threshold; set learn=False",
                                  key="learn")
            out = np.zeros(1, dtype=np.int32)
            out_range = (0, 0)
        else:
            out = out_space.get_value()
            out_range = group_range(self.target)
        in_range = group_range(self.source)
        (g_pos, g_neg, differential, g_ref, span, gain, v_read, read_noise_sigma,
         dmin_p, dmax_p, altp_p, altd_p, fault_p, dmin_n, dmax_n, altp_n, altd_n, fault_n,
         p_max, continuous, ctoc_sigma) = self.layer.kernel_args()
        linear_fast = (continuous and ctoc_sigma == 0.0 and dmin_p.shape[0] == 1
                       and dmax_p.shape[0] == 1 and fault_p.shape[0] == 1 and fault_p[0] == 0
                       and altp_p.shape[0] == 1 and altd_p.shape[0] == 1
                       and not (altp_p[0] > 0.0 and np.isfinite(altp_p[0]))
                       and not (altd_p[0] > 0.0 and np.isfinite(altd_p[0])))
        fpk = np.zeros(_k.N_FPK)
        fpk[_k.F_DT] = self.clock.dt_
        fpk[_k.F_G_REF] = g_ref
        fpk[_k.F_SPAN] = span
        fpk[_k.F_V_READ] = v_read
        fpk[_k.F_READ_NOISE_SIGMA] = read_noise_sigma
        fpk[_k.F_P_MAX] = p_max
        fpk[_k.F_CTOC_SIGMA] = ctoc_sigma
        fpk[_k.F_SCALE] = self.scale
        ipk = np.zeros(_k.N_IPK, dtype=np.int64)
        ipk[_k.I_DIFFERENTIAL] = differential
        ipk[_k.I_CONTINUOUS] = continuous
        ipk[_k.I_LINEAR_FAST] = linear_fast
        ipk[_k.I_RULE] = rule
        ipk[_k.I_IN_START], ipk[_k.I_IN_STOP] = in_range
        ipk[_k.I_OUT_START], ipk[_k.I_OUT_STOP] = out_range
        ipk[_k.I_TARGET_START] = group_range(self.target)[0]
        self._in_space = self.source.variables["_spikespace"].get_value()
        self._out_space = out
        self._timestep = self.clock.variables["timestep"].get_value()
        target = self.target.variables[self.target_var].get_value()
        self._step_args = (target, g_pos, g_neg, gain, fpk, ipk, dmin_p, dmax_p, altp_p,
                           altd_p, fault_p, dmin_n, dmax_n, altp_n, altd_n, fault_n,
                           self.stdp.pack(), self.x_pre, self.t_pre, self.x_post,
                           self.t_post, *self._scratch, self._events, self._rng_state)

    def run(self):
        """One time step (called by Brian2 in the ``'synapses'`` slot)."""
        ins = self._in_space
        learn = self._learn
        if ins[-1] == 0 and (not learn or self._out_space[-1] == 0):
            return
        _k.crossbar_step(ins, self._out_space, int(self._timestep[0]), learn,
                         *self._step_args)

    def __repr__(self):
        return (f"<CrossbarSynapses {self.name!r}: {self.source.name} ({self.layer.n_in}) -> "
                f"{self.target.name}.{self.target_var} ({self.layer.n_out}), "
                f"{self.layer.mapping}, device {type(self.layer.device).__name__}, "
                f"learn={self._learn}>")


class CrossbarStateMonitor(NetworkOperation):
    """Records conductances of a :class:`CrossbarSynapses` over time, like a StateMonitor.

    Parameters
    ----------
    synapses : CrossbarSynapses
    cells : True, array_like of int, or (rows, cols)
        Which cells: all (True), flat indices ``i * n_out + j``, or a pair of equal-length
        row and column index arrays.
    dt : brian2.Quantity, optional
        Recording interval (default: every step of the synapses' clock).
    when : str
        Scheduling slot (default ``'start'``, like StateMonitor: values at the start of the
        step, i.e. after the previous step's updates).
    order : int
    name : str

    Attributes
    ----------
    t, t_ : Quantity (s) / ndarray
        Recording times.
    g, g_ : Quantity (S) / ndarray, shape (n_cells, n_times)
        Conductances (G+ for a differential pair; ``g_neg`` for G-).
    w : ndarray (n_cells, n_times)
        Normalised weights.
    i, j : ndarray of int
        Row and column of each recorded cell.
    """

    def __init__(self, synapses: CrossbarSynapses, cells=True, *, dt=None,
                 when: str = "start", order: int = 0, name: str = "crossbarstatemonitor*"):
        if not isinstance(synapses, CrossbarSynapses):
            raise ConfigError("CrossbarStateMonitor records a CrossbarSynapses, got "
                              f"{type(synapses).__name__}", key="synapses")
        refuse_standalone(f"CrossbarStateMonitor({name!r})")
        layer = synapses.layer
        n_cells = layer.n_in * layer.n_out
        if cells is True:
            flat = np.arange(n_cells, dtype=np.int64)
        elif isinstance(cells, tuple) and len(cells) == 2:
            rows = np.asarray(cells[0], dtype=np.int64).ravel()
            cols = np.asarray(cells[1], dtype=np.int64).ravel()
            if rows.shape != cols.shape:
                raise ConfigError("rows and cols of the recorded cells differ in length",
                                  key="cells")
            if rows.size and (rows.min() < 0 or rows.max() >= layer.n_in or cols.min() < 0
                              or cols.max() >= layer.n_out):
                raise ConfigError(f"cell outside the {layer.n_in} x {layer.n_out} crossbar",
                                  key="cells")
            flat = rows * layer.n_out + cols
        else:
            flat = np.asarray(cells, dtype=np.int64).ravel()
            if flat.size and (flat.min() < 0 or flat.max() >= n_cells):
                raise ConfigError(f"flat cell index outside 0..{n_cells - 1}", key="cells")
        if dt is not None:
            dt = quantity_to_si(dt, get_dimensions(second), "dt", "CrossbarStateMonitor")
            NetworkOperation.__init__(self, self.run, dt=dt * second, when=when, order=order,
                                      name=name)
        else:
            NetworkOperation.__init__(self, self.run, clock=synapses.clock, when=when,
                                      order=order, name=name)
        self.synapses = synapses
        self.cells = flat
        self.add_dependency(synapses)
        self._t: list[float] = []
        self._g: list[np.ndarray] = []
        self._g_neg: list[np.ndarray] = []

    @property
    def i(self) -> np.ndarray:
        return self.cells // self.synapses.layer.n_out

    @property
    def j(self) -> np.ndarray:
        return self.cells % self.synapses.layer.n_out

    def before_run(self, run_namespace):
        refuse_standalone(f"CrossbarStateMonitor '{self.name}'")
        self._clock_t = self.clock.variables["t"].get_value()

    def run(self):
        layer = self.synapses.layer
        self._t.append(float(self._clock_t[0]))
        self._g.append(layer.pos.g[self.cells])
        if layer.neg is not None:
            self._g_neg.append(layer.neg.g[self.cells])

    def _stack(self, rows: list) -> np.ndarray:
        if not rows:
            return np.zeros((self.cells.size, 0))
        return np.stack(rows, axis=1)

    @property
    def t_(self) -> np.ndarray:
        return np.asarray(self._t)

    @property
    def t(self):
        return self.t_ * second

    @property
    def g_(self) -> np.ndarray:
        return self._stack(self._g)

    @property
    def g(self):
        return self.g_ * siemens

    @property
    def g_neg(self):
        if self.synapses.layer.neg is None:
            return None
        return self._stack(self._g_neg) * siemens

    @property
    def w(self) -> np.ndarray:
        layer = self.synapses.layer
        ref = self._stack(self._g_neg) if layer.neg is not None else layer.g_ref_S
        return (self.g_ - ref) / layer.span_S

    def _full_state(self) -> dict:
        return {"t": list(self._t), "g": list(self._g), "g_neg": list(self._g_neg)}

    def _restore_from_full_state(self, state: dict) -> None:
        self._t = list(state["t"])
        self._g = list(state["g"])
        self._g_neg = list(state["g_neg"])

    def __repr__(self):
        return (f"<CrossbarStateMonitor {self.name!r} of {self.synapses.name!r}: "
                f"{self.cells.size} cells, {len(self._t)} samples>")
