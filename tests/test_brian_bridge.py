"""The Brian2 bridge (runtime NetworkOperation) and the equation export, against the engine.

Deterministic network (the one of test_engine_brian2: conductance-based adaptive LIF neurons,
lateral inhibition, fixed input spike trains from a SpikeGeneratorGroup, 1 s, learning on):
neuromem's engine, Brian2 + CrossbarSynapses and Brian2 + exported Synapses (runtime numpy;
cpp_standalone in the slow tests) must give identical output spike trains and final
conductances equal within 1e-9 relative, on the ideal card and on nonlinear noise-free
cards, for each mapping and rule the export expresses. With device noise the bridge and the
export match neuromem in distribution (two-sample KS tests, with a negative control that
shows the tests can see a 15 % error of the noise amplitude).
"""

import contextlib
import math

import brian2 as b2
import numpy as np
import pytest
from brian2 import (NeuronGroup, SpikeGeneratorGroup, SpikeMonitor, Synapses,
                    mV, ms, nS, second, siemens, volt)
from brian2.devices.device import RuntimeDevice, reinit_devices, reset_device
from brian2.units.fundamentalunits import DimensionMismatchError
from numba import njit
from scipy import stats

from neuromem.brian import (CrossbarStateMonitor, CrossbarSynapses,
                            StandaloneDeviceError, copy_conductances, export_limitations,
                            to_brian2_synapses)
from neuromem.cards import load_device
from neuromem.devices import PulseDevice
from neuromem.exceptions import ConfigError
from neuromem.kernels import bridge as kb
from neuromem.kernels import engine as ke
from neuromem.layers import CrossbarLayer, Population
from neuromem.network import Network, SpikeInput
from neuromem.neurons import LIFParams
from neuromem.plasticity import STDPParams

pytestmark = pytest.mark.brian2

N_IN, N_OUT, DT, T = 12, 4, 5e-4, 1.0
NEURON = LIFParams(theta_plus_V=2e-3, tau_theta_s=0.5, inhibition=3.0, t_ref_s=0.005)
W_MAX = 2.0
NONLINEAR = PulseDevice(g_min_S=1e-6, g_max_S=1e-5, levels=101, a_ltp=0.5, a_ltd=0.3,
                        continuous=True)
SPREAD = NONLINEAR.with_updates(g_max_dtod=0.1, a_dtod=0.2, stuck_on_rate=0.05,
                                stuck_off_rate=0.05)
PAIR = STDPParams(rule="pair", a_plus=0.02, a_minus=0.015, tau_plus_s=0.02, tau_minus_s=0.02)
SOFT_NEAREST = STDPParams(rule="pair", a_plus=0.03, a_minus=0.02, weight_dependence="soft",
                          trace="nearest")
QUERLIOZ = STDPParams(rule="querlioz", a_plus=0.03, a_minus=0.01, window_s=0.02,
                      weight_dependence="soft")

# name: (device, mapping, stdp, initial weight range)
CONFIGS = {
    "ideal-pair": (load_device("ideal").params, "single", PAIR, (0.2, 0.9)),
    "nonlinear-pair": (NONLINEAR, "single", PAIR, (0.2, 0.9)),
    "nonlinear-differential-soft-nearest": (NONLINEAR, "differential", SOFT_NEAREST,
                                            (-0.1, 1.0)),
    "d2d-faults-querlioz": (SPREAD, "single", QUERLIOZ, (0.2, 0.9)),
    "nonlinear-differential-querlioz": (NONLINEAR, "differential", QUERLIOZ, (-0.1, 1.0)),
}


@pytest.fixture(autouse=True)
def _runtime_numpy():
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = DT * second
    yield
    b2.prefs.codegen.target = "numpy"


@contextlib.contextmanager
def brian_device(name, **kwargs):
    """Run a block on another Brian2 device, then back to runtime with fresh devices."""
    b2.set_device(name, **kwargs)
    try:
        yield b2.get_device()
    finally:
        reset_device()
        reinit_devices()
        b2.prefs.codegen.target = "numpy"
        b2.defaultclock.dt = DT * second


def input_events(seed=4, rate=40.0):
    rng = np.random.default_rng(seed)
    n_steps = int(round(T / DT))
    mask = rng.random((n_steps, N_IN)) < rate * DT
    steps, chans = np.nonzero(mask)
    return steps.astype(np.int64), chans.astype(np.int64)


def make_layer(device, mapping, init):
    layer = CrossbarLayer(N_IN, N_OUT, device, np.random.default_rng(0), mapping=mapping,
                          w_max=W_MAX)
    w0 = np.random.default_rng(1).uniform(*init, size=(N_IN, N_OUT))
    layer.set_weights(w0)
    return layer


def sort_raster(r):
    return r[np.lexsort((r[:, 1], r[:, 0]))]


def run_engine(config):
    device, mapping, stdp, init = CONFIGS[config]
    layer = make_layer(device, mapping, init)
    net = Network(layer, Population(N_OUT, NEURON), stdp, dt_s=DT, t_present_s=T,
                  t_rest_s=0.0)
    steps, chans = input_events()
    res = net.run(SpikeInput.from_lists([(steps, chans)]), learn=True, raster=True)
    return sort_raster(res.raster[0]), layer


def lif_group(name, n=N_OUT):
    """The engine's neurons as a Brian2 NeuronGroup and their namespace."""
    p = NEURON
    ns = dict(v_rest=p.v_rest_V * volt, e_exc=p.e_exc_V * volt, e_inh=p.e_inh_V * volt,
              tau_m=p.tau_mem_s * second, tau_e=p.tau_exc_s * second,
              tau_i=p.tau_inh_s * second, tau_theta=p.tau_theta_s * second,
              v_thresh=p.v_thresh_V * volt, v_reset=p.v_reset_V * volt,
              theta_plus=p.theta_plus_V * volt, w_inh=p.inhibition)
    eqs = """
    dv/dt = ((v_rest - v) + ge * (e_exc - v) + gi * (e_inh - v)) / tau_m : volt (unless refractory)
    dge/dt = -ge / tau_e : 1
    dgi/dt = -gi / tau_i : 1
    dtheta/dt = -theta / tau_theta : volt
    """
    exc = NeuronGroup(n, eqs, threshold="v > v_thresh + theta",
                      reset="v = v_reset; theta += theta_plus", refractory=p.t_ref_s * second,
                      method="exponential_euler", namespace=ns, name=f"exc_{name}",
                      dt=DT * second)
    exc.v = p.v_rest_V * volt
    return exc, ns


def inhibition(exc, ns, name):
    """Lateral inhibition: every spike adds w_inh to gi of every other neuron."""
    inh = Synapses(exc, exc, on_pre="gi_post += w_inh", namespace=ns, name=f"inh_{name}")
    inh.connect(condition="i != j")
    return inh


def build_brian2(config, mode, tag=""):
    """The test network in Brian2 with the crossbar as ``mode`` ('bridge' or 'export')."""
    device, mapping, stdp, init = CONFIGS[config]
    name = f"{config.replace('-', '_')}{tag}"
    exc, ns = lif_group(name)
    inh = inhibition(exc, ns, name)
    steps, chans = input_events()
    inp = SpikeGeneratorGroup(N_IN, chans, steps * DT * second, dt=DT * second,
                              name=f"inp_{name}")
    layer = make_layer(device, mapping, init)
    if mode == "bridge":
        syn = CrossbarSynapses(inp, exc, layer, "ge", stdp=stdp, name=f"xbar_{name}")
    else:
        syn = to_brian2_synapses(layer, inp, exc, stdp, name=f"xbar_{name}")
    mon = SpikeMonitor(exc, name=f"mon_{name}")
    return {"objects": [exc, inh, inp, syn, mon], "syn": syn, "mon": mon, "layer": layer,
            "mode": mode}


def collect(built):
    """(sorted raster, layer with the final conductances) after a run."""
    mon = built["mon"]
    raster = np.column_stack([np.round(np.asarray(mon.t_) / DT).astype(np.int64),
                              np.asarray(mon.i[:], dtype=np.int64)])
    if built["mode"] == "export":
        copy_conductances(built["syn"], built["layer"])
    return sort_raster(raster), built["layer"]


def run_brian2(config, mode):
    built = build_brian2(config, mode)
    b2.Network(*built["objects"]).run(T * second)
    return collect(built)


def assert_same(ref, other):
    (r_ref, l_ref), (r, layer) = ref, other
    assert len(r_ref) > 15  # the comparison means something
    assert np.array_equal(r_ref, r)
    for a, b in ((l_ref.pos.g, layer.pos.g),
                 (getattr(l_ref.neg, "g", None), getattr(layer.neg, "g", None))):
        if a is not None:
            np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-9 * l_ref.span_S)


# ---------------------------------------------------------------------------------------------
# Exact agreement: engine = bridge = export
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("config", list(CONFIGS))
def test_bridge_and_export_match_engine_exactly(config):
    ref = run_engine(config)
    device, mapping, stdp, init = CONFIGS[config]
    g0 = make_layer(device, mapping, init).pos.g
    assert np.abs(ref[1].pos.g - g0).max() > 1e-3 * ref[1].span_S  # learning happened
    assert_same(ref, run_brian2(config, "bridge"))
    assert_same(ref, run_brian2(config, "export"))


def test_bridge_with_learning_off_reads_only():
    layer = make_layer(NONLINEAR, "single", (0.2, 0.9))
    g0 = layer.pos.g.copy()
    built = build_brian2("nonlinear-pair", "bridge")
    built["syn"].learn = False
    b2.Network(*built["objects"]).run(0.2 * second)
    raster, layer = collect(built)
    assert len(raster) > 0
    assert np.array_equal(layer.pos.g, g0)
    ev = built["syn"].events
    assert ev["input_spikes"] > 0 and ev["ltp_pulses"] == ev["ltd_pulses"] == 0
    assert ev["cells_read"] == ev["input_spikes"] * (N_OUT + 1)


@pytest.mark.slow
def test_bridge_on_cython_target_matches_engine():
    """Cython target (slow: a cold cython cache compiles for minutes)."""
    b2.prefs.codegen.target = "cython"
    assert_same(run_engine("nonlinear-pair"), run_brian2("nonlinear-pair", "bridge"))


@pytest.mark.slow
def test_export_in_cpp_standalone_matches_engine(tmp_path):
    """One standalone project simulates every configuration side by side."""
    refs = {c: run_engine(c) for c in CONFIGS}
    with brian_device("cpp_standalone", directory=str(tmp_path / "standalone"),
                      build_on_run=False):
        b2.defaultclock.dt = DT * second
        built = {c: build_brian2(c, "export", tag="_sa") for c in CONFIGS}
        net = b2.Network([o for b in built.values() for o in b["objects"]])
        net.run(T * second)
        b2.device.build(directory=str(tmp_path / "standalone"), compile=True, run=True)
        results = {c: collect(b) for c, b in built.items()}
    for c in CONFIGS:
        assert_same(refs[c], results[c])


# ---------------------------------------------------------------------------------------------
# Order within a time step
# ---------------------------------------------------------------------------------------------
POST_EVERY, POST_AT = 40, 10      # forced post spikes at steps 10, 50, 90
PRE_STEPS = [10, 20, 48, 50, 70]  # two of them coincide with post spikes
N_ORDER_STEPS = 100


def hand_reference(w0, stdp, w_max):
    """The engine's documented order, step by step: reads, then pre (depression by traces of
    earlier post spikes), then post (potentiation by traces including this step's pre)."""
    w, x_pre, x_post, t_pre, t_post, ge = w0, 0.0, 0.0, None, None, 0.0
    for s in range(N_ORDER_STEPS):
        if s in PRE_STEPS:
            ge += w * w_max
            xp = 0.0 if t_post is None else x_post * math.exp(-(s - t_post) * DT
                                                               / stdp.tau_minus_s)
            x_pre = 1.0 if t_pre is None else x_pre * math.exp(-(s - t_pre) * DT
                                                               / stdp.tau_plus_s) + 1.0
            t_pre = s
            w -= stdp.a_minus * xp
        if s % POST_EVERY == POST_AT:
            x_post = 1.0 if t_post is None else x_post * math.exp(-(s - t_post) * DT
                                                                  / stdp.tau_minus_s) + 1.0
            t_post = s
            w += stdp.a_plus * x_pre * math.exp(-(s - t_pre) * DT / stdp.tau_plus_s)
    return w, ge


def order_network(mode, layer, stdp, w0):
    inp = SpikeGeneratorGroup(1, np.zeros(len(PRE_STEPS), int), np.array(PRE_STEPS) * DT * second,
                              dt=DT * second)
    post = NeuronGroup(1, "ge : 1", threshold=f"t_in_timesteps % {POST_EVERY} == {POST_AT}",
                       dt=DT * second)
    if mode == "bridge":
        syn = CrossbarSynapses(inp, post, layer, "ge", stdp=stdp)
    elif mode == "export":
        syn = to_brian2_synapses(layer, inp, post, stdp)
    else:  # Brian2's own pair STDP
        syn = Synapses(inp, post, """w : 1
                       dapre/dt = -apre / tau_plus : 1 (event-driven)
                       dapost/dt = -apost / tau_minus : 1 (event-driven)""",
                       on_pre="""ge_post += w * w_max
                       apre += 1
                       w = clip(w - a_minus * apost, 0, 1)""",
                       on_post="""apost += 1
                       w = clip(w + a_plus * apre, 0, 1)""",
                       namespace=dict(tau_plus=stdp.tau_plus_s * second,
                                      tau_minus=stdp.tau_minus_s * second, w_max=W_MAX,
                                      a_plus=stdp.a_plus, a_minus=stdp.a_minus))
        syn.connect()
        syn.w = w0
    net = b2.Network(inp, post, syn)
    return net, syn, post


@pytest.mark.parametrize("mode", ["bridge", "export", "brian2_native"])
def test_same_step_pre_and_post_follow_the_engine_order(mode):
    stdp = PAIR
    w0 = 0.5
    layer = CrossbarLayer(1, 1, load_device("ideal").params, np.random.default_rng(0),
                          w_max=W_MAX)
    layer.set_weights([[w0]])
    net, syn, post = order_network(mode, layer, stdp, w0)
    net.run(N_ORDER_STEPS * DT * second)
    if mode == "export":
        copy_conductances(syn, layer)
    w = float(syn.w[0]) if mode == "brian2_native" else float(layer.weights()[0, 0])
    w_ref, ge_ref = hand_reference(w0, stdp, W_MAX)
    assert w == pytest.approx(w_ref, rel=1e-12)
    assert float(post.ge[0]) == pytest.approx(ge_ref, rel=1e-12)
    # and not the other order (post before pre): the test can tell them apart
    assert abs(w_ref - w0) > 1e-3


def test_bridge_runs_between_pre_and_post_pathways():
    layer = CrossbarLayer(1, 1, load_device("ideal").params, np.random.default_rng(0))
    net, bridge, post = order_network("bridge", layer, PAIR, 0.5)
    inp = bridge.source
    other = Synapses(inp, post, "w : 1", on_pre="ge_post += w", on_post="w += 0")
    other.connect()
    net.add(other)
    order = [obj.name for obj in net.sorted_objects]
    assert (order.index(other.name + "_pre") < order.index(bridge.name)
            < order.index(other.name + "_post"))


def test_the_exact_comparison_covers_same_step_pre_and_post_spikes():
    """The network of the exact tests has output spikes in steps with input spikes, so it
    checks the within-step order too."""
    raster, _ = run_engine("nonlinear-pair")
    steps, _ = input_events()
    assert np.intersect1d(raster[:, 0], steps).size > 3


# ---------------------------------------------------------------------------------------------
# Brian2 integration: store/restore, monitors, units, magic network, subgroups, devices
# ---------------------------------------------------------------------------------------------
NOISY = load_device("taox_hfox_wu2018").params   # 128 levels, nonlinear, 3.7 % C2C


def noisy_network(seed=3):
    exc, ns = lif_group("noisy")
    inh = inhibition(exc, ns, "noisy")
    inp = b2.PoissonGroup(N_IN, rates=60 * b2.Hz, dt=DT * second, name="inp_noisy")
    layer = CrossbarLayer(N_IN, N_OUT, NOISY, np.random.default_rng(0), w_max=W_MAX,
                          init=(0.3, 0.9))
    syn = CrossbarSynapses(inp, exc, layer, "ge", stdp=PAIR, seed=seed, name="xbar_noisy")
    mon = SpikeMonitor(exc, name="mon_noisy")
    return b2.Network(exc, inh, inp, syn, mon), syn, mon


def test_store_restore_includes_the_crossbar(tmp_path):
    net, syn, mon = noisy_network()
    b2.seed(11)
    net.store("start")
    net.store("start", filename=str(tmp_path / "state.pkl"))
    net.run(0.2 * second)
    g1, n1, ev1 = syn.g, mon.num_spikes, syn.events
    assert ev1["ltp_pulses"] > 0 and ev1["ltd_pulses"] > 0
    net.restore("start", restore_random_state=True)
    assert syn.events["input_spikes"] == 0
    net.run(0.2 * second)
    assert mon.num_spikes == n1
    assert np.array_equal(syn.g, g1) and syn.events == ev1
    net.restore("start", filename=str(tmp_path / "state.pkl"), restore_random_state=True)
    net.run(0.2 * second)
    assert np.array_equal(syn.g, g1)
    # the crossbar's generator can be left running, like Brian2's own by default
    syn.restore_random_state = False
    net.restore("start", restore_random_state=True)
    net.run(0.2 * second)
    assert not np.array_equal(syn.g, g1)


def test_state_monitor_records_conductances_with_units():
    built = build_brian2("nonlinear-differential-soft-nearest", "bridge")
    syn = built["syn"]
    g_start = syn.g
    every = CrossbarStateMonitor(syn, cells=([0, 3, 11], [1, 2, 3]))
    coarse = CrossbarStateMonitor(syn, cells=np.array([1, 14, 47]), dt=10 * ms)
    every_all = CrossbarStateMonitor(syn)
    b2.Network(*built["objects"], every, coarse, every_all).run(0.1 * second)
    assert b2.have_same_dimensions(every.g, siemens) and b2.have_same_dimensions(every.t,
                                                                                second)
    assert every.g.shape == (3, 200) and coarse.g.shape == (3, 10)
    np.testing.assert_allclose(coarse.t_, np.arange(10) * 0.01, atol=1e-12)
    assert np.array_equal(every.g_[:, ::20], coarse.g_)     # same cells: 1, 14, 47
    assert np.array_equal(every.i, [0, 3, 11]) and np.array_equal(every.j, [1, 2, 3])
    assert np.array_equal(every.g_[:, 0], np.asarray(g_start)[every.i, every.j])
    assert every.g_neg.shape == (3, 200)
    w = every.w
    assert w.shape == (3, 200) and np.all(np.abs(w) <= 1)
    assert every_all.g_.shape == (N_IN * N_OUT, 200)
    assert np.abs(np.diff(every_all.g_, axis=1)).max() > 0   # it learned while recording


def test_units_are_checked_and_converted_at_the_boundary():
    inp = SpikeGeneratorGroup(2, [0, 1], [1, 1] * ms, dt=DT * second)
    grp = NeuronGroup(3, "x : volt\ny : 1\nz : siemens", dt=DT * second)
    layer = CrossbarLayer(2, 3, NONLINEAR, np.random.default_rng(0), w_max=1.0)
    w = np.array([[0.1, 0.5, 1.0], [0.0, 0.2, 0.3]])
    layer.set_weights(w)
    syn = CrossbarSynapses(inp, grp, layer, "x", w_max=3 * mV, learn=False)
    exported = to_brian2_synapses(layer, inp, grp, target_var="z", w_max=2 * nS, learn=False)
    b2.Network(inp, grp, syn, exported).run(2 * ms)
    np.testing.assert_allclose(np.asarray(grp.x_), w.sum(axis=0) * 3e-3, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(grp.z_), w.sum(axis=0) * 2e-9, rtol=1e-12)
    with pytest.raises(DimensionMismatchError, match="w_max must be given in V"):
        CrossbarSynapses(inp, grp, layer, "x", w_max=3 * nS)
    with pytest.raises(DimensionMismatchError, match="w_max"):
        CrossbarSynapses(inp, grp, layer, "x", w_max=3.0)
    with pytest.raises(DimensionMismatchError, match="must be given in 1"):
        to_brian2_synapses(layer, inp, grp, target_var="y", w_max=3 * mV)
    with pytest.raises(ConfigError, match="has no variable 'ge'.*x, y, z"):
        CrossbarSynapses(inp, grp, layer, "ge")
    with pytest.raises(ConfigError, match="3 columns"):
        CrossbarSynapses(inp, NeuronGroup(4, "x : volt"), layer, "x")
    with pytest.raises(DimensionMismatchError, match="dt"):
        CrossbarStateMonitor(syn, dt=3)


def magic_run():
    b2.start_scope()
    exc, ns = lif_group("magic")
    inh = inhibition(exc, ns, "magic")
    steps, chans = input_events()
    inp = SpikeGeneratorGroup(N_IN, chans, steps * DT * second, dt=DT * second)
    layer = make_layer(NONLINEAR, "single", (0.2, 0.9))
    syn = CrossbarSynapses(inp, exc, layer, "ge", stdp=PAIR)
    mon = SpikeMonitor(exc)
    b2.run(T * second)
    return collect({"mon": mon, "layer": layer, "syn": syn, "mode": "bridge"})


def test_magic_network_collects_the_bridge():
    assert_same(run_engine("nonlinear-pair"), magic_run())


def test_subgroups_as_source_and_target():
    """Rows and columns taken from larger groups: the same as the full-size network."""
    ref = run_brian2("nonlinear-pair", "bridge")
    exc_all, ns = lif_group("big", n=N_OUT + 3)
    exc = exc_all[2:2 + N_OUT]
    inh = inhibition(exc, ns, "sub")
    steps, chans = input_events()
    spikes = np.zeros((int(round(T / DT)), N_IN + 5))
    spikes[steps, chans + 5] = 1.0
    stim = b2.TimedArray(spikes, dt=DT * second)
    inp_all = NeuronGroup(N_IN + 5, "", threshold="stim(t, i) > 0.5",
                          namespace={"stim": stim}, dt=DT * second)
    layer = make_layer(NONLINEAR, "single", (0.2, 0.9))
    syn = CrossbarSynapses(inp_all[5:], exc, layer, "ge", stdp=PAIR)
    mon = SpikeMonitor(exc)
    b2.Network(exc_all, inh, inp_all, syn, mon).run(T * second)
    assert_same(ref, collect({"mon": mon, "layer": layer, "syn": syn, "mode": "bridge"}))


def test_standalone_devices_are_refused_with_a_pointer_to_the_export(tmp_path):
    inp = SpikeGeneratorGroup(2, [0], [1] * ms, dt=DT * second)
    grp = NeuronGroup(3, "ge : 1", threshold="ge > 1", dt=DT * second)
    layer = CrossbarLayer(2, 3, NONLINEAR, np.random.default_rng(0))
    syn = CrossbarSynapses(inp, grp, layer)            # built in runtime mode ...
    with brian_device("cpp_standalone", directory=str(tmp_path / "sa"), build_on_run=False):
        with pytest.raises(StandaloneDeviceError, match="to_brian2_synapses") as info:
            CrossbarSynapses(inp, grp, layer)
        assert "cpp_standalone" in str(info.value) and "silently skip" in str(info.value)
        with pytest.raises(StandaloneDeviceError):     # ... refused when a run starts
            syn.before_run({})
        with pytest.raises(StandaloneDeviceError):
            CrossbarStateMonitor(syn)
    assert isinstance(b2.get_device(), RuntimeDevice)


# ---------------------------------------------------------------------------------------------
# What the export refuses
# ---------------------------------------------------------------------------------------------
def test_export_refuses_what_it_cannot_express():
    inp = SpikeGeneratorGroup(2, [0], [1] * ms, dt=DT * second)
    grp = NeuronGroup(3, "ge : 1", threshold="ge > 1", dt=DT * second)
    rng = np.random.default_rng(0)
    for device, words in ((NONLINEAR.with_updates(ctoc_sigma=0.02), "cycle-to-cycle"),
                          (NONLINEAR.with_updates(continuous=False), "discrete levels"),
                          (NONLINEAR.with_updates(read_noise_sigma=0.01), "read noise")):
        layer = CrossbarLayer(2, 3, device, rng)
        with pytest.raises(ConfigError, match=f"{words}.*allow_random=True"):
            to_brian2_synapses(layer, inp, grp)
        assert export_limitations(layer, allow_random=True) == []
        to_brian2_synapses(layer, inp, grp, allow_random=True)   # accepted on request
    layer = CrossbarLayer(2, 3, NONLINEAR, rng)
    layer.device = load_device("hp_tio2_strukov2008").params
    with pytest.raises(ConfigError, match="physics"):
        to_brian2_synapses(layer, inp, grp)
    from neuromem.crossbar import Crossbar
    with pytest.raises(ConfigError, match="IR drop"):
        to_brian2_synapses(object.__new__(Crossbar), inp, grp)
    fast = NeuronGroup(3, "ge : 1", threshold="ge > 1", dt=0.1 * ms)
    with pytest.raises(ConfigError, match="different time steps"):
        to_brian2_synapses(CrossbarLayer(2, 3, NONLINEAR, rng), inp, fast)


# ---------------------------------------------------------------------------------------------
# With device noise: the same statistics
# ---------------------------------------------------------------------------------------------
ALPHA = 1e-3   # per KS test; each test is seeded, so this is its false-alarm rate over seeds
N_CELLS = 20000
NOISE_CARD = NONLINEAR.with_updates(ctoc_sigma=0.03, continuous=False)


@njit(cache=True)
def _engine_updates(dws, g_pos, g_neg, p_max, continuous, sigma, dmin, dmax, altp, altd, fault,
                    events, rng):
    for dw in dws:
        for c in range(g_pos.shape[0]):
            ke.apply_weight_change(c, dw, g_pos, g_neg, False, p_max, continuous, sigma, dmin,
                                   dmax, altp, altd, fault, dmin, dmax, altp, altd, fault,
                                   False, events, rng)


def _bridge_updates(dws, g_pos, g_neg, fpk, ipk, dmin, dmax, altp, altd, fault, events, state):
    cells = np.arange(g_pos.shape[0])
    for dw in dws:
        kb.apply_weight_changes(cells.size, cells, np.full(cells.size, dw), g_pos, g_neg, fpk,
                                ipk, dmin, dmax, altp, altd, fault, dmin, dmax, altp, altd,
                                fault, events, state)


def kernel_final_g(which, sigma_scale=1.0, seed=0):
    """Final conductances of N_CELLS independent cells after the same 40 weight changes,
    through the engine's (numpy Generator) or the bridge's (counter-based) kernel."""
    layer = CrossbarLayer(1, N_CELLS, NOISE_CARD, np.random.default_rng(0), w_max=1.0)
    layer.set_weights(np.full((1, N_CELLS), 0.4))
    p = layer.pos
    cells = (p.g_min, p.g_max, p.a_ltp, p.a_ltd, p.fault)
    p_max, sigma = float(NOISE_CARD.p_max), NOISE_CARD.ctoc_sigma * sigma_scale
    dws = np.random.default_rng(99).choice([0.03, -0.02, 0.012, -0.007], size=40)
    events = np.zeros(ke.N_EVENTS, dtype=np.int64)
    if which == "engine":
        _engine_updates(dws, p.g, np.zeros(1), p_max, False, sigma, *cells, events,
                        np.random.default_rng(seed))
    else:
        fpk = np.zeros(kb.N_FPK)
        fpk[kb.F_P_MAX], fpk[kb.F_CTOC_SIGMA] = p_max, sigma
        ipk = np.zeros(kb.N_IPK, dtype=np.int64)
        state = np.array([12345 + seed, 0, 1], dtype=np.int64)
        _bridge_updates(dws, p.g, np.zeros(1), fpk, ipk, *cells, events, state)
    return p.g.copy()


def test_bridge_noise_kernel_matches_engine_in_distribution():
    engine = kernel_final_g("engine")
    bridge = kernel_final_g("bridge")
    assert engine.std() > 0.02 * NOISE_CARD.g_max_S      # noise and rounding did something
    assert stats.ks_2samp(engine, bridge).pvalue > ALPHA
    # negative control: 15 % more C2C noise is visible to the same test
    assert stats.ks_2samp(engine, kernel_final_g("bridge", sigma_scale=1.15)).pvalue < ALPHA


def forced_post_network(mode, seed, sigma_scale=1.0):
    """Learning with device noise where spikes do not depend on weights: every input spikes
    at the same steps and every output neuron fires on a fixed schedule, so all
    N_CELLS synapses are independent draws of the same noisy trajectory."""
    n_in, n_out = 100, N_CELLS // 100
    dev = NOISE_CARD.with_updates(ctoc_sigma=NOISE_CARD.ctoc_sigma * sigma_scale)
    layer = CrossbarLayer(n_in, n_out, dev, np.random.default_rng(0), w_max=1.0)
    layer.set_weights(np.full((n_in, n_out), 0.4))
    steps = np.random.default_rng(5).choice(400, size=40, replace=False)
    times = np.repeat(np.sort(steps), n_in) * DT * second
    inp = SpikeGeneratorGroup(n_in, np.tile(np.arange(n_in), steps.size), times,
                              dt=DT * second)
    post = NeuronGroup(n_out, "ge : 1", threshold="t_in_timesteps % 23 == 7", dt=DT * second)
    if mode == "bridge":
        syn = CrossbarSynapses(inp, post, layer, stdp=PAIR, seed=seed)
    else:
        syn = to_brian2_synapses(layer, inp, post, PAIR, allow_random=True)
        b2.seed(seed)
    b2.Network(inp, post, syn).run(400 * DT * second)
    if mode == "export":
        copy_conductances(syn, layer)
    return layer.pos.g.copy()


def test_export_noise_matches_bridge_in_distribution():
    bridge = forced_post_network("bridge", seed=1)
    export = forced_post_network("export", seed=2)
    assert bridge.std() > 0.02 * NOISE_CARD.g_max_S
    assert stats.ks_2samp(bridge, export).pvalue > ALPHA
    assert abs(bridge.mean() - export.mean()) < 4 * math.hypot(bridge.std(), export.std()) \
        / math.sqrt(N_CELLS)
    louder = forced_post_network("export", seed=3, sigma_scale=1.15)
    assert stats.ks_2samp(bridge, louder).pvalue < ALPHA


# ---------------------------------------------------------------------------------------------
# The benchmark script, with tiny settings
# ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_bridge_benchmark_tiny_run_writes_results_and_agrees(tmp_path):
    """numpy target (no cython compilation); ideal card: the bridge is the native network."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bridge_vs_brian2.py"
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(script), "--sizes", "20", "--samples", "2",
                           "--repeats", "2", "--impls", "bridge_numpy,native_numpy",
                           "--json", str(out)], capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    data = json.loads(out.read_text())
    assert {"rows", "speedup_bridge_vs_native", "agreement", "goals", "machine"} <= set(data)
    rows = {r["impl"]: r for r in data["rows"]}
    assert set(rows) == {"bridge_numpy", "native_numpy"}
    for r in rows.values():
        assert r["n_exc"] == 20 and r["wall_s"] > 0 and r["exc_spikes"] > 0
    a = data["agreement"]["20"]["bridge_numpy_vs_native_numpy"]
    assert a["identical_input_spikes"] == a["identical_exc_spikes"] == a["runs"] == 2
    assert a["max_abs_w_diff_sampled"] < 1e-9
    assert data["speedup_bridge_vs_native"] == {}     # only defined for the cython targets
