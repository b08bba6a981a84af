"""NIR (Neuromorphic Intermediate Representation) export and import of engine networks.

NIR (``nir`` on PyPI; Pedersen et al., Nature Communications 2024) describes a spiking
network as a graph of continuous-time nodes. :func:`to_nir` writes a
:class:`neuromem.network.Network` as ``Input -> Linear -> CubaLIF -> Output`` (plus a
recurrent ``Linear`` for lateral inhibition); :func:`from_nir` builds an engine network from
such a graph, programming every weight matrix into a crossbar of the given device card.

Notes
-----
**The two definitions.** NIR's ``CubaLIF``::

    tau_syn dI/dt = -I + w_in S(t),      tau_mem dv/dt = (v_leak - v) + r I,
    v > v_threshold  ->  spike, v = v_reset

with ``S(t) = W s(t) + b`` the output of the ``Affine``/``Linear`` node in front of it and
``s(t)`` the input spike trains. neuromem's current-based population
(:mod:`neuromem.neurons`)::

    tau_mem dv/dt = (v_rest - v) + ge - gi,  dge/dt = -ge / tau_exc,  dgi/dt = -gi / tau_inh

where one spike on crossbar row i adds ``E_ij`` volts to ``ge_j`` (``E`` =
``CrossbarLayer.effective_weights() * w_max``) and lateral inhibition adds ``w_inh`` to the
``gi`` of every other neuron.

**Spike convention** (``spike_convention``). NIR does not fix the area of a spike:

- ``"dirac"`` (default; NIR's continuous-time reading): ``s(t) = sum_k delta(t - t_k)``, a
  spike of unit area. One spike through weight ``W_ji`` makes ``I_j`` jump by
  ``w_in_j W_ji / tau_syn``.
- ``"per_step"`` (what discrete-time frameworks export: snnTorch writes ``w_in = tau_syn /
  dt``, ``r = tau_mem / dt`` with ``dt = 1e-4``): a spike is the value 1 held for one step
  ``dt``, i.e. area ``dt``; the jump is ``w_in_j W_ji dt / tau_syn``.

**Conversions** (``a`` = the spike area, 1 or dt):

- ``CubaLIF`` <-> current synapses: ``ge = r I``, ``tau_exc = tau_syn``, ``v_rest = v_leak``,
  ``E_ij = c r_j w_in_j W_ji a / tau_syn`` with the charge factor
  ``c = (1 - exp(-dt/tau_syn)) / (dt/tau_syn)`` (the engine holds ``ge`` over each step:
  with ``c`` a spike delivers the same charge, ``r w_in W a``, in both). Export writes
  ``r = w_in = 1`` and ``W = tau_exc E^T / (a c)`` (volt-seconds per spike for ``"dirac"``).
- ``LIF`` (no synaptic filter: a spike makes ``v`` jump by ``r W a / tau``): a synapse that
  lasts one step (``tau_exc = 1e-3 dt``, ``exp(-1000) = 0``), with
  ``E = (r W a / tau) / (exp(dt / tau) - 1)``: the engine's exponential-Euler step moves
  ``v`` by ``ge (1 - exp(-dt / tau_mem))`` one step after the spike, where NIR's jump has
  already decayed by ``exp(-dt / tau)``.
- ``IF`` (``dv/dt = r I``): an LIF with ``tau_mem = 1e6 dt`` and ``v_rest = v_reset`` (the
  leak moves ``v - v_rest`` by 0.1 % over 1,000 steps: an approximation).
- Bias ``b``: an extra crossbar row that spikes every time step, weight chosen so ``ge``
  settles exactly where NIR's constant drive puts it (``r w_in b``; LIF: ``r b``). It
  starts one step late (the first input step has no bias yet).
- Thresholds: ``v_thresh = min(v_threshold)``; the per-neuron rest goes into the frozen
  adaptive threshold ``theta``. Export writes ``v_thresh + theta`` per neuron.
- Lateral inhibition <-> a recurrent ``Linear`` ``-c (1 - I)`` (zero diagonal, equal
  off-diagonal): ``tau_inh = tau_syn``, ``w_inh = r w_in c a / tau_syn``. Other recurrent
  weights are not representable (the engine's recurrence is uniform inhibition).
- Integration: the engine advances ``v`` by exponential Euler with ``ge`` held over the step
  (Brian2's ``exponential_euler``); NIR's ODE is exact. The difference is O(dt) per spike
  time (tested: within one step of Brian2 integrating NIR's equations exactly).
- Not in NIR, kept only in neuromem's metadata: the refractory period, conductance-based
  synapses (exported linearised at ``v_rest``: ``ge (e_exc - v) ~ ge (e_exc - v_rest)``),
  ``tau_inh != tau_exc`` (inhibition exported through ``tau_syn``), adaptive threshold
  dynamics (inference freezes theta anyway). Such graphs carry
  ``metadata["neuromem"]["approximations"]``; neuromem re-imports its own graphs from the
  metadata (conductance arrays, device card, neuron card) without loss.

The engine runs one crossbar layer and one population per network; graphs with more weight
layers, non-spiking readouts (``LI``, ``CubaLI``) or other node types are refused with an
error naming the node and its type.
"""

from neuromem.nir.export import export_model, to_nir, write_graph, write_nir
from neuromem.nir.importer import NIRNetwork, from_nir, read_graph
from neuromem.nir.evaluate import evaluate_nir

__all__ = ["to_nir", "write_nir", "write_graph", "export_model", "from_nir", "read_graph",
           "NIRNetwork", "evaluate_nir"]
