"""The event-driven engine against closed forms and hand-counted cases."""

import math

import numpy as np
import pytest

from neuromem.cards import load_device
from neuromem.devices import PulseDevice
from neuromem.layers import CrossbarLayer, Population
from neuromem.network import Network, SpikeInput
from neuromem.neurons import LIFParams
from neuromem.plasticity import STDPParams

IDEAL = load_device("ideal").params


def make_net(n_in, n_out, *, device=IDEAL, neuron=None, stdp=None, w0=None, w_max=1.0,
             dt=1e-4, t_present=0.1, t_rest=0.0, seed=0, mapping="single"):
    rng = np.random.default_rng(seed)
    layer = CrossbarLayer(n_in, n_out, device, rng, w_max=w_max, mapping=mapping)
    if w0 is not None:
        layer.set_weights(np.broadcast_to(np.asarray(w0, float), (n_in, n_out)))
    neuron = neuron or LIFParams(synapse="current", tau_mem_s=0.02, tau_exc_s=1e6, t_ref_s=0.002)
    stdp = stdp or STDPParams(rule="none")
    return Network(layer, Population(n_out, neuron), stdp, dt_s=dt, t_present_s=t_present,
                   t_rest_s=t_rest, seed=seed)


def test_lif_constant_drive_spike_times_match_closed_form():
    # One spike at step 0 with tau_exc = 1e6 s gives a constant drive ge = w_max (current-based,
    # in volts): between spikes v(t) = v_inf + (v_reset - v_inf) exp(-t/tau), exact under
    # exponential Euler. Threshold crossing after T = tau ln((v_inf - v_reset)/(v_inf - v_th)).
    dt, tau, drive, t_ref = 1e-4, 0.02, 0.030, 0.002
    net = make_net(1, 1, w0=1.0, w_max=drive, dt=dt, t_present=0.2,
                   neuron=LIFParams(synapse="current", tau_mem_s=tau, tau_exc_s=1e6,
                                    t_ref_s=t_ref))
    res = net.run(SpikeInput.from_lists([([0], [0])]), raster=True)
    spikes = res.raster[0][:, 0]
    v_inf = -0.065 + drive
    t_cross = tau * math.log((v_inf + 0.065) / (v_inf + 0.052))
    k = math.floor(t_cross / dt) + 1          # integration steps to cross
    ref = round(t_ref / dt)
    expected = [k]
    while expected[-1] + ref - 1 + k < 2000:
        expected.append(expected[-1] + ref - 1 + k)
    assert list(spikes) == expected
    assert res.counts[0, 0] == len(expected)


def stdp_net(rule, weight_dependence="additive", device=IDEAL, a_plus=0.01, a_minus=0.005):
    # Input 1 (weight 1 x w_max 10 V, tau_exc = dt) lifts v by ~50 mV in the next step: the
    # neuron fires one step after input 1's spike. Weights <= 0.001 barely move v.
    return make_net(3, 1, device=device, w0=[[0.0], [1.0], [0.5]], w_max=10.0, dt=1e-4,
                    t_present=0.01,
                    neuron=LIFParams(synapse="current", tau_mem_s=0.02, tau_exc_s=1e-4,
                                     t_ref_s=0.002),
                    stdp=STDPParams(rule=rule, a_plus=a_plus, a_minus=a_minus,
                                    tau_plus_s=0.02, tau_minus_s=0.015,
                                    weight_dependence=weight_dependence, window_s=0.001))


@pytest.mark.parametrize("dependence", ["additive", "soft"])
def test_pair_stdp_on_ideal_card_is_textbook(dependence):
    net = stdp_net("pair", dependence)
    net.layer.set_weights(np.array([[0.001], [1.0], [0.5]]))
    w_before = net.layer.weights()[:, 0].copy()
    inputs = SpikeInput.from_lists([([10, 30, 60], [0, 1, 0])])
    res = net.run(inputs, learn=True, raster=True)
    assert list(res.raster[0][:, 0]) == [31]
    dt, a_p, a_m = 1e-4, 0.01, 0.005
    w = w_before.copy()
    soft = dependence == "soft"
    # step 31 (post): potentiation by the pre traces decayed to the post spike
    for i, t_pre in ((0, 10), (1, 30)):
        w[i] += a_p * math.exp(-(31 - t_pre) * dt / 0.02) * ((1 - w[i]) if soft else 1)
    w = np.clip(w, 0.0, 1.0)  # additive STDP with hard bounds [0, w_max]
    # step 60 (pre of input 0): depression by the post trace decayed from step 31
    w[0] -= a_m * math.exp(-(60 - 31) * dt / 0.015) * (w[0] if soft else 1)
    np.testing.assert_allclose(net.layer.weights()[:, 0], w, rtol=1e-12, atol=1e-15)
    assert w[2] == w_before[2]  # input 2 never spiked: untouched


def test_querlioz_rule_pulses_are_hand_counted():
    device = PulseDevice(g_min_S=1e-6, g_max_S=1.1e-5, levels=11, a_ltp=math.inf,
                         a_ltd=math.inf)  # linear, one pulse = 0.1 in weight
    net = stdp_net("querlioz", device=device, a_plus=0.1, a_minus=0.1)
    net.layer.set_weights(np.array([[0.0], [1.0], [0.5]]))
    # input 0 spikes 5 steps (0.5 ms) before the post spike (window 1 ms): LTP; input 1
    # causes the post spike (LTP); input 2 never spikes (LTD). Weight 0 drive is zero.
    res = net.run(SpikeInput.from_lists([([25, 30], [0, 1])]), learn=True, raster=True)
    assert list(res.raster[0][:, 0]) == [31]
    np.testing.assert_allclose(net.layer.weights()[:, 0], [0.1, 1.0, 0.4], atol=1e-12)
    ev = res.events
    assert ev["ltp_pulses"] == 2  # input 1 is already at g_max: the pulse is applied, no change
    assert ev["ltd_pulses"] == 1
    assert ev["cells_written"] == 3
    assert ev["input_spikes"] == 2 and ev["row_activations"] == 2
    assert ev["cells_read"] == 2 * (1 + 1)   # one column + the reference cell per row
    assert ev["output_spikes"] == 1
    assert ev["steps"] == 100 and ev["neuron_updates"] == 100


def test_differential_pair_reads_two_cells_per_column():
    net = make_net(4, 3, mapping="differential", w0=[[0.5, -0.5, 0.0]] * 4, w_max=0.001)
    res = net.run(SpikeInput.from_lists([([1, 2, 2], [0, 1, 3])]))
    assert res.events["cells_read"] == 3 * 2 * 3
    np.testing.assert_allclose(net.layer.weights()[0], [0.5, -0.5, 0.0], atol=1e-15)


def test_poisson_input_rate():
    net = make_net(50, 2, w_max=1e-6, dt=5e-4, t_present=1.0)
    rates = np.full((4, 50), 100.0)
    res = net.run(rates)
    # 4 x 50 x 2000 Bernoulli(0.05) draws: mean 20000, sd ~ 97; allow 5 sd.
    assert abs(res.events["input_spikes"] - 20000) < 5 * math.sqrt(20000 * 0.95)


def test_parallel_inference_equals_sequential_and_seed_determinism():
    rng = np.random.default_rng(3)
    rates = rng.uniform(0, 80, size=(12, 20))
    neuron = LIFParams(theta_plus_V=0.0, inhibition=2.0)
    a = make_net(20, 10, neuron=neuron, w_max=6.0, dt=5e-4, t_present=0.2, seed=5)
    b = make_net(20, 10, neuron=neuron, w_max=6.0, dt=5e-4, t_present=0.2, seed=5)
    ra = a.run(rates)                    # parallel batch
    rb = b.run(rates, raster=True)       # one by one
    assert ra.counts.sum() > 50
    assert np.array_equal(ra.counts, rb.counts)
    assert ra.events == rb.events
    c = make_net(20, 10, neuron=neuron, w_max=6.0, dt=5e-4, t_present=0.2, seed=6)
    assert not np.array_equal(c.run(rates).counts, ra.counts)


def test_learning_with_noisy_device_is_reproducible():
    device = load_device("taox_hfox_wu2018").params.with_updates(g_max_dtod=0.2)
    rates = np.random.default_rng(1).uniform(0, 60, size=(6, 16))

    def learn(seed):
        net = make_net(16, 5, device=device, w0=None, w_max=3.0, dt=5e-4, t_present=0.2,
                       seed=seed, neuron=LIFParams(theta_plus_V=5e-5, inhibition=5.0),
                       stdp=STDPParams(rule="pair", a_plus=0.05, a_minus=0.02))
        res = net.run(rates, learn=True)
        return net.layer.pos.g.copy(), res.events

    g1, e1 = learn(11)
    g2, e2 = learn(11)
    g3, _ = learn(12)
    assert e1["ltp_pulses"] > 0 and e1["ltd_pulses"] > 0
    assert np.array_equal(g1, g2) and e1 == e2
    assert not np.array_equal(g1, g3)


def test_lateral_inhibition_suppresses_competitors():
    rates = np.full((3, 10), 50.0)
    w0 = np.random.default_rng(0).uniform(0.3, 1.0, size=(10, 8))
    plain = make_net(10, 8, w0=w0, w_max=2.0, dt=5e-4, t_present=0.3,
                     neuron=LIFParams(inhibition=0.0))
    wta = make_net(10, 8, w0=w0, w_max=2.0, dt=5e-4, t_present=0.3,
                   neuron=LIFParams(inhibition=20.0))
    free = plain.run(rates).counts
    wta_run = wta.run(rates)
    compete = wta_run.counts
    # Without inhibition every neuron fires; with it the first to fire silences the others
    # (inhibitory reversal at -100 mV with gi = 20 leak conductances).
    assert np.all(free > 0)
    assert compete.sum() < 0.5 * free.sum()
    assert wta_run.events["inhibition_events"] == compete.sum()


def test_memory_per_synapse_is_eight_bytes_without_variability():
    net = make_net(784, 400)
    assert net.layer.memory_bytes() / (784 * 400) < 8.01


def test_event_names_match_the_kernels_counters():
    from neuromem.events import EVENT_NAMES
    from neuromem.kernels import engine as kernel
    assert len(EVENT_NAMES) == kernel.N_EVENTS == len(set(EVENT_NAMES))
    indices = {name[3:].lower(): getattr(kernel, name) for name in dir(kernel)
               if name.startswith("EV_")}
    assert len(indices) == kernel.N_EVENTS
    assert all(EVENT_NAMES[i] == name for name, i in indices.items())
