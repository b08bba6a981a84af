"""The engine against Brian2 (exact reference) on a deterministic network.

Same neurons (conductance-based, adaptive threshold, exponential Euler), same input spike
trains (SpikeGeneratorGroup), same lateral inhibition and pair STDP with the ``ideal`` card:
the spike trains must be identical and the learned weights equal to round-off.
"""

import numpy as np
import pytest

from neuromem.cards import load_device
from neuromem.layers import CrossbarLayer, Population
from neuromem.network import Network, SpikeInput
from neuromem.neurons import LIFParams
from neuromem.plasticity import STDPParams

pytestmark = pytest.mark.brian2

N_IN, N_OUT, DT, T = 12, 4, 5e-4, 1.0
NEURON = LIFParams(theta_plus_V=2e-3, tau_theta_s=0.5, inhibition=3.0, t_ref_s=0.005)
W_MAX = 2.0


def input_events(seed=4):
    rng = np.random.default_rng(seed)
    n_steps = int(round(T / DT))
    mask = rng.random((n_steps, N_IN)) < 40.0 * DT
    steps, chans = np.nonzero(mask)
    return steps.astype(np.int64), chans.astype(np.int64)


def run_neuromem(w0, stdp, learn):
    layer = CrossbarLayer(N_IN, N_OUT, load_device("ideal").params, np.random.default_rng(0),
                          w_max=W_MAX)
    layer.set_weights(w0)
    net = Network(layer, Population(N_OUT, NEURON), stdp, dt_s=DT, t_present_s=T,
                  t_rest_s=0.0)
    steps, chans = input_events()
    res = net.run(SpikeInput.from_lists([(steps, chans)]), learn=learn, raster=True)
    return res.raster[0], layer.weights()


def run_brian2(w0, stdp, learn):
    b2 = pytest.importorskip("brian2")
    from brian2 import Network as B2Network
    from brian2 import NeuronGroup, SpikeGeneratorGroup, SpikeMonitor, Synapses, second, volt
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = DT * second
    p = NEURON
    eqs = """
    dv/dt = ((v_rest - v) + ge * (e_exc - v) + gi * (e_inh - v)) / tau_m : volt (unless refractory)
    dge/dt = -ge / tau_e : 1
    dgi/dt = -gi / tau_i : 1
    dtheta/dt = -theta / tau_theta : volt
    """
    ns = dict(v_rest=p.v_rest_V * volt, e_exc=p.e_exc_V * volt, e_inh=p.e_inh_V * volt,
              tau_m=p.tau_mem_s * second, tau_e=p.tau_exc_s * second,
              tau_i=p.tau_inh_s * second, tau_theta=p.tau_theta_s * second,
              v_thresh=p.v_thresh_V * volt, v_reset=p.v_reset_V * volt,
              theta_plus=(p.theta_plus_V if learn else 0.0) * volt, w_inh=p.inhibition,
              w_max=W_MAX, a_plus=stdp.a_plus, a_minus=stdp.a_minus,
              tau_plus=stdp.tau_plus_s * second, tau_minus=stdp.tau_minus_s * second)
    exc = NeuronGroup(N_OUT, eqs, threshold="v > v_thresh + theta",
                      reset="v = v_reset; theta += theta_plus", refractory=p.t_ref_s * second,
                      method="exponential_euler", namespace=ns)
    exc.v = p.v_rest_V * volt
    steps, chans = input_events()
    inp = SpikeGeneratorGroup(N_IN, chans, steps * DT * second)
    if learn:
        syn = Synapses(inp, exc, """w : 1
                       dapre/dt = -apre / tau_plus : 1 (event-driven)
                       dapost/dt = -apost / tau_minus : 1 (event-driven)""",
                       on_pre="""ge_post += w * w_max
                       apre += 1
                       w = clip(w - a_minus * apost, 0, 1)""",
                       on_post="""apost += 1
                       w = clip(w + a_plus * apre, 0, 1)""", namespace=ns)
    else:
        syn = Synapses(inp, exc, "w : 1", on_pre="ge_post += w * w_max", namespace=ns)
    syn.connect()
    syn.w = w0[syn.i[:], syn.j[:]]
    inh = Synapses(exc, exc, on_pre="gi_post += w_inh", namespace=ns)
    inh.connect(condition="i != j")
    mon = SpikeMonitor(exc)
    net = B2Network(exc, inp, syn, inh, mon)
    net.run(T * second)
    raster = np.column_stack([np.round(np.asarray(mon.t / second) / DT).astype(np.int64),
                              np.asarray(mon.i, dtype=np.int64)])
    w = np.zeros((N_IN, N_OUT))
    w[syn.i[:], syn.j[:]] = syn.w[:]
    return raster, w


@pytest.mark.parametrize("learn", [False, True])
def test_engine_matches_brian2_exactly(learn):
    w0 = np.random.default_rng(1).uniform(0.2, 0.9, size=(N_IN, N_OUT))
    stdp = STDPParams(rule="pair", a_plus=0.02, a_minus=0.015, tau_plus_s=0.02,
                      tau_minus_s=0.02)
    ours, w_ours = run_neuromem(w0, stdp, learn)
    ref, w_ref = run_brian2(w0, stdp, learn)
    assert len(ref) > 20  # the comparison means something
    order = np.lexsort((ref[:, 1], ref[:, 0]))
    ours_sorted = ours[np.lexsort((ours[:, 1], ours[:, 0]))]
    assert np.array_equal(ours_sorted, ref[order])
    np.testing.assert_allclose(w_ours, w_ref, rtol=1e-9, atol=1e-12)
    if learn:
        assert np.abs(w_ours - w0).max() > 1e-3  # learning happened
