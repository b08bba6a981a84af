"""Spike-timing-dependent plasticity rules and how they become device pulses.

Rules work on the normalised weight w = (G - G_ref) / (g_max - g_min) in [0, 1] (one device
per synapse) or (G+ - G-) / (g_max - g_min) in [-1, 1] (differential pair). A rule computes a
weight change dw; the layer turns it into ``dw * Pmax`` pulses (the nominal step of one pulse
is 1/Pmax), rounded stochastically for devices with discrete levels, and the device model
decides the conductance change. With the ``ideal`` card (linear, continuous) that change is
exactly dw: every rule reduces to its textbook form.

Notes
-----
Pair-based trace STDP (Morrison, Diesmann, Gerstner 2008), traces decayed event-driven::

    on pre spike i:   x_pre_i  <- x_pre_i  e^{-dt_i/tau_plus}  + 1   (or = 1, "nearest")
                      dw_ij    = -a_minus x_post_j f_-(w_ij)          for every j
    on post spike j:  x_post_j <- x_post_j e^{-dt_j/tau_minus} + 1   (or = 1)
                      dw_ij    = +a_plus  x_pre_i  f_+(w_ij)          for every i

additive: f_+ = f_- = 1 (device or clip bounds); soft-bound: f_+ = w_max - w, f_- = w - w_min.
Querlioz et al., IEEE TNANO 2013 (simplified memristive STDP): on a post spike, every input
that spiked within ``window_s`` before it gets +a_plus, every other input gets -a_minus; pre
spikes cause no update.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from neuromem.schema import nonnegative, param, positive

__all__ = ["STDPParams", "DeltaRuleParams", "RULES", "N_SPACK"]

RULES = {"none": 0, "pair": 1, "querlioz": 2}
# Packed layout read by the engine kernel.
A_PLUS, A_MINUS, TAU_PLUS, TAU_MINUS, SOFT, NEAREST, WINDOW = range(7)
N_SPACK = 7


@dataclasses.dataclass(frozen=True, kw_only=True)
class STDPParams:
    """A plasticity rule and its constants (weights normalised to the device window)."""

    rule: str = param("pair", kind=str, doc="learning rule", choices=tuple(RULES))
    a_plus: float = param(0.01, doc="potentiation amplitude (normalised weight)",
                          check=nonnegative)
    a_minus: float = param(0.0001, doc="depression amplitude (normalised weight)",
                           check=nonnegative)
    tau_plus_s: float = param(0.020, unit="s", doc="presynaptic trace time constant",
                              check=positive)
    tau_minus_s: float = param(0.020, unit="s", doc="postsynaptic trace time constant",
                               check=positive)
    weight_dependence: str = param("additive", kind=str, doc="additive or soft-bound",
                                   choices=("additive", "soft"))
    trace: str = param("all_to_all", kind=str, doc="trace update: accumulate or reset to 1",
                       choices=("all_to_all", "nearest"))
    window_s: float = param(0.030, unit="s", doc="Querlioz rule: LTP window before a post "
                            "spike", check=positive)

    @property
    def code(self) -> int:
        return RULES[self.rule]

    def pack(self) -> np.ndarray:
        out = np.zeros(N_SPACK)
        out[A_PLUS] = self.a_plus
        out[A_MINUS] = self.a_minus
        out[TAU_PLUS] = self.tau_plus_s
        out[TAU_MINUS] = self.tau_minus_s
        out[SOFT] = 1.0 if self.weight_dependence == "soft" else 0.0
        out[NEAREST] = 1.0 if self.trace == "nearest" else 0.0
        out[WINDOW] = self.window_s
        return out


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeltaRuleParams:
    """Supervised delta rule on spike counts, written to the crossbar as pulses.

    Notes
    -----
    For a batch of B samples with input spike counts x (scaled by ``input_scale`` to about
    [0, 1]) and output counts y, with target t = ``target_count`` for the labelled output and
    ``off_count`` for the others::

        dw_ij = lr / B * sum_b x_bi (t_bj - y_bj) / target_count

    With ``loss = "softmax"`` the error is the cross-entropy gradient of a softmax over the
    classes' spike counts instead (the gradient logistic regression follows): with class
    counts c_bk (summed over the class's neurons) and p_bk = softmax_k(c_bk / temperature),
    every neuron of class k gets the error 1[k = label_b] - p_bk, and a labelled neuron firing
    fewer than ``target_count`` spikes also gets (target_count - y_bj) / target_count. The
    softmax only asks the labelled class to out-fire the others by a few ``temperature``; the
    floor keeps every neuron firing on its own class, so the counts stay in the LIF's
    linear range where the softmax sees graded evidence instead of a silent zero.

    The update is accumulated in the periphery over the batch and programmed once (fewer
    writes: less cycle-to-cycle noise and write energy), as ``dw * Pmax`` pulses per cell.
    With ``accumulate`` (devices with discrete levels), the periphery keeps each cell's
    remainder chi (in pulses) across batches: chi += dw Pmax, n = trunc(chi) pulses are
    written and chi -= n, so updates that cancel over batches never reach the device
    (Nandakumar et al., Front. Neurosci. 2020, mixed-precision in-memory training). Without
    it, each update is rounded stochastically to whole pulses.
    """

    lr: float = param(0.05, doc="learning rate (normalised weight per unit error and input)",
                      check=positive)
    target_count: float = param(20.0, doc="spikes wanted from the labelled output neuron "
                                "(softmax loss: the least it should fire)",
                                check=positive)
    off_count: float = param(0.0, doc="spikes wanted from the other output neurons (> 0 keeps "
                             "them in their linear range)", check=nonnegative)
    loss: str = param("mse", kind=str, choices=("mse", "softmax"),
                      doc="error per output: target minus count (mse) or the softmax "
                          "cross-entropy gradient over class counts (softmax)")
    temperature: float = param(10.0, doc="softmax loss: spikes per unit logit",
                               check=positive)
    batch: int = param(32, kind=int, doc="samples per programmed update", check=positive)
    epochs: int = param(5, kind=int, doc="passes over the training set", check=positive)
    lr_decay: float = param(1.0, doc="learning rate factor per epoch", check=positive)
    accumulate: bool = param(True, kind=bool, doc="devices with discrete levels: keep the "
                             "sub-pulse remainder of every update in a digital accumulator "
                             "and write only whole pulses (mixed-precision training)")
