"""Leaky integrate-and-fire neurons: parameters and the packed form the engine kernel reads.

Notes
-----
Conductance-based synapses (Diehl & Cook 2015 form), with ge, gi in units of the leak
conductance::

    tau_mem dv/dt = (v_rest - v) + ge (e_exc - v) + gi (e_inh - v)
    dge/dt = -ge / tau_exc,   dgi/dt = -gi / tau_inh

Current-based synapses: ``tau_mem dv/dt = (v_rest - v) + ge - gi`` with ge, gi in volts.
A neuron fires when v > v_thresh + theta and is not refractory; then v = v_reset, it is
refractory for t_ref, and (adaptive threshold) theta += theta_plus, with
``dtheta/dt = -theta / tau_theta``. Integration is exponential Euler (Brian2's
``exponential_euler``): each variable advances exactly with the others held at their values
at the start of the step, which for ge, gi and theta is the exact solution.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from neuromem.exceptions import ConfigError
from neuromem.schema import nonnegative, param, positive

__all__ = ["LIFParams", "PopulationState", "N_PACK"]

# Indices into the packed float64 parameter vector read by neuromem.kernels.engine.
TAU_MEM, V_REST, V_RESET, V_THRESH, T_REF, E_EXC, E_INH, TAU_EXC, TAU_INH, THETA_PLUS, \
    TAU_THETA, W_INH, COND, THETA_INIT = range(14)
N_PACK = 14


@dataclasses.dataclass(frozen=True, kw_only=True)
class LIFParams:
    """A population of (adaptive-threshold) LIF neurons with lateral inhibition."""

    tau_mem_s: float = param(0.1, unit="s", doc="membrane time constant", check=positive)
    v_rest_V: float = param(-0.065, unit="V", doc="resting potential")
    v_reset_V: float = param(-0.065, unit="V", doc="reset potential after a spike")
    v_thresh_V: float = param(-0.052, unit="V", doc="firing threshold (before theta)")
    t_ref_s: float = param(0.005, unit="s", doc="refractory period", check=nonnegative)
    synapse: str = param("conductance", kind=str, doc="synapse model",
                         choices=("conductance", "current"))
    e_exc_V: float = param(0.0, unit="V", doc="excitatory reversal potential (conductance)")
    e_inh_V: float = param(-0.100, unit="V", doc="inhibitory reversal potential (conductance)")
    tau_exc_s: float = param(0.001, unit="s", doc="excitatory synaptic time constant",
                             check=positive)
    tau_inh_s: float = param(0.002, unit="s", doc="inhibitory synaptic time constant",
                             check=positive)
    theta_plus_V: float = param(0.0, unit="V", doc="adaptive threshold increment per spike "
                                "(0 = plain LIF)", check=nonnegative)
    tau_theta_s: float = param(1e4, unit="s", doc="adaptive threshold decay time constant",
                               check=positive, allow_inf=True)
    theta_init_V: float = param(0.0, unit="V", doc="initial adaptive threshold",
                                check=nonnegative)
    inhibition: float = param(0.0, doc="lateral inhibition: gi increment of every other neuron "
                              "per spike (winner-take-all strength)", check=nonnegative)

    def check(self) -> None:
        if self.v_reset_V >= self.v_thresh_V:
            raise ConfigError("v_reset_V must be below v_thresh_V", key="v_reset_V")

    def pack(self, dt_s: float) -> np.ndarray:
        """The parameters as the float64 vector the engine kernel reads (t_ref in steps)."""
        out = np.zeros(N_PACK)
        out[TAU_MEM] = self.tau_mem_s
        out[V_REST] = self.v_rest_V
        out[V_RESET] = self.v_reset_V
        out[V_THRESH] = self.v_thresh_V
        out[T_REF] = round(self.t_ref_s / dt_s)
        out[E_EXC] = self.e_exc_V
        out[E_INH] = self.e_inh_V
        out[TAU_EXC] = self.tau_exc_s
        out[TAU_INH] = self.tau_inh_s
        out[THETA_PLUS] = self.theta_plus_V
        out[TAU_THETA] = self.tau_theta_s
        out[W_INH] = self.inhibition
        out[COND] = 1.0 if self.synapse == "conductance" else 0.0
        out[THETA_INIT] = self.theta_init_V
        return out


@dataclasses.dataclass
class PopulationState:
    """Per-neuron state arrays (SI units). ``refractory_until`` is a step index."""

    v: np.ndarray
    ge: np.ndarray
    gi: np.ndarray
    theta: np.ndarray
    refractory_until: np.ndarray

    @classmethod
    def initial(cls, n: int, params: LIFParams) -> "PopulationState":
        return cls(v=np.full(n, params.v_rest_V), ge=np.zeros(n), gi=np.zeros(n),
                   theta=np.full(n, params.theta_init_V),
                   refractory_until=np.full(n, -(2**62), dtype=np.int64))

    def reset_dynamics(self, params: LIFParams) -> None:
        """Back to rest between samples (theta, the learned homeostasis, is kept)."""
        self.v[:] = params.v_rest_V
        self.ge[:] = 0.0
        self.gi[:] = 0.0
        self.refractory_until[:] = -(2**62)

    def copy(self) -> "PopulationState":
        return PopulationState(*(a.copy() for a in dataclasses.astuple(self)))
