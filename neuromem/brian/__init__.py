"""Brian2 bridge: neuromem crossbars inside Brian2 networks, and as Brian2 equations.

Two ways to put a :class:`~neuromem.layers.CrossbarLayer` between Brian2 groups:

**Runtime bridge** — :class:`CrossbarSynapses` (runtime mode: numpy or cython targets).
A Brian2 ``NetworkOperation`` at ``when='synapses'`` hands each step's spikes to neuromem's
numba kernel, which reads the crossbar into the target variable and applies device-aware
STDP with everything the engine models (nonlinear bounded pulse response, discrete levels,
cycle-to-cycle, device-to-device and read noise, stuck cells, differential pairs, pair and
Querlioz rules). Brian2 ``store()``/``restore()`` include the crossbar (conductances, gains,
traces, generator state); :class:`CrossbarStateMonitor` records conductances like a
``StateMonitor``::

    from brian2 import NeuronGroup, PoissonGroup, SpikeMonitor, run, Hz, ms
    from neuromem.brian import CrossbarSynapses, CrossbarStateMonitor

    inp = PoissonGroup(layer.n_in, rates=20 * Hz)
    exc = NeuronGroup(layer.n_out, eqs, threshold="v > v_th", reset="v = v_r")
    syn = CrossbarSynapses(inp, exc, layer, "ge", stdp=STDPParams(a_plus=0.01))
    mon = CrossbarStateMonitor(syn, cells=([0, 1], [0, 0]), dt=10 * ms)
    run(1 * second)                 # the magic network collects syn and mon
    mon.t, mon.g                    # Quantities, like StateMonitor

**Equation export** — :func:`to_brian2_synapses` builds ordinary Brian2 ``Synapses`` with
the same read and STDP written as Brian2 code: it runs without neuromem, also in
``cpp_standalone`` and on GPU devices. :func:`copy_conductances` writes the result back into
a layer.

Time-step order
---------------
Brian2's schedule is ``start, groups, thresholds, synapses, resets, end``. The bridge runs in
the ``synapses`` slot (order 0), after all ``on_pre`` pathways (order -1) and before all
``on_post`` pathways (order 1) of other Synapses, so it sees the spikes of the current step.
Inside the step it follows neuromem's engine: every input spike reads its row (the read
uses the conductances before this step's learning) and then depresses the row by the
postsynaptic traces; then every output spike updates its trace and potentiates its column
by the presynaptic traces (which include this step's input spikes). A synapse whose pre and
post neurons spike in the same step is therefore depressed first, then potentiated. The
exported Synapses do the same: Brian2 runs the ``on_pre`` pathway before the ``on_post``
pathway, and within ``on_pre`` the read statement comes first.

Units
-----
Quantities enter at the boundary and are converted to SI floats: ``w_max`` (what a spike
through a synapse at full conductance adds to the target variable) must carry that
variable's unit, a plain number only for a dimensionless one, else Brian2's
``DimensionMismatchError`` names the object. Conductances come back in siemens.

What the export expresses, and what it refuses
----------------------------------------------
Expressed exactly (same arithmetic as the engine up to floating-point round-off): the pulse
model's closed-form noise-free update (invert G -> P, P += dP, G = curve(P), clip), linear
or nonlinear, with separate LTP/LTD constants; bounds; the single-device and differential
(push-pull) mappings; device-to-device variation of Gmin, Gmax and A (per-synapse constant
parameters); stuck-at cells (a per-synapse flag); per-column gains; pair STDP (additive or
soft-bound, all-to-all or nearest traces; event-driven traces); the Querlioz rule (time
step of the last pre spike per synapse compared with ``t_in_timesteps``).

Expressed with Brian2's random numbers, equal in distribution only, and therefore refused
unless ``allow_random=True``: cycle-to-cycle noise (``randn()``), discrete levels (stochastic
rounding of the pulse count with ``rand()``) and read noise.

Refused: physics-model devices (ion drift, VTEAM: they integrate a state under voltage
pulses; :class:`~neuromem.layers.CrossbarLayer` refuses them already) and the MAC-mode read
model of :class:`neuromem.crossbar.Crossbar` (tiles, IR drop, DAC/ADC), which is not part of
the event-driven layer. Not modelled, as in the engine's learning runs: retention drift.
The runtime bridge refuses Brian2 standalone devices (they silently skip network
operations) with :class:`StandaloneDeviceError`.
"""

from neuromem.brian._common import StandaloneDeviceError
from neuromem.brian.export import copy_conductances, export_limitations, to_brian2_synapses
from neuromem.brian.runtime import CrossbarStateMonitor, CrossbarSynapses

__all__ = ["CrossbarSynapses", "CrossbarStateMonitor", "to_brian2_synapses",
           "copy_conductances", "export_limitations", "StandaloneDeviceError"]
